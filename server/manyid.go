package server

import (
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"jobwait/store"
)

// DefaultMaxIDs is Config.MaxIDs's default: the most jobs one many-job
// stream or long poll waits for.
const DefaultMaxIDs = 50

// parseIDs reads the ids query parameter of the many-job routes: 1 to max
// comma-separated job ids, each valid, none twice. More than max is
// REQ_001 (checked first, before any id is looked at); a bad id is JOB_002
// naming it.
func parseIDs(s string, max int) ([]string, error) {
	if s == "" {
		return nil, badParam("ids에 기다릴 Job ID를 쉼표로 구분해 적어주세요 (예: ids=a,b,c)")
	}
	if n := strings.Count(s, ",") + 1; n > max {
		return nil, badParam(fmt.Sprintf("ids에는 Job ID를 %d개까지 적을 수 있습니다 (%d개)", max, n))
	}
	ids := strings.Split(s, ",")
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if !store.ValidID(id) {
			return nil, badJobID(id)
		}
		if _, dup := seen[id]; dup {
			return nil, badParam(fmt.Sprintf("ids에 같은 Job ID가 두 번 있습니다: %s", id))
		}
		seen[id] = struct{}{}
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
// (what EventSource sends by itself), else the lastEventId query parameter
// (what a client that must open a new EventSource can still send).
func lastEventID(c *fiber.Ctx) string {
	if id := c.Get("Last-Event-ID"); id != "" {
		return id
	}
	return c.Query("lastEventId")
}

// A many-job stream's event id carries the stream's deadline, the event's
// sequence number, which listed jobs have had their final event, and what
// list that is said of, so that a reconnect to any replica keeps the
// deadline and resends no final event it already got, nor loses one it
// missed, also when the list comes back reordered or changed:
//
//	<deadline unix ms>-<seq>-<mask>-<list>-<check>
//
// and "…-end" on the stream's last event. The mask is hex over the ids in
// sorted order, one digit per four of them, the first digit for the first
// four, the (4k+j)th id as bit j of digit k: at most 13 digits for the
// default 50 jobs; being of the sorted list, it reads the same whatever
// order the list comes back in. list is the CRC-32C of the sorted ids,
// each followed by a comma: a list that is not the same set of ids has
// another, but for one in 2³². check is the CRC-32 (IEEE) of everything
// before it, so that an id cut short or altered is told apart from a
// genuine one (every change confined to 4 bytes in a row is found, so
// every change of one byte).
// Both are 8 lowercase hex digits. The sequence stops at its largest
// value rather than wrap.
//
// maxManyIDBase bounds an id's length but its mask: 19 digits of deadline,
// 20 of sequence, the list and the check, the separators and "-end".
const maxManyIDBase = 63

// listTable is the CRC-32C table of a list's digest.
var listTable = crc32.MakeTable(crc32.Castagnoli)

// jobList is a many-job stream's ids as its event ids see them: their
// sorted order and the digest of that sorted list.
type jobList struct {
	sorted []int  // the list positions of the ids, in the ids' sorted order
	digest uint32 // CRC-32C of the sorted ids, each followed by ','
}

// newJobList is ids as its event ids see them; ids are distinct.
func newJobList(ids []string) jobList {
	l := jobList{sorted: make([]int, len(ids))}
	for i := range l.sorted {
		l.sorted[i] = i
	}
	slices.SortFunc(l.sorted, func(a, b int) int { return strings.Compare(ids[a], ids[b]) })
	var sorted []byte
	for _, i := range l.sorted {
		sorted = append(append(sorted, ids[i]...), ',')
	}
	l.digest = crc32.Checksum(sorted, listTable)
	return l
}

// appendManyEventID appends the id of event seq of a stream of list ending
// at deadline, with the jobs marked in ended (in list order) ended.
func appendManyEventID(b []byte, deadline time.Time, seq uint64, list jobList, ended []bool, final bool) []byte {
	start := len(b)
	b = strconv.AppendInt(b, deadline.UnixMilli(), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, '-')
	for k := 0; k < len(list.sorted); k += 4 {
		var d byte
		for j := 0; j < 4 && k+j < len(list.sorted); j++ {
			if ended[list.sorted[k+j]] {
				d |= 1 << j
			}
		}
		b = append(b, hexDigits[d])
	}
	b = append(b, '-')
	b = appendHex32(b, list.digest)
	check := crc32.ChecksumIEEE(b[start:])
	b = append(b, '-')
	b = appendHex32(b, check)
	if final {
		b = append(b, finalSuffix...)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendHex32 appends v as 8 lowercase hex digits.
func appendHex32(b []byte, v uint32) []byte {
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[v>>shift&0xf])
	}
	return b
}

// nextSeq is the sequence number after seq: one more, but at the largest
// there is, that again, so that a resume from it never reads a wrapped 0.
func nextSeq(seq uint64) uint64 {
	if seq == math.MaxUint64 {
		return seq
	}
	return seq + 1
}

// manyResume is what a Last-Event-ID says about the many-job stream it
// continues, whatever list it comes back with.
type manyResume struct {
	deadline time.Time
	seq      uint64
	mask     string // the jobs ended, in the sorted order of the id's list
	list     uint32 // the digest of the id's list
	final    bool   // the last event ended the stream
}

// parseManyEventID reads a Last-Event-ID of a many-job stream of at most
// maxIDs jobs. ok is false for an absent id, one of another form (a
// one-job stream's), or one whose check fails: the stream then starts
// afresh. An id that is read is one appendManyEventID writes, byte for
// byte.
func parseManyEventID(s string, maxIDs int) (r manyResume, ok bool) {
	if s == "" || len(s) > maxManyIDBase+(maxIDs+3)/4 {
		return manyResume{}, false
	}
	s, r.final = strings.CutSuffix(s, finalSuffix)
	i := strings.LastIndexByte(s, '-')
	if i < 0 || s[i+1:] != string(appendHex32(nil, crc32.ChecksumIEEE([]byte(s[:i])))) {
		return manyResume{}, false
	}
	f := strings.Split(s[:i], "-")
	if len(f) != 4 || !isDecimal(f[0]) || !isDecimal(f[1]) || !isHex(f[2]) || len(f[2]) > (maxIDs+3)/4 ||
		len(f[3]) != 8 || !isHex(f[3]) {
		return manyResume{}, false
	}
	ms, err1 := strconv.ParseInt(f[0], 10, 64)
	seq, err2 := strconv.ParseUint(f[1], 10, 64)
	list, err3 := strconv.ParseUint(f[3], 16, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return manyResume{}, false
	}
	return manyResume{deadline: time.UnixMilli(ms), seq: seq, mask: f[2], list: uint32(list), final: r.final}, true
}

// isDecimal reports whether s is a number as strconv writes it: digits,
// no leading zero.
func isDecimal(s string) bool {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isHex reports whether s is lowercase hex digits, at least one.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return s != ""
}

// ended is which jobs of the list (in list order) r proves ended. proved
// is true only if r was written for this very set of ids, in any order;
// otherwise no job is marked, and every job's state is to be sent again.
func (l jobList) ended(r manyResume) (ended []bool, proved bool) {
	n := len(l.sorted)
	ended = make([]bool, n)
	if r.list != l.digest || len(r.mask) != (n+3)/4 {
		return ended, false
	}
	for k := 0; k < len(r.mask); k++ {
		d, _ := strconv.ParseUint(r.mask[k:k+1], 16, 8)
		for j := 0; j < 4; j++ {
			if d&(1<<j) == 0 {
				continue
			}
			if 4*k+j >= n { // a bit past the list: not written for it
				return make([]bool, n), false
			}
			ended[l.sorted[4*k+j]] = true
		}
	}
	return ended, true
}
