package store

// Fuzz tests of everything in store that reads outside input: job ids from
// clients, job records and results from whatever a producer wrote to Redis.
// Their seed corpora run in the normal suite; run one for real with
//
//	go test -run XXX -fuzz '^FuzzDecodeJob$' -fuzztime 60s ./store
//
// (or `make fuzz`, which runs each). A crash is kept under testdata/fuzz.

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var idSpec = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// maxErrText bounds a decoding error's text: it is logged, and a huge
// value must not make a huge log line.
const maxErrText = 512

func FuzzValidID(f *testing.F) {
	for _, s := range []string{
		"", "a", "7f0c2e", "job-1_A", strings.Repeat("a", 64), strings.Repeat("a", 65),
		"a:b", "*", "job:*", "a b", "a\x00", "a\n", "ü", "..", "a/b", "%2A", "[a-z]", "a?",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		ok := ValidID(id)
		if want := idSpec.MatchString(id); ok != want {
			t.Fatalf("ValidID(%q) = %v; want %v", id, ok, want)
		}
		if !ok {
			return
		}
		// A valid id names its own keys and nothing else, and reads back.
		for _, key := range []string{JobKey(id), ErrorKey(id)} {
			if strings.ContainsAny(key, "*?[]\\ \r\n") {
				t.Fatalf("key %q of id %q holds a glob or separator", key, id)
			}
			if got, ok := IDFromKey(key); !ok || got != id {
				t.Fatalf("IDFromKey(%q) = %q, %v; want %q, true", key, got, ok, id)
			}
		}
	})
}

func FuzzIDFromKey(f *testing.F) {
	for _, s := range []string{"job:a", "job:a:error", "job:", "job::error", "ai:recommendation:a", "job:a:b", "job:a:error:error", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		id, ok := IDFromKey(key)
		if ok && (!ValidID(id) || (key != JobKey(id) && key != ErrorKey(id))) {
			t.Fatalf("IDFromKey(%q) = %q, true; want a valid id whose key it is", key, id)
		}
	})
}

func FuzzDecodeJob(f *testing.F) {
	for _, s := range []string{
		`{"jobId":"j","status":"PENDING","eventDraftId":"d","type":"AI_RECOMMENDATION","createdAt":"2026-11-23T10:00:00Z","updatedAt":"2026-11-23T10:00:03Z"}`,
		`{"status":"COMPLETED","eventDraftId":"d"}`,
		`{"status":"FAILED"}`,
		`{"status":"DONE"}`,
		`{"status":"processing"}`,
		`{"status":42}`,
		`{"status":null}`,
		`{"status":["PENDING"]}`,
		`{"status":"PENDING","eventDraftId":{"a":1}}`,
		`{"status":"PENDING","status":"BOGUS"}`,
		`{}`, `null`, `[]`, `"PENDING"`, `PENDING`, ``, `{`, `{"status":"PENDING"} trailing`,
		`{"status":"` + strings.Repeat("X", 1<<16) + `"}`,
		`{"status":"PENDING","eventDraftId":"` + strings.Repeat("d", 1<<16) + `"}`,
		`{"status":"PENDING\u0000"}`,
		"\xff\xfe{\"status\":\"PENDING\"}",
	} {
		f.Add("job-1", []byte(s))
	}
	f.Fuzz(func(t *testing.T, id string, data []byte) {
		j, err := decodeJob(id, data)
		checkDecoded(t, id, j, err)
	})
}

func FuzzDecodeHash(f *testing.F) {
	f.Add("PENDING", "d", "j", "AI_RECOMMENDATION", "", true, true)
	f.Add(`"COMPLETED"`, `"d"`, `"j"`, `"AI_RECOMMENDATION"`, "com.example.Job", true, true)
	f.Add("COMPLETED", "", "", "", "", false, true)
	f.Add("", "d", "j", "", "", true, false)
	f.Add(`"`, `"`, `""`, `"\"`, `\u0000`, true, true)
	f.Add(`"\u0050ENDING"`, "d", "j", "", "", true, true)
	f.Add("BOGUS", "d", "j", "", "", true, true)
	f.Add(strings.Repeat("P", 1<<16), "d", "j", "", "", true, true)
	f.Fuzz(func(t *testing.T, status, draft, jobID, typ, class string, withDraft, withStatus bool) {
		h := map[string]string{"jobId": jobID, "type": typ, "_class": class}
		if withStatus {
			h["status"] = status
		}
		if withDraft {
			h["eventDraftId"] = draft
		}
		j, err := decodeHash("job-1", h)
		checkDecoded(t, "job-1", j, err)
		if !withStatus && err == nil {
			t.Fatalf("decodeHash without a status = %+v; want ErrCorrupt", j)
		}
	})
}

