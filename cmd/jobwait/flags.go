package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// kind is what a setting's value is, as -h names it after the flag, in Go's
// way ("-wait-budget duration"); a boolean takes no value.
type kind string

const (
	kindString   kind = "string"
	kindDuration kind = "duration" // a Go duration (30s) or whole seconds (30)
	kindInt      kind = "int"
	kindFloat    kind = "float"
	kindBool     kind = "" // -demo is -demo=true; off is -demo=false
)

// value is a setting's flag. It holds the text given, from the flag, else
// the environment, else the default: parser reads and checks it after
// parsing, so that a bad value gets the same message naming the setting
// whichever way it came.
type value struct {
	text string
	setting
}

func (v *value) String() string {
	if v == nil { // flag may ask a zero value
		return ""
	}
	return v.text
}

func (v *value) Set(s string) error { v.text = s; return nil }

// IsBoolFlag lets a boolean setting stand alone on the command line.
func (v *value) IsBoolFlag() bool { return v.kind == kindBool }

// newFlagSet declares every setting's flag, with the environment's value
// as its default when set, and -healthcheck and -version into cfg. It
// prints nothing: jobwait prints -h's usage and every error itself, once.
func newFlagSet(getenv func(string) string, cfg *Config) (*flag.FlagSet, map[string]*value) {
	fs := flag.NewFlagSet("jobwait", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	vals := make(map[string]*value, len(settings))
	for _, s := range settings {
		v := &value{text: s.def, setting: s}
		if e := getenv(s.env); e != "" {
			v.text = e
		}
		vals[s.flag] = v
		fs.Var(v, s.flag, s.usage+" (env "+s.env+")")
	}
	fs.BoolVar(&cfg.HealthCheck, "healthcheck", false, "GET /healthz on the listen address and exit 0 if it answers 200")
	fs.BoolVar(&cfg.Version, "version", false, "print the version, the VCS revision and the Go release that built jobwait, and exit")
	return fs, vals
}

// usageError is a command line jobwait cannot read: an unknown flag, a
// flag without its value, a stray argument. main exits 2 for it, as Go's
// flag package does, and 1 for a bad value or a failed start.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// parseArgs parses the command line into fs; -h is flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case err != nil:
		return usageError{err}
	case fs.NArg() > 0:
		return usageError{stray(fs, args)}
	}
	return nil
}

// stray is the error of arguments left after the flags. After a boolean
// flag it names the likely slip, "-demo false" for "-demo=false": a
// boolean flag takes no separate value.
func stray(fs *flag.FlagSet, args []string) error {
	err := fmt.Errorf("unexpected arguments: %q", fs.Args())
	if i := len(args) - fs.NArg() - 1; i >= 0 && strings.HasPrefix(args[i], "-") {
		name := strings.TrimLeft(args[i], "-")
		if f := fs.Lookup(name); f != nil && isBool(f) {
			return fmt.Errorf("%w: -%s takes its value after =, as in -%s=%s", err, name, name, fs.Arg(0))
		}
	}
	return err
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// usageHead opens -h's answer.
const usageHead = `Usage: jobwait [flags]

jobwait answers clients waiting for a background job's result: a short
poll, a long poll and server-sent events, woken by Redis keyspace
notifications. Every setting is a flag and an environment variable; the
flag wins. A duration is a Go duration (30s) or whole seconds (30).

Flags:
`

// writeUsage writes -h's answer: every flag as flag.PrintDefaults writes
// it, but with the kind of each setting, which PrintDefaults would call
// "value" for all of them.
func writeUsage(w io.Writer, getenv func(string) string) {
	fs, _ := newFlagSet(getenv, new(Config))
	fmt.Fprint(w, usageHead)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		v, isSetting := f.Value.(*value)
		if isSetting {
			name = string(v.kind)
		}
		fmt.Fprintf(w, "  %s\n    \t%s", strings.TrimSpace("-"+f.Name+" "+name), usage)
		switch {
		case !isSetting || f.DefValue == "":
		case v.kind == kindString:
			fmt.Fprintf(w, " (default %q)", redacted(f.DefValue))
		default:
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// redacted is a default as -h shows it: the environment's REDIS_URL may
// hold a password, which a help text must not repeat.
func redacted(def string) string {
	if u, err := url.Parse(def); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return def
}
