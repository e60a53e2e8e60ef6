// Package web holds the jobwait page and its client script, embedded into
// the binary so that jobwait serves them without files on disk.
//
// Files has, at its root: index.html (the page, served at /), jobwait.js
// (the reusable waiting client: window.jobwait.wait and waitMany) with its
// TypeScript declarations jobwait.d.ts, app.js (the page's logic),
// history.js (the list of this browser's analyses) and style.css. The page needs GET /api/info besides the job
// endpoints of SPEC.md.
package web

import "embed"

// Files is the page and its assets, each at the root of the FS.
//
//go:embed index.html jobwait.js jobwait.d.ts app.js history.js style.css
var Files embed.FS
