package web

import "embed"

// Files is the page and its assets at the root of the FS, and the client
// package under client/.
//
//go:embed index.html app.js history.js style.css client/jobwait.js client/jobwait.d.ts client/package.json
var Files embed.FS
