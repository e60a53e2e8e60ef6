package main

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"

	"jobwait/server"
)

// TestBuildOf: the linker's version and revision win over what go build
// stamped; a revision built from uncommitted changes says so; a binary
// that knows neither says "(devel)" and "unknown", never an empty label.
func TestBuildOf(t *testing.T) {
	stamped := &debug.BuildInfo{
		Main: debug.Module{Path: "jobwait", Version: "v0.0.0-20260101120000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	clean := &debug.BuildInfo{
		Main:     debug.Module{Path: "jobwait", Version: "v1.3.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "89abcdef"}, {Key: "vcs.modified", Value: "false"}},
	}
	unstamped := &debug.BuildInfo{Main: debug.Module{Path: "jobwait", Version: "(devel)"}}
	tests := []struct {
		name              string
		info              *debug.BuildInfo
		version, revision string // the linker's
		want              server.Build
	}{
		{"stamped by go build", stamped, "", "", server.Build{Version: "v0.0.0-20260101120000-0123456789ab+dirty", Revision: "0123456789abcdef0123456789abcdef01234567-modified"}},
		{"a clean checkout", clean, "", "", server.Build{Version: "v1.3.0", Revision: "89abcdef"}},
		{"the linker's win", stamped, "v1.4.0", "fedcba98", server.Build{Version: "v1.4.0", Revision: "fedcba98"}},
		{"the linker's version alone", clean, "v1.4.0", "", server.Build{Version: "v1.4.0", Revision: "89abcdef"}},
		{"outside a checkout", unstamped, "", "", server.Build{Version: "(devel)", Revision: "unknown"}},
		{"no build information", nil, "", "", server.Build{Version: "(devel)", Revision: "unknown"}},
	}
	for _, tt := range tests {
		tt.want.GoVersion = runtime.Version()
		assert.Equal(t, tt.want, buildOf(tt.info, tt.version, tt.revision), tt.name)
	}
}
