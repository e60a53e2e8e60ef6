package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"jobwait/web"
)

// page serves the web page at / and its assets (the client package under
// /client/) from the binary.
func (s *Server) page(a *fiber.App) {
	a.Use("/", noReferrer, assetType, filesystem.New(filesystem.Config{
		Root:   http.FS(web.Files),
		Index:  "index.html",
		MaxAge: 60,
	}))
}

// noReferrer keeps the page's address out of the Referer of everything it
// loads and links to: a page opened with a wait token in its query
// (/?jobId=X&token=T) must not hand the token on.
func noReferrer(c *fiber.Ctx) error {
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	return c.Next()
}

// assetTypes are the content types of the assets fiber labels wrongly or
// not at all by extension. A .d.ts is text/plain, not fiber's video/mp2t
// nor application/typescript (which browsers download instead of showing;
// Deno reads it by its name). Modules are text/javascript (RFC 9239).
var assetTypes = []struct{ suffix, contentType string }{
	{".d.ts", "text/plain; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
}

// assetType sets the content types of assetTypes and adds charset=utf-8
// to other text answers that lack a charset, so that the client keeps its
// Korean strings whatever the including page's encoding.
func assetType(c *fiber.Ctx) error {
	if err := c.Next(); err != nil || c.Response().StatusCode() != fiber.StatusOK {
		return err // an error's answer is the error handler's
	}
	for _, a := range assetTypes {
		if strings.HasSuffix(c.Path(), a.suffix) {
			c.Response().Header.SetContentType(a.contentType)
			return nil
		}
	}
	ct := string(c.Response().Header.ContentType())
	if strings.HasPrefix(ct, "text/") && !strings.Contains(ct, "charset") {
		c.Response().Header.SetContentType(ct + "; charset=utf-8")
	}
	return nil
}

// ParseOrigins reads a comma-separated list of origins whose browser pages
// may call the API: each "scheme://host[:port]" (http or https, no path),
// or "*" for any. The empty string is none: CORS off.
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
// Config.CORSOrigins, allowing only what a waiting page needs. Never
// credentials: nothing jobwait serves depends on cookies, and a wait token
// is sent by the page's script, never by the browser on its own.
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
	if slices.Contains(s.cfg.CORSOrigins, "*") {
		cfg.AllowOrigins = "*"
	} else {
		// Matched here rather than by cors's own list, which panics on a
		// value it cannot read; ParseOrigins has normalised these.
		cfg.AllowOriginsFunc = func(origin string) bool { return slices.Contains(s.cfg.CORSOrigins, origin) }
	}
	a.Use(cors.New(cfg))
}
