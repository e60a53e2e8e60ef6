package sse

import (
	"bufio"
	"bytes"
	"cmp"
	"io"
	"strconv"
	"strings"
	"time"
)

// Event is one dispatched event.
type Event struct {
	ID   string // the last event ID in force when it was dispatched
	Type string // "message" when the event named none
	Data string
}

// Block is what a stream sent up to a blank line, as sent and as
// interpreted; one without data dispatches no event.
type Block struct {
	Lines    []string // without their line ends
	ID       string   // the block's own id: field, "" without one
	LastID   string   // the last event ID in force after the block
	Type     string   // the event: field, "" without one
	Data     string   // the data: lines joined by "\n"
	HasData  bool     // whether any data: line came, even an empty one
	Retry    string   // the last retry: field as sent, "" without one
	Comments []string // comment lines without the ':' and one leading space
}

// Comment reports whether the block holds nothing but comments (a keepalive).
func (b Block) Comment() bool { return len(b.Comments) == len(b.Lines) }

// Event is the event the block dispatches; ok is false without data.
func (b Block) Event() (ev Event, ok bool) {
	if !b.HasData {
		return Event{}, false
	}
	return Event{ID: b.LastID, Type: cmp.Or(b.Type, "message"), Data: b.Data}, true
}

// Reader reads blocks and events from a stream.
type Reader struct {
	br       *bufio.Reader
	started  bool // the first line was read: no byte order mark after it
	skipLF   bool // the last line ended in CR: a LF next belongs to it
	line     []byte
	lastID   string
	retry    time.Duration
	comments int
}

// NewReader returns a Reader of r, buffering it unless r is a
// *bufio.Reader already. A nil r is given later with Reset.
func NewReader(r io.Reader) *Reader { return &Reader{br: buffered(r)} }

// Reset reads a new stream from rd, keeping the last event ID and the
// retry delay, as EventSource does when it reconnects.
func (r *Reader) Reset(rd io.Reader) {
	r.br, r.started, r.skipLF = buffered(rd), false, false
}

func buffered(r io.Reader) *bufio.Reader {
	if br, ok := r.(*bufio.Reader); ok || r == nil {
		return br
	}
	return bufio.NewReader(r)
}

// LastID is the last event ID in force: a reconnection's Last-Event-ID.
func (r *Reader) LastID() string { return r.lastID }

// Retry is the reconnection delay: the last valid retry: field, or SetRetry's.
func (r *Reader) Retry() time.Duration { return r.retry }

// SetRetry sets the reconnection delay until the stream sends one.
func (r *Reader) SetRetry(d time.Duration) { r.retry = d }

// Comments counts the comment lines read.
func (r *Reader) Comments() int { return r.comments }

// Next reads blocks until one dispatches an event; its errors are Block's.
func (r *Reader) Next() (Event, error) {
	for {
		b, err := r.Block()
		if err != nil {
			return Event{}, err
		}
		if ev, ok := b.Event(); ok {
			return ev, nil
		}
	}
}

// Block reads the next block, skipping blank lines between blocks: io.EOF
// when the stream ended between blocks, io.ErrUnexpectedEOF inside one.
func (r *Reader) Block() (Block, error) {
	var b Block
	var data strings.Builder
	for {
		s, err := r.readLine()
		if err != nil {
			if err == io.EOF && len(b.Lines) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return Block{}, err
		}
		if s == "" {
			if len(b.Lines) == 0 {
				continue
			}
			b.Data, b.LastID = data.String(), r.lastID
			return b, nil
		}
		b.Lines = append(b.Lines, s)
		if c, ok := strings.CutPrefix(s, ":"); ok {
			r.comments++
			b.Comments = append(b.Comments, strings.TrimPrefix(c, " "))
			continue
		}
		field, value, _ := strings.Cut(s, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			b.Type = value
		case "data":
			if b.HasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			b.HasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				b.ID, r.lastID = value, value
			}
		case "retry":
			b.Retry = value
			if value != "" && strings.Trim(value, "0123456789") == "" {
				if ms, err := strconv.ParseInt(value, 10, 64); err == nil {
					r.retry = time.Duration(ms) * time.Millisecond
				}
			}
		}
	}
}

// readLine reads one line without its end. A lone CR ends a line without
// waiting for the next byte: a LF after it is dropped when it comes. A
// line cut off by the end of the stream is io.ErrUnexpectedEOF.
func (r *Reader) readLine() (string, error) {
	r.line = r.line[:0]
	for {
		buf, err := r.br.Peek(max(1, r.br.Buffered()))
		if len(buf) == 0 {
			if err == io.EOF && len(r.line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		if r.skipLF {
			r.skipLF = false
			if buf[0] == '\n' {
				r.br.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		if i < 0 {
			r.line = append(r.line, buf...)
			r.br.Discard(len(buf))
			continue
		}
		r.line = append(r.line, buf[:i]...)
		r.skipLF = buf[i] == '\r'
		r.br.Discard(i + 1)
		line := r.line
		if !r.started {
			r.started = true
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		return string(line), nil
	}
}
