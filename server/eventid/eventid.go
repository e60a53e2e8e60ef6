package eventid

import (
	"hash/crc32"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// finalSuffix ends the id of a stream's last event.
const finalSuffix = "-end"

// MaxLen bounds what Parse looks at, and what Append writes.
const MaxLen = 64

// Append appends the id of event seq of a one-job stream ending at
// deadline: "<deadline unix ms>-<seq>", and "-end" when final.
func Append(b []byte, deadline time.Time, seq uint64, final bool) []byte {
	return appendEnd(appendHead(b, deadline, seq), final)
}

func appendHead(b []byte, deadline time.Time, seq uint64) []byte {
	b = strconv.AppendInt(b, deadline.UnixMilli(), 10)
	return strconv.AppendUint(append(b, '-'), seq, 10)
}

func appendEnd(b []byte, final bool) []byte {
	if final {
		return append(b, finalSuffix...)
	}
	return b
}

// Resume is what a Last-Event-ID says about the stream it continues.
type Resume struct {
	Deadline time.Time // the original stream's deadline
	Seq      uint64    // the last event's sequence number
	Final    bool      // the last event ended the stream
}

// Parse reads a one-job stream's Last-Event-ID. ok is false for an absent
// or malformed id: the stream then starts afresh.
func Parse(s string) (r Resume, ok bool) {
	if len(s) > MaxLen {
		return Resume{}, false
	}
	s, final := strings.CutSuffix(s, finalSuffix)
	ms, seq, _ := strings.Cut(s, "-")
	m, err1 := strconv.ParseInt(ms, 10, 64)
	n, err2 := strconv.ParseUint(seq, 10, 64)
	// n == MaxUint64: no next event's sequence would follow it.
	if err1 != nil || err2 != nil || m < 0 || n == math.MaxUint64 {
		return Resume{}, false
	}
	return Resume{Deadline: time.UnixMilli(m), Seq: n, Final: final}, true
}

// Deadline is when a stream opened at now ends: one budget from now, or
// the original stream's deadline (prev, when resumed) if that comes first,
// so that no id, genuine or forged, buys more than one budget.
func Deadline(prev time.Time, resumed bool, now time.Time, budget time.Duration) time.Time {
	if d := now.Add(budget); !resumed || d.Before(prev) {
		return d
	}
	return prev
}

// NextSeq is the sequence number after seq, staying at the largest there
// is, so that a resume from it never reads a wrapped 0.
func NextSeq(seq uint64) uint64 {
	if seq < math.MaxUint64 {
		seq++
	}
	return seq
}

// A many-job stream's id, <deadline ms>-<seq>-<mask>-<list>-<check>[-end]
// (docs/api.md#event-ids), also says which listed jobs have had their
// final event, and of what list. The mask is hex over the ids in sorted
// order, the (4k+j)th id as bit j of digit k, so that it reads the same
// whatever order the list comes back in. list, the CRC-32C of the sorted
// ids each followed by a comma, tells another set of ids apart but for one
// in 2³²; check, the CRC-32 (IEEE) of everything before it, an id cut
// short or altered (every change confined to 4 bytes in a row is found).
//
// maxManyBase bounds an id's length but its mask: 19 digits of deadline,
// 20 of sequence, the list and the check, the separators and "-end".
const maxManyBase = 63

const hexDigits = "0123456789abcdef"

var listTable = crc32.MakeTable(crc32.Castagnoli)

// List is a many-job stream's ids as its event ids see them: their
// sorted order and the digest of that sorted list.
type List struct {
	sorted []int  // the list positions of the ids, in the ids' sorted order
	digest uint32 // CRC-32C of the sorted ids, each followed by ','
}

// NewList is ids as its event ids see them; ids are distinct.
func NewList(ids []string) List {
	sorted := make([]int, len(ids))
	for i := range sorted {
		sorted[i] = i
	}
	slices.SortFunc(sorted, func(a, b int) int { return strings.Compare(ids[a], ids[b]) })
	var text []byte
	for _, i := range sorted {
		text = append(append(text, ids[i]...), ',')
	}
	return List{sorted: sorted, digest: crc32.Checksum(text, listTable)}
}

// AppendMany appends the id of event seq of a stream of list ending
// at deadline, with the jobs marked in ended (in list order) ended.
func AppendMany(b []byte, deadline time.Time, seq uint64, list List, ended []bool, final bool) []byte {
	start := len(b)
	b = append(appendHead(b, deadline, seq), '-')
	for k := 0; k < len(list.sorted); k += 4 {
		var d byte
		for j, i := range list.sorted[k:min(k+4, len(list.sorted))] {
			if ended[i] {
				d |= 1 << j
			}
		}
		b = append(b, hexDigits[d])
	}
	return appendTail(b, start, list.digest, final)
}

// appendTail appends an id's list, its check of the id from start on, and
// its end.
func appendTail(b []byte, start int, list uint32, final bool) []byte {
	b = appendHex32(append(b, '-'), list)
	b = appendHex32(append(b, '-'), crc32.ChecksumIEEE(b[start:]))
	return appendEnd(b, final)
}

// appendHex32 appends v as 8 lowercase hex digits.
func appendHex32(b []byte, v uint32) []byte {
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[v>>shift&0xf])
	}
	return b
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

// ParseMany reads a Last-Event-ID of a many-job stream of at most maxIDs
// jobs. ok is false for an absent id, one of another form (a one-job
// stream's), or one whose check fails: the stream then starts afresh. An
// id that is read is one AppendMany writes, byte for byte.
func ParseMany(s string, maxIDs int) (r ManyResume, ok bool) {
	maxMask := (maxIDs + 3) / 4
	if s == "" || len(s) > maxManyBase+maxMask {
		return ManyResume{}, false
	}
	base, final := strings.CutSuffix(s, finalSuffix)
	f := strings.Split(base, "-")
	if len(f) != 5 || f[2] == "" || len(f[2]) > maxMask || strings.Trim(f[2], hexDigits) != "" {
		return ManyResume{}, false
	}
	ms, err1 := strconv.ParseInt(f[0], 10, 64)
	seq, err2 := strconv.ParseUint(f[1], 10, 64)
	list, err3 := strconv.ParseUint(f[3], 16, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return ManyResume{}, false
	}
	r = ManyResume{Deadline: time.UnixMilli(ms), Seq: seq, Final: final, mask: f[2], list: uint32(list)}
	// Written again, it must be s: no sign, leading zero or upper case, and its check holds.
	b := append(append(appendHead(nil, r.Deadline, seq), '-'), f[2]...)
	if string(appendTail(b, 0, r.list, final)) != s {
		return ManyResume{}, false
	}
	return r, true
}

// Ended is which jobs of the list (in list order) r proves ended. proved
// is true only if r was written for this very set of ids, in any order;
// otherwise no job is marked, and every job's state is to be sent again.
func (l List) Ended(r ManyResume) (ended []bool, proved bool) {
	n := len(l.sorted)
	ended = make([]bool, n)
	if r.list != l.digest || len(r.mask) != (n+3)/4 {
		return ended, false
	}
	for p := range 4 * len(r.mask) {
		if strings.IndexByte(hexDigits, r.mask[p/4])&(1<<(p%4)) == 0 {
			continue
		}
		if p >= n { // a bit past the list: not written for it
			return make([]bool, n), false
		}
		ended[l.sorted[p]] = true
	}
	return ended, true
}
