package waiter

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// answer is the part of a status body (SPEC.md §3) a waiter looks at.
type answer struct {
	Status          string            `json:"status"`
	TimedOut        bool              `json:"timedOut"`
	Recommendations []json.RawMessage `json:"recommendations"`
	Code            string            `json:"code"`
}

// judge reads a status answer: done says the wait is over, with its kind or
// error.
func judge(code int, body []byte) (a answer, done bool, kind Kind, err error) {
	if jerr := json.Unmarshal(body, &a); jerr != nil {
		return a, true, Errored, fmt.Errorf("http %d: unreadable body", code)
	}
	if code != http.StatusOK {
		return a, true, Errored, fmt.Errorf("http %d %s", code, a.Code)
	}
	switch a.Status {
	case "COMPLETED":
		if len(a.Recommendations) == 0 {
			return a, true, Errored, fmt.Errorf("COMPLETED without recommendations")
		}
		return a, true, Delivered, nil
	case "FAILED":
		return a, true, Failed, nil
	case "PENDING", "PROCESSING":
		return a, false, "", nil
	}
	return a, true, Errored, fmt.Errorf("status %.20q", a.Status)
}

// errKind shortens an error to something countable: the addresses and
// ports, which differ per connection, are cut.
func errKind(err error) string {
	s := err.Error()
	for _, cut := range []string{"dial tcp ", "read tcp ", "write tcp "} {
		if i := strings.Index(s, cut); i >= 0 {
			if j := strings.LastIndex(s, ": "); j > i {
				s = s[:i] + strings.TrimSpace(cut) + s[j:]
			}
		}
	}
	return s
}
