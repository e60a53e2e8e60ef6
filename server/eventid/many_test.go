package eventid

import (
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// manyID is the id of event seq of a many-job stream of ids ending at
// deadline, the jobs named in ended ended.
func manyID(deadline time.Time, seq uint64, ids []string, final bool, ended ...string) string {
	marks := make([]bool, len(ids))
	for i, id := range ids {
		marks[i] = slices.Contains(ended, id)
	}
	return string(AppendMany(nil, deadline, seq, NewList(ids), marks, final))
}

// withCheck is text with its check appended, as a genuine id has it.
func withCheck(text string) string {
	return fmt.Sprintf("%s-%08x", text, crc32.ChecksumIEEE([]byte(text)))
}

// TestManyEventIDFormat pins the format README and the OpenAPI file
// document, computed here from its definition.
func TestManyEventIDFormat(t *testing.T) {
	deadline := time.UnixMilli(1700000000000)
	list := fmt.Sprintf("%08x", crc32.Checksum([]byte("a,b,c,"), crc32.MakeTable(crc32.Castagnoli)))
	tests := []struct {
		ids   []string
		ended []string
		final bool
		mask  string
	}{
		{[]string{"a", "b", "c"}, nil, false, "0"},
		{[]string{"b", "a", "c"}, []string{"b"}, false, "2"}, // b is second in sorted order, whatever the list's
		{[]string{"c", "b", "a"}, []string{"a", "c"}, false, "5"},
		{[]string{"c", "a", "b"}, []string{"a", "b", "c"}, true, "7"},
	}
	for _, tt := range tests {
		want := withCheck("1700000000000-3-" + tt.mask + "-" + list)
		if tt.final {
			want += "-end"
		}
		assert.Equal(t, want, manyID(deadline, 3, tt.ids, tt.final, tt.ended...), "manyID(%v, ended %v)", tt.ids, tt.ended)
	}
	// The OpenAPI file's example, and README's length.
	doc := time.UnixMilli(1796000000000)
	assert.Equal(t, "1796000000000-1-0-ab1594c6-3d2ecdd8", manyID(doc, 1, []string{"a", "gone"}, false))
	assert.Equal(t, "1796000000000-2-2-ab1594c6-4e45cf15", manyID(doc, 2, []string{"a", "gone"}, false, "gone"))
	assert.Equal(t, "1796000000000-3-3-ab1594c6-3a22e844-end", manyID(doc, 3, []string{"a", "gone"}, true, "a", "gone"))
	assert.Len(t, manyID(doc, 9, []string{"a", "b", "c"}, false), 35)

	// Bit j of digit k is the (4k+j)th id in sorted order.
	ids := []string{"j0", "j1", "j2", "j3", "j4", "j5", "j6", "j7", "j8"}
	r, ok := ParseMany(manyID(deadline, 1, ids, false, "j0", "j1", "j2", "j3", "j7", "j8"), 50)
	require.True(t, ok)
	assert.Equal(t, "f81", r.mask)

	// Fifty jobs, the default cap, the largest sequence: a bounded id.
	all := make([]string, 50)
	for i := range all {
		all[i] = fmt.Sprintf("job-%02d", i)
	}
	id := manyID(time.UnixMilli(math.MaxInt64), math.MaxUint64, all, true, all...)
	assert.Len(t, id, maxManyBase+13, "id %q", id)
	_, ok = ParseMany(id, 50)
	assert.True(t, ok, "ParseMany(%q)", id)
	_, ok = ParseMany(id, 49)
	assert.True(t, ok, "a list shorter than the id's still reads its deadline (%q)", id)
	_, ok = ParseMany(id, 40)
	assert.False(t, ok, "past the longest list there is (%q)", id)
}

func TestManyEventIDRoundTrip(t *testing.T) {
	deadline := time.UnixMilli(1700000000000)
	tests := []struct {
		ids   []string
		ended []string
		final bool
	}{
		{[]string{"a"}, nil, false},
		{[]string{"a"}, []string{"a"}, true},
		{[]string{"z", "y", "x", "w", "v"}, []string{"y", "v"}, false},
		{[]string{"job-9", "job-10", "job-1", "JOB-1", "job_1", "a-b", "a_b", "ab"}, []string{"job-10", "JOB-1", "a_b"}, false},
	}
	for _, tt := range tests {
		id := manyID(deadline, 7, tt.ids, tt.final, tt.ended...)
		r, ok := ParseMany(id, 50)
		require.True(t, ok, "ParseMany(%q)", id)
		assert.Equal(t, deadline, r.Deadline, "ParseMany(%q)", id)
		assert.Equal(t, uint64(7), r.Seq, "ParseMany(%q)", id)
		assert.Equal(t, tt.final, r.Final, "ParseMany(%q)", id)
		list := NewList(tt.ids)
		ended, proved := list.Ended(r)
		assert.True(t, proved, "%q for its own list %v", id, tt.ids)
		for i, j := range tt.ids {
			assert.Equal(t, slices.Contains(tt.ended, j), ended[i], "%q: job %s ended", id, j)
		}
		assert.Equal(t, id, string(AppendMany(nil, r.Deadline, r.Seq, list, ended, r.Final)), "reads back as written")
	}
}

// TestManyEventIDForAnotherList: an id proves which jobs ended only for
// the set of ids it was written for, in whatever order they come back;
// for any other list it proves nothing, so every job is sent again.
func TestManyEventIDForAnotherList(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	tests := []struct {
		name  string
		list  []string
		ended []string // what the id proves ended, if it proves anything
	}{
		{"the same list", []string{"a", "b", "c", "d", "e"}, []string{"a", "c"}},
		{"reordered", []string{"e", "c", "a", "b", "d"}, []string{"a", "c"}},
		{"sorted backwards", []string{"e", "d", "c", "b", "a"}, []string{"a", "c"}},
		{"one added", []string{"a", "b", "c", "d", "e", "f"}, nil},
		{"one added, reordered", []string{"f", "e", "d", "c", "b", "a"}, nil},
		{"a running one removed", []string{"a", "b", "c", "d"}, nil},
		{"an ended one removed", []string{"b", "c", "d", "e"}, nil},
		{"one replaced", []string{"a", "b", "c", "d", "x"}, nil},
		{"an id changed in one byte", []string{"a", "b", "c", "d", "f"}, nil},
		{"another list", []string{"x", "y"}, nil},
		{"one of them", []string{"a"}, nil},
		{"eight", []string{"a", "b", "c", "d", "e", "f", "g", "h"}, nil},
	}
	for _, final := range []bool{false, true} {
		proves := []string{"a", "c"}
		if final {
			proves = ids
		}
		id := manyID(time.UnixMilli(1700000000000), 4, ids, final, proves...)
		r, ok := ParseMany(id, 50)
		require.True(t, ok)
		for _, tt := range tests {
			ended, proved := NewList(tt.list).Ended(r)
			require.Len(t, ended, len(tt.list), tt.name)
			assert.Equal(t, tt.ended != nil, proved, "%s: %q proves for %v", tt.name, id, tt.list)
			for i, j := range tt.list {
				assert.Equal(t, proved && slices.Contains(proves, j), ended[i], "%s: %q: job %s ended", tt.name, id, j)
			}
		}
	}
}

func TestParseManyEventID(t *testing.T) {
	list := fmt.Sprintf("%08x", NewList([]string{"a", "b", "c"}).digest)
	good := "1700000000000-1-5-" + list
	tests := []struct {
		in string
		ok bool
	}{
		{withCheck(good), true},
		{withCheck(good) + "-end", true},
		{withCheck("0-0-0-" + list), true},
		{withCheck("1700000000000-18446744073709551615-5-" + list), true}, // the largest sequence
		{withCheck("1700000000000-1-5-00000000"), true},                   // another list's: read, proves nothing
		{withCheck("1700000000000-1-0123456789abc-" + list), true},        // a longer list's
		{"", false},                                                                   // none
		{"1700000000000-1", false},                                                    // a one-job stream's id
		{"1700000000000-1-end", false},                                                // a one-job stream's last
		{"1700000000000-1-5", false},                                                  // without its list and check
		{"1700000000000-1-7-end", false},                                              // idem, said to be the last
		{good, false},                                                                 // no check
		{good + "-00000000", false},                                                   // a wrong check
		{strings.ToUpper(withCheck(good)), false},                                     // upper case
		{withCheck(good)[:len(withCheck(good))-1], false},                             // cut short
		{withCheck(good) + "0", false},                                                // one digit more
		{withCheck(good) + "-en", false},                                              // a cut suffix
		{withCheck(good) + "-end-end", false},                                         // twice
		{withCheck("1700000000000-1-5-" + strings.ToUpper(list)), false},              // upper-case list
		{withCheck("1700000000000-1-5-" + list[1:]), false},                           // a short list
		{withCheck("01700000000000-1-5-" + list), false},                              // a leading zero
		{withCheck("+1700000000000-1-5-" + list), false},                              // a sign
		{withCheck("1700000000000-01-5-" + list), false},                              // a leading zero
		{withCheck("1700000000000-18446744073709551616-5-" + list), false},            // past the largest sequence
		{withCheck("9223372036854775808-1-5-" + list), false},                         // past the largest deadline
		{withCheck("1700000000000-1--" + list), false},                                // no mask
		{withCheck("1700000000000-1-5g-" + list), false},                              // not hex
		{withCheck("1700000000000-1-5-" + list + "-" + list), false},                  // a field too many
		{withCheck("1700000000000-5-" + list), false},                                 // a field too few
		{withCheck("-1-5-" + list), false},                                            // no deadline
		{withCheck("1700000000000-1-" + strings.Repeat("0", 14) + "-" + list), false}, // a mask past the longest list
	}
	for _, tt := range tests {
		r, ok := ParseMany(tt.in, 50)
		assert.Equal(t, tt.ok, ok, "ParseMany(%q) ok", tt.in)
		if !ok {
			assert.Equal(t, ManyResume{}, r, "ParseMany(%q)", tt.in)
		}
	}
}

// TestManyEventIDDamaged: an id cut short anywhere, or changed in any one
// byte, is never read, so it proves nothing and buys no deadline: the
// stream starts afresh. The one cut that reads is the one dropping "-end",
// which proves what the whole id proves.
func TestManyEventIDDamaged(t *testing.T) {
	ids := make([]string, 50)
	for i := range ids {
		ids[i] = fmt.Sprintf("job-%d", i)
	}
	id := manyID(time.UnixMilli(1700000000000), 42, ids, true, ids...)
	for n := 0; n < len(id); n++ {
		r, ok := ParseMany(id[:n], 50)
		if n == len(id)-len(finalSuffix) {
			whole, _ := ParseMany(id, 50)
			whole.Final = false
			assert.Equal(t, whole, r, "%q without -end", id[:n])
			continue
		}
		assert.False(t, ok, "ParseMany(%q): cut at %d", id[:n], n)
	}
	for i := 0; i < len(id); i++ {
		for _, c := range []byte("019aefgzA-_ +%\x00\xff") {
			if c == id[i] {
				continue
			}
			bad := id[:i] + string(c) + id[i+1:]
			_, ok := ParseMany(bad, 50)
			assert.False(t, ok, "ParseMany(%q): byte %d changed", bad, i)
		}
	}
}

func TestNextSeq(t *testing.T) {
	for _, tt := range []struct{ in, want uint64 }{
		{0, 1}, {41, 42}, {math.MaxUint64 - 1, math.MaxUint64}, {math.MaxUint64, math.MaxUint64},
	} {
		assert.Equal(t, tt.want, NextSeq(tt.in), "NextSeq(%d)", tt.in)
	}
}
