package server

import (
	"bytes"

	"github.com/gofiber/fiber/v2"
)

// errAmbiguousLength is REQ_004 for a request that gives both
// Content-Length and Transfer-Encoding.
var errAmbiguousLength = &Error{Status: fiber.StatusBadRequest, Code: "REQ_004",
	Message: "Content-Length와 Transfer-Encoding을 함께 보낼 수 없습니다"}

// oneFraming refuses a request framed two ways, by Content-Length and by
// Transfer-Encoding (RFC 9112 §6.3): a proxy in front of jobwait may have
// taken its end where fasthttp did not (fasthttp goes by
// Transfer-Encoding), and what it took for a body be served here as a
// request of its own (request smuggling). It is answered REQ_004 and its
// connection closed after the answer, as the RFC requires, so that nothing
// the client sent behind it is read.
func oneFraming(c *fiber.Ctx) error {
	if !framedTwice(c.Request().Header.RawHeaders()) {
		return c.Next()
	}
	c.Context().SetConnectionClose()
	return errAmbiguousLength
}

// framedTwice reports whether raw (a request's header lines as received)
// has both a Content-Length and a Transfer-Encoding line.
func framedTwice(raw []byte) bool {
	var length, coding bool
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		name, _, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		length = length || bytes.EqualFold(name, []byte(fiber.HeaderContentLength))
		coding = coding || bytes.EqualFold(name, []byte(fiber.HeaderTransferEncoding))
	}
	return length && coding
}
