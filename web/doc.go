// Package web holds the jobwait page and the JavaScript client package,
// embedded into the binary so that jobwait serves them without files on
// disk.
//
// client/ is the npm package @jobwait/client: jobwait.js, an ES module
// (wait, waitMany, isTerminal) that runs in browsers and in Node 20+, its
// TypeScript declarations jobwait.d.ts and package.json. The page is
// index.html (served at /), app.js (its logic) and history.js (the list of
// this browser's analyses), both modules that import the client, and
// style.css. The page needs GET /api/info besides the job endpoints of
// SPEC.md.
package web
