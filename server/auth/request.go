package auth

import (
	"errors"
	"net/url"
	"strings"
)

// QueryParam is the query parameter that carries a token where a header
// cannot be set (EventSource).
const QueryParam = "access_token"

// Extract returns the token a request carries: from its Authorization
// header's value when it has one (the header wins), else from the values
// of its access_token query parameter. No token is "" and no error. An
// Authorization that is not "Bearer <token>", an empty access_token, or
// more than one access_token is malformed (AUTH_001): a request that
// meant to send a token is not served as one that sent none.
func Extract(authorization string, accessTokens []string) (string, error) {
	if authorization != "" {
		scheme, token, ok := strings.Cut(authorization, " ")
		token = strings.TrimLeft(token, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !b64token(token) {
			return "", refuse(ReasonMalformed, errors.New("authorization is not Bearer <token>"))
		}
		return token, nil
	}
	switch {
	case len(accessTokens) == 0:
		return "", nil
	case len(accessTokens) > 1:
		return "", refuse(ReasonMalformed, errors.New("more than one access_token"))
	case accessTokens[0] == "":
		return "", refuse(ReasonMalformed, errors.New("empty access_token"))
	}
	return accessTokens[0], nil
}

// b64token reports whether s is RFC 6750's b64token: 1*( ALPHA / DIGIT /
// "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func b64token(s string) bool {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
	body := strings.TrimRight(s, "=")
	return body != "" && strings.Trim(body, chars) == ""
}

// Redacted is what Redact writes in place of a token.
const Redacted = "REDACTED"

// Redact returns a request URI, a full URL (a Referer) or a bare query
// with the value of every access_token parameter replaced by REDACTED, for
// logs. The name is compared as a server would read it: percent-decoded and
// in any case (over-redacting costs nothing); parameters are split at &,
// ; and # (a fragment may carry one too). A string with no token is
// returned as it is, without a copy.
func Redact(uri string) string {
	q := strings.IndexByte(uri, '?')
	if q < 0 && (strings.HasPrefix(uri, "/") || strings.Contains(uri, "://")) {
		// A path alone, or a URL without a query: a fragment may still
		// carry a token.
		q = strings.IndexByte(uri, '#')
	}
	var b strings.Builder // written to only once a token is found
	copied := 0           // uri[:copied] is in b
	for start, end := q+1, q+1; end <= len(uri); end++ {
		if end < len(uri) && strings.IndexByte("&;#", uri[end]) < 0 {
			continue
		}
		if name, _, hasValue := strings.Cut(uri[start:end], "="); hasValue && isTokenParam(name) {
			b.WriteString(uri[copied:start])
			b.WriteString(name + "=" + Redacted)
			copied = end
		}
		start = end + 1
	}
	if copied == 0 {
		return uri
	}
	b.WriteString(uri[copied:])
	return b.String()
}

func isTokenParam(name string) bool {
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	return strings.EqualFold(strings.TrimSpace(name), QueryParam)
}