// checkDecoded holds for every decoded job record: either a job in one of
// the four states named by the id it was read under, or ErrCorrupt with a
// bounded message.
func checkDecoded(t *testing.T, id string, j Job, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decode error %v; want ErrCorrupt", err)
		}
		if n := len(err.Error()); n > maxErrText+len(id) {
			t.Fatalf("decode error is %d bytes long; want at most %d", n, maxErrText+len(id))
		}
		if j != (Job{}) {
			t.Fatalf("decode error with a job %+v", j)
		}
		return
	}
	if !j.Status.Valid() {
		t.Fatalf("decoded status %q; want one of the four", j.Status)
	}
	if j.JobID != id {
		t.Fatalf("decoded jobId %q; want %q (the id it was read under)", j.JobID, id)
	}
}

func FuzzDecodeResult(f *testing.F) {
	for _, s := range []string{
		`{"eventDraftId":"d","trendAnalysis":{"summary":"s","keywords":["k"]},"recommendations":[{"title":"t","prize":"p","method":"m","cost":"c","roi":"r"}]}`,
		`{"recommendations":[]}`,
		`{"recommendations":null}`,
		`{"trendAnalysis":{}}`,
		`{"trendAnalysis":"just text","recommendations":[]}`,
		`{"trendAnalysis":12,"recommendations":[{}]}`,
		`{"trendAnalysis":null,"recommendations":[{"title":1}]}`,
		`{"recommendations":{"title":"t"}}`,
		`{"recommendations":[null,null]}`,
		`{"recommendations":"many"}`,
		`[]`, `null`, `""`, ``, `{`, `{"recommendations":[]}]`,
		`{"trendAnalysis":{"summary":"` + strings.Repeat("요", 1<<15) + `"},"recommendations":[]}`,
		`{"trendAnalysis":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `,"recommendations":[]}`,
		"{\"trendAnalysis\":\"\xff\",\"recommendations\":[]}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeResult("job-1", data)
		if err != nil {
			if !errors.Is(err, ErrNoResult) {
				t.Fatalf("decodeResult error %v; want ErrNoResult", err)
			}
			if n := len(err.Error()); n > maxErrText {
				t.Fatalf("decodeResult error is %d bytes long; want at most %d", n, maxErrText)
			}
			if r != nil {
				t.Fatalf("decodeResult error with a result %+v", r)
			}
			return
		}
		if r.Recommendations == nil {
			t.Fatal("decodeResult succeeded without recommendations")
		}
		if !json.Valid(r.TrendAnalysis) || string(r.TrendAnalysis) == "null" {
			t.Fatalf("decodeResult trendAnalysis %.80q; want a JSON value", r.TrendAnalysis)
		}
		// What is decoded is encoded again for every answer: that must work.
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("re-encoding a decoded result: %v", err)
		}
		if !utf8.Valid(out) {
			t.Fatalf("re-encoded result is not UTF-8: %.80q", out)
		}
	})
}

// TestDecodeResultShapes pins README's rule for what a readable
// recommendation is: an object with a recommendations list, empty or not.
func TestDecodeResultShapes(t *testing.T) {
	for data, want := range map[string]int{
		`{"recommendations":[]}`:            0,
		`{"recommendations":[{}]}`:          1,
		`{"recommendations":[{"title":1}]}`: -1,
		`{"recommendations":null}`:          -1,
		`{}`:                                -1,
		`[]`:                                -1,
		`""`:                                -1,
	} {
		r, err := decodeResult("job-1", []byte(data))
		if want < 0 {
			if !errors.Is(err, ErrNoResult) {
				t.Errorf("%s: error %v; want ErrNoResult", data, err)
			}
			continue
		}
		if err != nil || r.Recommendations == nil || len(r.Recommendations) != want {
			t.Errorf("%s: %+v, %v; want %d recommendations", data, r, err, want)
		}
	}
}
