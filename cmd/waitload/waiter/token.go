package waiter

import (
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TokenTTL is a minted wait token's lifetime, as docs/auth.md recommends.
const TokenTTL = 5 * time.Minute

// Token mints the wait token of jobs as the Event Service does when it
// starts a job (docs/auth.md): HS256 with the secret jobwait shares
// (JOBWAIT_AUTH_SECRET), audience jobwait, the jobs, good for TokenTTL.
func Token(secret []byte, jobs ...string) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{"aud": []string{"jobwait"}, "iat": now.Unix(), "exp": now.Add(TokenTTL).Unix(), "jobs": jobs}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
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
