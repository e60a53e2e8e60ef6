package server

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"jobwait/web"
)

// page serves the web page at / and its assets, with the client package
// under /client/, from the binary.
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

// assetTypes are the content types of the assets whose extension fiber
// labels wrongly or not at all, by the end of their name. A .d.ts is
// served as text/plain: fiber would say video/mp2t (the .ts of MPEG
// transport streams); application/typescript, which no registry lists,
// makes browsers download it instead of showing it, while text/plain shows
// it, and tools that fetch declarations by URL (Deno) read a text/plain
// answer by its .d.ts name. Modules are text/javascript (RFC 9239).
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
