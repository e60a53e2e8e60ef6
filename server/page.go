package server

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"jobwait/web"
)

// page serves the web page at / and its assets, from the binary.
func (s *Server) page(a *fiber.App) {
	a.Use("/", filesystem.New(filesystem.Config{
		Root:   http.FS(web.Files),
		Index:  "index.html",
		MaxAge: 60,
	}))
}
