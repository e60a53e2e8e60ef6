// Package authtest is the test kit of wait tokens: signing keys, tokens
// minted with go-jose (another library than the verifier's golang-jwt, so
// that a shared misreading of the standards cannot pass unseen), hand-made
// tokens for what no library will sign (alg none, broken encodings), and a
// JSON Web Key Set served over real HTTP on loopback whose keys, failures
// and pace a test controls.
package authtest
