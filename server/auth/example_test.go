package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"jobwait/server/auth"
)

// WaitClaims is the payload of a wait token.
type WaitClaims struct {
	jwt.RegisteredClaims
	Jobs []string `json:"jobs"` // the job ids the bearer may wait for
}

// NewWaitClaims is what the Event Service puts in a token when it starts a
// job: that job, for jobwait, good for ttl.
func NewWaitClaims(jobID string, now time.Time, ttl time.Duration) WaitClaims {
	return WaitClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "event-service",
			Audience:  jwt.ClaimStrings{"jobwait"},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Jobs: []string{jobID},
	}
}

// MintWaitToken signs claims with the secret shared with jobwait (HS256).
func MintWaitToken(secret []byte, claims WaitClaims) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// The Event Service mints a token for the job it started; jobwait, set
// with the same secret (JOBWAIT_AUTH=required, JOBWAIT_AUTH_SECRET), lets
// it wait for that job until the token expires, and for no other job.
func Example() {
	secret := []byte("a random secret of 32 bytes or more, shared by both")
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	token, err := MintWaitToken(secret, NewWaitClaims("7f0c2a", now, 5*time.Minute))
	if err != nil {
		panic(err)
	}

	v, err := auth.New(context.Background(), auth.Config{Mode: auth.Required, Secret: secret, Issuer: "event-service"})
	if err != nil {
		panic(err)
	}
	grant, err := v.Check(context.Background(), token, []string{"7f0c2a"}, now.Add(time.Minute))
	fmt.Println("job 7f0c2a:", err, "until", grant.Expires.UTC().Format(time.TimeOnly))
	_, err = v.Check(context.Background(), token, []string{"other-job"}, now.Add(time.Minute))
	fmt.Println("job other-job:", errors.Is(err, auth.ErrForbidden))
	_, err = v.Check(context.Background(), token, []string{"7f0c2a"}, now.Add(6*time.Minute))
	fmt.Println("six minutes later:", errors.Is(err, auth.ErrUnauthorized))
	// Output:
	// job 7f0c2a: <nil> until 10:05:00
	// job other-job: true
	// six minutes later: true
}

// MintWaitTokenES256 signs claims with the Event Service's private key
// and names the key by kid, its id in the key set the service publishes.
func MintWaitTokenES256(key *ecdsa.PrivateKey, kid string, claims WaitClaims) (string, error) {
	token := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	token.Header["kid"] = kid
	return token.SignedString(key)
}

// With JOBWAIT_AUTH_JWKS_URL, jobwait fetches the public keys the Event
// Service publishes and checks each token with the key its kid names.
func Example_keySet() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &key.PublicKey, KeyID: "es-2026-11", Algorithm: "ES256", Use: "sig"}}})
	events := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(set) }))
	defer events.Close()

	now := time.Now()
	token, err := MintWaitTokenES256(key, "es-2026-11", NewWaitClaims("7f0c2a", now, 5*time.Minute))
	if err != nil {
		panic(err)
	}
	v, err := auth.New(context.Background(), auth.Config{Mode: auth.Required, JWKSURL: events.URL + "/.well-known/jwks.json"})
	if err != nil {
		panic(err)
	}
	_, err = v.Check(context.Background(), token, []string{"7f0c2a"}, now)
	fmt.Println("job 7f0c2a:", err, "keys:", v.Health().Keys)
	// Output:
	// job 7f0c2a: <nil> keys: 1
}
