package server

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"jobwait/store"
)

// What a wait is read from, each checked before anything else is done:
// its length (parseWait), its jobs (parseIDs), where it resumes (lastEventID).

// maxWaitText bounds the wait parameter's length: nothing longer is a
// sensible duration, and parsing stays cheap.
const maxWaitText = 32

// wellFormed matches what parseWait accepts but for its size: whole
// seconds, or a non-negative Go duration of any number of parts. One that
// does not parse is past int64, and so past the budget: it is the budget.
var wellFormed = regexp.MustCompile(`^[0-9]+$|^\+?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

var errBadWait = badParam("wait는 초 단위 정수(예: 30) 또는 기간(예: 15s)이어야 합니다")

// parseWait reads the wait query parameter: whole seconds ("30") or a Go
// duration ("15s", "1m"). Absent or zero is a short poll (0); more than the
// budget, however far, is the budget; anything else (negative, fractional
// seconds without a unit, garbage) is an error.
func parseWait(s string, budget time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if n, nerr := strconv.ParseUint(s, 10, 64); nerr == nil {
		// Clamped before it is multiplied, so that it cannot overflow.
		d, err = time.Duration(min(n, uint64(budget/time.Second)+1))*time.Second, nil
	}
	switch {
	case len(s) > maxWaitText || d < 0 || (err != nil && !wellFormed.MatchString(s)):
		return 0, errBadWait
	case err != nil:
		return budget, nil
	}
	return min(d, budget), nil
}

// parseIDs reads the ids query parameter of the many-job routes: 1 to max
// comma-separated job ids, each valid, none twice. More than max is
// REQ_001, checked before any id is looked at; a bad id is JOB_002.
func parseIDs(s string, max int) ([]string, error) {
	if s == "" {
		return nil, badParam("ids에 기다릴 Job ID를 쉼표로 구분해 적어주세요 (예: ids=a,b,c)")
	}
	if n := strings.Count(s, ",") + 1; n > max {
		return nil, badParam(fmt.Sprintf("ids에는 Job ID를 %d개까지 적을 수 있습니다 (%d개)", max, n))
	}
	ids := strings.Split(s, ",")
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !store.ValidID(id) {
			return nil, badJobID(id)
		}
		if seen[id] {
			return nil, badParam(fmt.Sprintf("ids에 같은 Job ID가 두 번 있습니다: %s", id))
		}
		seen[id] = true
	}
	return ids, nil
}

// badJobID is JOB_002 naming the id (cut to a sensible length, quoted so
// that nothing in it can pass for something else).
func badJobID(id string) *Error {
	if len(id) > store.MaxIDLen {
		id = strings.ToValidUTF8(id[:store.MaxIDLen], "") + "…"
	} else if !utf8.ValidString(id) {
		id = strings.ToValidUTF8(id, "\uFFFD")
	}
	return &Error{Status: ErrBadJobID.Status, Code: ErrBadJobID.Code,
		Message: fmt.Sprintf("잘못된 Job ID입니다: %q: 1~64자의 영문, 숫자, '_', '-'만 쓸 수 있습니다", id)}
}

// lastEventID is the id a stream resumes from: the Last-Event-ID header
// (EventSource's own), else ?lastEventId= (a client opening a new one).
func lastEventID(c *fiber.Ctx) string { return cmp.Or(c.Get("Last-Event-ID"), c.Query("lastEventId")) }
