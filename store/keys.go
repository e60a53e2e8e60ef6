package store

import "strings"

// MaxIDLen is the longest job id jobwait accepts.
const MaxIDLen = 64

const (
	jobPrefix    = "job:"
	errorSuffix  = ":error"
	resultPrefix = "ai:recommendation:"
)

// JobPattern is the glob that matches every job key and job error key.
const JobPattern = jobPrefix + "*"

// ValidID reports whether id is 1 to 64 characters of [A-Za-z0-9_-]: such an
// id can name no key but its own and no pattern.
func ValidID(id string) bool {
	return len(id) > 0 && len(id) <= MaxIDLen && !strings.ContainsFunc(id, func(c rune) bool {
		return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-')
	})
}

// JobKey is the key of a job's record.
func JobKey(id string) string { return jobPrefix + id }

// ErrorKey is the key of a failed job's error message.
func ErrorKey(id string) string { return jobPrefix + id + errorSuffix }

// ResultKey is the key of an event draft's recommendation.
func ResultKey(eventDraftID string) string { return resultPrefix + eventDraftID }

// Keys are the keys of job id that jobwait watches: its record and its
// error message (IDFromKey maps both back to id).
func Keys(id string) []string { return []string{JobKey(id), ErrorKey(id)} }

// IDFromKey returns the job id that a job key or job error key names, and
// false for any other key.
func IDFromKey(key string) (string, bool) {
	id, ok := strings.CutPrefix(key, jobPrefix)
	if !ok {
		return "", false
	}
	id = strings.TrimSuffix(id, errorSuffix)
	return id, ValidID(id)
}
