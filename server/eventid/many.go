package eventid

import (
	"hash/crc32"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

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
// maxManyBase bounds an id's length but its mask (see ManyLen): 19 digits of deadline,
// 20 of sequence, the list and the check, the separators and "-end".
const maxManyBase = 63

// ManyLen bounds the length of a many-job stream's id of n jobs.
func ManyLen(n int) int { return maxManyBase + (n+3)/4 }

// listTable is the CRC-32C table of a list's digest.
var listTable = crc32.MakeTable(crc32.Castagnoli)

// List is a many-job stream's ids as its event ids see them: their
// sorted order and the digest of that sorted list.
type List struct {
	sorted []int  // the list positions of the ids, in the ids' sorted order
	digest uint32 // CRC-32C of the sorted ids, each followed by ','
}

// NewList is ids as its event ids see them; ids are distinct.
func NewList(ids []string) List {
	l := List{sorted: make([]int, len(ids))}
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

// AppendMany appends the id of event seq of a stream of list ending
// at deadline, with the jobs marked in ended (in list order) ended.
func AppendMany(b []byte, deadline time.Time, seq uint64, list List, ended []bool, final bool) []byte {
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

// NextSeq is the sequence number after seq: one more, but at the largest
// there is, that again, so that a resume from it never reads a wrapped 0.
func NextSeq(seq uint64) uint64 {
	if seq == math.MaxUint64 {
		return seq
	}
	return seq + 1
}

// ManyResume is what a Last-Event-ID says about the many-job stream it
// continues, whatever list it comes back with.
type ManyResume struct {
	Deadline time.Time
	Seq      uint64
	Final    bool   // the last event ended the stream
	mask     string // the jobs ended, in the sorted order of the id's list
	list     uint32 // the digest of the id's list
}

// ParseMany reads a Last-Event-ID of a many-job stream of at most
// maxIDs jobs. ok is false for an absent id, one of another form (a
// one-job stream's), or one whose check fails: the stream then starts
// afresh. An id that is read is one AppendMany writes, byte for
// byte.
func ParseMany(s string, maxIDs int) (r ManyResume, ok bool) {
	if s == "" || len(s) > ManyLen(maxIDs) {
		return ManyResume{}, false
	}
	s, r.Final = strings.CutSuffix(s, finalSuffix)
	i := strings.LastIndexByte(s, '-')
	if i < 0 || s[i+1:] != string(appendHex32(nil, crc32.ChecksumIEEE([]byte(s[:i])))) {
		return ManyResume{}, false
	}
	f := strings.Split(s[:i], "-")
	if len(f) != 4 || !isDecimal(f[0]) || !isDecimal(f[1]) || !isHex(f[2]) || len(f[2]) > (maxIDs+3)/4 ||
		len(f[3]) != 8 || !isHex(f[3]) {
		return ManyResume{}, false
	}
	ms, err1 := strconv.ParseInt(f[0], 10, 64)
	seq, err2 := strconv.ParseUint(f[1], 10, 64)
	list, err3 := strconv.ParseUint(f[3], 16, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return ManyResume{}, false
	}
	return ManyResume{Deadline: time.UnixMilli(ms), Seq: seq, mask: f[2], list: uint32(list), Final: r.Final}, true
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
func (l List) Ended(r ManyResume) (ended []bool, proved bool) {
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
