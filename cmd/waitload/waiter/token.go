package waiter

import (
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenTTL is a minted wait token's lifetime, as docs/auth.md recommends.
const TokenTTL = 5 * time.Minute

// waitClaims is a wait token's payload (docs/auth.md).
type waitClaims struct {
	jwt.RegisteredClaims
	Jobs []string `json:"jobs"`
}

// Token mints the wait token of jobs as the Event Service does when it
// starts a job: HS256 with the secret jobwait shares (JOBWAIT_AUTH_SECRET),
// audience jobwait, the jobs, good for TokenTTL from now.
func Token(secret []byte, jobs ...string) (string, error) {
	now := time.Now()
	c := waitClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Audience:  jwt.ClaimStrings{"jobwait"},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(TokenTTL)),
		},
		Jobs: jobs,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// withToken adds the waiter's token to a request as a browser's client
// sends it: in a stream's query (EventSource cannot set a header), else as
// Authorization: Bearer.
func (w *waiter) withToken(path, extra string) (string, string) {
	switch {
	case w.token == "":
		return path, extra
	case strings.Contains(path, "/stream"):
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		return path + sep + "access_token=" + w.token, extra
	}
	return path, extra + "Authorization: Bearer " + w.token + "\r\n"
}
