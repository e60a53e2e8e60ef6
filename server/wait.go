package server

import (
	"regexp"
	"strconv"
	"time"
)

// maxWaitText bounds the wait parameter's length: nothing longer is a
// sensible duration, and parsing stays cheap.
const maxWaitText = 32

// wellFormed matches what parseWait accepts but for its size: whole
// seconds, or a non-negative Go duration of any number of parts. A wait that
// matches but does not parse is too large to parse, and is the budget: every
// well-formed wait past the budget is clamped, however far past.
var wellFormed = regexp.MustCompile(`^[0-9]+$|^\+?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$`)

// parseWait reads the wait query parameter: whole seconds ("30") or a Go
// duration ("15s", "1m"). Absent or zero is a short poll (0); more than the
// budget is the budget; anything else (negative, fractional seconds without a
// unit, garbage) is an error.
func parseWait(s string, budget time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) > maxWaitText {
		return 0, badParam("wait는 초 단위 정수(예: 30) 또는 기간(예: 15s)이어야 합니다")
	}
	var d time.Duration
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		if n > uint64(budget/time.Second)+1 {
			return budget, nil
		}
		d = time.Duration(n) * time.Second
	} else {
		var err error
		d, err = time.ParseDuration(s)
		switch {
		case err != nil && wellFormed.MatchString(s):
			return budget, nil // too many seconds, or a duration past int64
		case err != nil || d < 0:
			return 0, badParam("wait는 초 단위 정수(예: 30) 또는 기간(예: 15s)이어야 합니다")
		}
	}
	return min(d, budget), nil
}
