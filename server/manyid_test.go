package server

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

func TestParseIDs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		code string // the error's code; "" for none
	}{
		{"a", []string{"a"}, ""},
		{"a,b,c", []string{"a", "b", "c"}, ""},
		{"A_1,b-2", []string{"A_1", "b-2"}, ""},
		{"", nil, "REQ_001"},
		{"a,b,c,d,e", nil, "REQ_001"}, // past the cap of 4, however bad the ids
		{"a,,b", nil, "JOB_002"},
		{"a,", nil, "JOB_002"},
		{"a,b:c", nil, "JOB_002"},
		{"a,*", nil, "JOB_002"},
		{"a," + strings.Repeat("x", 65), nil, "JOB_002"},
		{"a,b,a", nil, "REQ_001"},
	}
	for _, tt := range tests {
		got, err := parseIDs(tt.in, 4)
		if tt.code != "" {
			e, ok := err.(*Error)
			if assert.True(t, ok, "parseIDs(%q) = %v; want %s", tt.in, err, tt.code) {
				assert.Equal(t, tt.code, e.Code, "parseIDs(%q) = %v", tt.in, err)
			}
			continue
		}
		assert.NoError(t, err, "parseIDs(%q)", tt.in)
		assert.Equal(t, tt.want, got, "parseIDs(%q)", tt.in)
	}
}

func TestBadJobIDNamesIt(t *testing.T) {
	_, err := parseIDs("ok,b:c", 50)
	assert.Contains(t, err.Error(), `"b:c"`)
	_, err = parseIDs("ok,"+strings.Repeat("y", 500), 50)
	assert.Less(t, len(err.Error()), 300, "a long bad id is cut")
	_, err = parseIDs("ok,\xff\"", 50)
	assert.Contains(t, err.Error(), "\"\uFFFD\\\"\"", "invalid UTF-8 is replaced, quotes escaped")
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
		assert.Equal(t, want, ManyEventID(deadline, 3, tt.ids, tt.final, tt.ended...), "ManyEventID(%v, ended %v)", tt.ids, tt.ended)
	}
	// The OpenAPI file's example, and README's length.
	doc := time.UnixMilli(1796000000000)
	assert.Equal(t, "1796000000000-1-0-ab1594c6-3d2ecdd8", ManyEventID(doc, 1, []string{"a", "gone"}, false))
	assert.Equal(t, "1796000000000-2-2-ab1594c6-4e45cf15", ManyEventID(doc, 2, []string{"a", "gone"}, false, "gone"))
	assert.Equal(t, "1796000000000-3-3-ab1594c6-3a22e844-end", ManyEventID(doc, 3, []string{"a", "gone"}, true, "a", "gone"))
	assert.Len(t, ManyEventID(doc, 9, []string{"a", "b", "c"}, false), 35)

	// Bit j of digit k is the (4k+j)th id in sorted order.
	ids := []string{"j0", "j1", "j2", "j3", "j4", "j5", "j6", "j7", "j8"}
	r, ok := parseManyEventID(ManyEventID(deadline, 1, ids, false, "j0", "j1", "j2", "j3", "j7", "j8"), 50)
	require.True(t, ok)
	assert.Equal(t, "f81", r.mask)

	// Fifty jobs, the default cap, the largest sequence: a bounded id.
	all := make([]string, 50)
	for i := range all {
		all[i] = fmt.Sprintf("job-%02d", i)
	}
	id := ManyEventID(time.UnixMilli(math.MaxInt64), math.MaxUint64, all, true, all...)
	assert.Len(t, id, maxManyIDBase+13, "id %q", id)
	_, ok = parseManyEventID(id, 50)
	assert.True(t, ok, "parseManyEventID(%q)", id)
	_, ok = parseManyEventID(id, 49)
	assert.True(t, ok, "a list shorter than the id's still reads its deadline (%q)", id)
	_, ok = parseManyEventID(id, 40)
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
		id := ManyEventID(deadline, 7, tt.ids, tt.final, tt.ended...)
		r, ok := parseManyEventID(id, 50)
		require.True(t, ok, "parseManyEventID(%q)", id)
		assert.Equal(t, deadline, r.deadline, "parseManyEventID(%q)", id)
		assert.Equal(t, uint64(7), r.seq, "parseManyEventID(%q)", id)
		assert.Equal(t, tt.final, r.final, "parseManyEventID(%q)", id)
		list := newJobList(tt.ids)
		ended, proved := list.ended(r)
		assert.True(t, proved, "%q for its own list %v", id, tt.ids)
		for i, j := range tt.ids {
			assert.Equal(t, slices.Contains(tt.ended, j), ended[i], "%q: job %s ended", id, j)
		}
		assert.Equal(t, id, string(appendManyEventID(nil, r.deadline, r.seq, list, ended, r.final)), "reads back as written")
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
		id := ManyEventID(time.UnixMilli(1700000000000), 4, ids, final, proves...)
		r, ok := parseManyEventID(id, 50)
		require.True(t, ok)
		for _, tt := range tests {
			ended, proved := newJobList(tt.list).ended(r)
			require.Len(t, ended, len(tt.list), tt.name)
			assert.Equal(t, tt.ended != nil, proved, "%s: %q proves for %v", tt.name, id, tt.list)
			for i, j := range tt.list {
				assert.Equal(t, proved && slices.Contains(proves, j), ended[i], "%s: %q: job %s ended", tt.name, id, j)
			}
		}
	}
}

func TestParseManyEventID(t *testing.T) {
	list := fmt.Sprintf("%08x", newJobList([]string{"a", "b", "c"}).digest)
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
		r, ok := parseManyEventID(tt.in, 50)
		assert.Equal(t, tt.ok, ok, "parseManyEventID(%q) ok", tt.in)
		if !ok {
			assert.Equal(t, manyResume{}, r, "parseManyEventID(%q)", tt.in)
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
	id := ManyEventID(time.UnixMilli(1700000000000), 42, ids, true, ids...)
	for n := 0; n < len(id); n++ {
		r, ok := parseManyEventID(id[:n], 50)
		if n == len(id)-len(finalSuffix) {
			whole, _ := parseManyEventID(id, 50)
			whole.final = false
			assert.Equal(t, whole, r, "%q without -end", id[:n])
			continue
		}
		assert.False(t, ok, "parseManyEventID(%q): cut at %d", id[:n], n)
	}
	for i := 0; i < len(id); i++ {
		for _, c := range []byte("019aefgzA-_ +%\x00\xff") {
			if c == id[i] {
				continue
			}
			bad := id[:i] + string(c) + id[i+1:]
			_, ok := parseManyEventID(bad, 50)
			assert.False(t, ok, "parseManyEventID(%q): byte %d changed", bad, i)
		}
	}
}

func TestNextSeq(t *testing.T) {
	for _, tt := range []struct{ in, want uint64 }{
		{0, 1}, {41, 42}, {math.MaxUint64 - 1, math.MaxUint64}, {math.MaxUint64, math.MaxUint64},
	} {
		assert.Equal(t, tt.want, nextSeq(tt.in), "nextSeq(%d)", tt.in)
	}
}
