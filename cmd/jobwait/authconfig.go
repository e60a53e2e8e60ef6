package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"jobwait/server/auth"
)

// secretEnv holds the HS256 secret itself. It is read from the environment
// only, never from a flag: a process's arguments are visible to every user
// of the machine (ps), and a flag's default would be printed by -h.
const secretEnv = "JOBWAIT_AUTH_SECRET"

// maxSecretFile bounds what is read of JOBWAIT_AUTH_SECRET_FILE.
const maxSecretFile = 4 << 10

// authConfig reads the wait token settings (docs/auth.md) and checks that
// they fit together. No message repeats the secret.
func (p *parser) authConfig(getenv func(string) string) auth.Config {
	c := auth.Config{
		Mode:     parse(p, "auth", auth.ParseMode),
		JWKSURL:  p.str("auth-jwks-url"),
		Audience: p.str("auth-audience"),
		Issuer:   p.str("auth-issuer"),
	}
	secret, file := getenv(secretEnv), p.str("auth-secret-file")
	c.Secret = auth.Secret(secret)
	switch {
	case secret != "" && file != "":
		p.errs = append(p.errs, fmt.Errorf("%s and -auth-secret-file (JOBWAIT_AUTH_SECRET_FILE) are both set: set one", secretEnv))
		return c
	case file != "":
		b, err := readSecret(file)
		if err != nil {
			p.fail("auth-secret-file", err)
			return c
		}
		c.Secret = b
	}
	if err := c.Validate(); err != nil {
		if file != "" {
			err = fmt.Errorf("-auth-secret-file (JOBWAIT_AUTH_SECRET_FILE): %w", err)
		}
		p.errs = append(p.errs, err)
	}
	return c
}

// readSecret reads a secret file as Kubernetes and Docker mount them; a
// trailing newline (echo, an editor) is not part of the secret.
func readSecret(path string) (auth.Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	switch {
	case err != nil:
		return nil, err
	case len(b) > maxSecretFile:
		return nil, fmt.Errorf("larger than %d bytes: not a secret file", maxSecretFile)
	}
	if b = bytes.TrimRight(b, "\r\n"); len(b) == 0 {
		return nil, errors.New("the file is empty")
	}
	return auth.Secret(b), nil
}
