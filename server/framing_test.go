package server

import "testing"

func TestFramedTwice(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{"Host: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		{"Host: x\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n", true},
		{"Host: x\r\nCONTENT-LENGTH: 0\r\nTransfer-Encoding: identity\r\n\r\n", true},
		{"Host: x\r\nContent-Length: 5\r\n\r\n", false},
		{"Host: x\r\nTransfer-Encoding: chunked\r\n\r\n", false},
		{"Host: x\r\nX-Note: Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", false},
		{"Host: x\r\nX-Content-Length: 5\r\nTransfer-Encoding: chunked", false},
		{"Host: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n", true},
		{"Host: x\r\ncontent-length: 5\r\nContent-Length:5\r\n\r\n", false},
		{"Host: x\r\nContent-Length: 5\r\nX-A: 1\r\nContent-Length: 5 \r\n\r\n", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := framedTwice([]byte(tt.raw)); got != tt.want {
			t.Errorf("framedTwice(%q) = %v; want %v", tt.raw, got, tt.want)
		}
	}
}
