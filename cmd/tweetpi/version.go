package main

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=..."
// (deploy/build.sh does); without it the module version from the build
// info stands in.
var version = "dev"

// appVersion is the version tweetpi reports: -X main.version, else the
// module version go install or a VCS-stamped go build recorded.
func appVersion() string {
	bi, _ := debug.ReadBuildInfo()
	v, _, _ := strings.Cut(strings.TrimPrefix(versionLine(version, bi), "tweetpi "), " ")
	return v
}

// versionLine is what `tweetpi version` prints: the version, then what
// the build info knows of the build: the module version when it differs,
// the VCS commit, its time and whether the tree was modified, and the Go
// release.
//
//	tweetpi 1.4.0 (commit 0123456789ab of 2026-01-02T03:04:05Z, built with go1.26.8)
func versionLine(v string, bi *debug.BuildInfo) string {
	if bi == nil {
		return "tweetpi " + v
	}
	mod := bi.Main.Version
	if mod == "(devel)" {
		mod = ""
	}
	var parts []string
	switch {
	case v == "dev" && mod != "":
		v = mod
	case mod != "" && strings.TrimPrefix(mod, "v") != strings.TrimPrefix(v, "v"):
		parts = append(parts, "module "+mod)
	}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	if rev := set["vcs.revision"]; rev != "" {
		c := "commit " + rev[:min(12, len(rev))]
		if tm := set["vcs.time"]; tm != "" {
			c += " of " + tm
		}
		parts = append(parts, c)
		if set["vcs.modified"] == "true" {
			parts = append(parts, "modified")
		}
	}
	if bi.GoVersion != "" {
		parts = append(parts, "built with "+bi.GoVersion)
	}
	if len(parts) == 0 {
		return "tweetpi " + v
	}
	return fmt.Sprintf("tweetpi %s (%s)", v, strings.Join(parts, ", "))
}

func cmdVersion(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Sprintf("version takes no arguments (got %q)", fs.Arg(0)))
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(e.stdout, versionLine(version, bi))
	return nil
}
