package server

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
)

// ParseOrigins reads a comma-separated list of origins allowed to call the
// API from a browser page: each "scheme://host[:port]" (http or https, no
// path), or "*" for any page. The empty string is none: CORS off, and
// browsers keep other sites' pages from reading jobwait's answers.
func ParseOrigins(s string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o == "*" {
			out = append(out, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || strings.Contains(u.Host, "*") || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			return nil, fmt.Errorf("origin %q: want scheme://host[:port], such as https://events.example.com", o)
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out, nil
}

// cors answers preflights and marks answers readable by the pages of
// Config.CORSOrigins; with none configured it adds nothing. Only what a
// waiting page needs is allowed: GET and HEAD (and the demo's POST),
// Last-Event-ID, the wait token's Authorization header, and reading
// Retry-After, Location and WWW-Authenticate. Never credentials: nothing
// jobwait serves depends on cookies, and a wait token is sent by the page's
// script, never by the browser on its own.
func (s *Server) cors(a *fiber.App) {
	if len(s.cfg.CORSOrigins) == 0 {
		return
	}
	cfg := cors.Config{
		AllowMethods:  "GET,HEAD,POST",
		AllowHeaders:  "Authorization,Last-Event-ID,Cache-Control,Content-Type",
		ExposeHeaders: "Retry-After,Location,WWW-Authenticate",
		// Said, not left to the default: no Access-Control-Allow-Credentials.
		AllowCredentials: false,
		MaxAge:           600,
	}
	allowed := make(map[string]bool, len(s.cfg.CORSOrigins))
	for _, o := range s.cfg.CORSOrigins {
		allowed[o] = true
	}
	if allowed["*"] {
		cfg.AllowOrigins = "*"
	} else {
		// Matched here rather than by cors's own list, which panics on a
		// value it cannot read; ParseOrigins has normalised these.
		cfg.AllowOriginsFunc = func(origin string) bool { return allowed[origin] }
	}
	a.Use(cors.New(cfg))
}
