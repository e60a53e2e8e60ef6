package server

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"jobwait/web"
)

// page serves the web page at / and its assets, from the binary. Text is
// labelled UTF-8, so a copied jobwait.js keeps its Korean strings whatever
// the including page's encoding.
func (s *Server) page(a *fiber.App) {
	a.Use("/", utf8Text, filesystem.New(filesystem.Config{
		Root:   http.FS(web.Files),
		Index:  "index.html",
		MaxAge: 60,
	}))
}

// utf8Text adds charset=utf-8 to text answers that lack a charset.
func utf8Text(c *fiber.Ctx) error {
	err := c.Next()
	ct := string(c.Response().Header.ContentType())
	if strings.HasPrefix(ct, "text/") && !strings.Contains(ct, "charset") {
		c.Response().Header.SetContentType(ct + "; charset=utf-8")
	}
	return err
}
