// Package npmtest installs the pinned npm packages that tests run (the
// TypeScript compiler, the OpenAPI linters, an EventSource for Node) into
// the user's cache, once per machine, so that `make test` needs only npm.
//
// Each set of packages gets its own directory, named for the packages and
// their versions, so a changed pin installs anew and never mixes with the
// old one. An install is made in a temporary directory beside it and
// renamed into place, so that a test interrupted mid-install, or two test
// processes installing at once, never leave a half-installed directory
// that looks complete. A test that cannot install fails with npm's output;
// it skips only under -short (see redistest.SkipIfShort).
package npmtest
