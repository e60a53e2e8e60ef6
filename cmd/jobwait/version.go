package main

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"

	"jobwait/server"
)

// version and revision name a release build, set by the linker (-ldflags
// "-X main.version=v1.4.0 -X main.revision=..."). Unset, they are read from
// what go build stamped, which it does only in a git checkout: Docker's
// build context has no .git, so the Dockerfile takes them as arguments.
var version, revision string

// buildOf is what a binary says of itself: the linker's version and
// revision, else those of info (nil when none); "(devel)" and "unknown"
// when neither says.
func buildOf(info *debug.BuildInfo, version, revision string) server.Build {
	if info != nil {
		version = cmp.Or(version, info.Main.Version)
		revision = cmp.Or(revision, vcsRevision(info.Settings))
	}
	return server.Build{
		Version:   cmp.Or(version, "(devel)"),
		Revision:  cmp.Or(revision, "unknown"),
		GoVersion: runtime.Version(),
	}
}

// vcsRevision is the revision go build stamped, "-modified" when the
// checkout had uncommitted changes (as Prometheus's own builds say it).
func vcsRevision(settings []debug.BuildSetting) string {
	vcs := map[string]string{}
	for _, s := range settings {
		vcs[s.Key] = s.Value
	}
	if rev := vcs["vcs.revision"]; rev != "" && vcs["vcs.modified"] == "true" {
		return rev + "-modified"
	}
	return vcs["vcs.revision"]
}

// currentBuild is the running binary's build.
func currentBuild() server.Build {
	info, _ := debug.ReadBuildInfo()
	return buildOf(info, version, revision)
}

// versionText is -version's answer.
func versionText(b server.Build) string {
	return fmt.Sprintf("jobwait %s, revision %s, %s %s/%s", b.Version, b.Revision, b.GoVersion, runtime.GOOS, runtime.GOARCH)
}
