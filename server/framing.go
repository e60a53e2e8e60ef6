package server

import (
	"bytes"

	"github.com/gofiber/fiber/v2"
)

// errAmbiguousLength is REQ_004 for a request whose body could be framed
// two ways.
var errAmbiguousLength = &Error{Status: fiber.StatusBadRequest, Code: "REQ_004",
	Message: "요청 본문의 길이를 두 가지로 읽을 수 있습니다 (Content-Length, Transfer-Encoding)"}

// oneFraming refuses a request whose body could be framed two ways (RFC
// 9112 §6.3): by Content-Length and by Transfer-Encoding, or by two
// Content-Length lines that differ. A proxy in front of jobwait may have
// taken its end where fasthttp did not (fasthttp goes by
// Transfer-Encoding, and by the last Content-Length), and what it took for
// a body be served here as a request of its own (request smuggling). It is
// answered REQ_004 and its connection closed after the answer, as the RFC
// requires, so that nothing the client sent behind it is read.
func oneFraming(c *fiber.Ctx) error {
	if !framedTwice(c.Request().Header.RawHeaders()) {
		return c.Next()
	}
	c.Context().SetConnectionClose()
	return errAmbiguousLength
}

// framedTwice reports whether raw (a request's header lines as received)
// frames a body two ways: a Content-Length and a Transfer-Encoding line, or
// Content-Length lines that differ (the same value repeated is one length).
func framedTwice(raw []byte) bool {
	var length []byte
	var lengths, coding bool
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		name, value = bytes.TrimSpace(name), bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte(fiber.HeaderTransferEncoding)):
			coding = true
		case !bytes.EqualFold(name, []byte(fiber.HeaderContentLength)):
		case length == nil:
			length = value
		case !bytes.Equal(length, value):
			lengths = true
		}
	}
	return lengths || (coding && length != nil)
}
