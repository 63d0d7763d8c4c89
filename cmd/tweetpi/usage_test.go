package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestUsageErrors: a usage error exits 2 and is said once; a mistyped
// command gets the one meant.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		once string // said exactly once on stderr
	}{
		{[]string{"check", "-x"}, "flag provided but not defined: -x"},
		{[]string{"safe", "-from-state=maybe"}, `invalid boolean value "maybe" for -from-state`},
		{[]string{"chek"}, `unknown command "chek"; did you mean check?`},
		{[]string{"veryfy"}, `did you mean verify?`},
		{[]string{"version", "extra"}, `version takes no arguments`},
		{[]string{"check", "extra"}, `check takes no arguments`},
		{[]string{"run", "config.yaml"}, `run takes no arguments (the configuration is -config FILE)`},
		{[]string{"run", "-log-format", "xml"}, `-log-format "xml": use text or json`},
		{[]string{}, "no command given"},
	} {
		stdout, stderr, code := runCmd(t.Context(), tc.args...)
		if code != exitUsage {
			t.Errorf("tweetpi %s: exit %d, want %d", strings.Join(tc.args, " "), code, exitUsage)
		}
		if n := strings.Count(stdout+stderr, tc.once); n != 1 {
			t.Errorf("tweetpi %s: %q said %d times, want once:\n%s%s", strings.Join(tc.args, " "), tc.once, n, stdout, stderr)
		}
	}
	if _, _, code := runCmd(t.Context(), "check", "-h"); code != 0 {
		t.Errorf("check -h: exit %d, want 0", code)
	}
}

// TestE2EUsageExitStatus: the binary's exit status for a bad flag is 2,
// and the man page says what each status means.
func TestE2EUsageExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	out, err := exec.Command(tweetpiBinary(t), "check", "-nope").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitUsage {
		t.Errorf("check -nope: %v, want exit %d\n%s", err, exitUsage, out)
	}
	if n := strings.Count(string(out), "flag provided but not defined: -nope"); n != 1 {
		t.Errorf("the error is said %d times:\n%s", n, out)
	}
	man, err := os.ReadFile("../../deploy/mkman.sh")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(man), ".SH EXIT STATUS")
	section, _, _ = strings.Cut(section, ".SH ")
	for _, want := range []string{".B 0\n", ".B 1\n", ".B 2\n", ".B 78\n"} {
		if !strings.Contains(section, want) {
			t.Errorf("the man page's EXIT STATUS does not give %q:\n%s", want, section)
		}
	}
	if !strings.Contains(section, "usage") {
		t.Errorf("the man page's EXIT STATUS does not say 2 is a usage error:\n%s", section)
	}
}

// TestVersionLine: version is -ldflags -X main.version when the packaging
// sets it, else the module version from the build info; the commit, its
// time and a modified tree come from the build info's VCS stamp.
func TestVersionLine(t *testing.T) {
	bi := func(mod string, settings ...string) *debug.BuildInfo {
		b := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/tweetpi/tweetpi", Version: mod}}
		for i := 0; i+1 < len(settings); i += 2 {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return b
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		x    string
		bi   *debug.BuildInfo
		want string
	}{
		{"dev", nil, "tweetpi dev"},
		{"dev", bi("(devel)"), "tweetpi dev (built with go1.26.8)"},
		{"dev", bi("v1.4.0"), "tweetpi v1.4.0 (built with go1.26.8)"},
		{"1.4.0", bi("(devel)"), "tweetpi 1.4.0 (built with go1.26.8)"},
		{"1.4.0", bi("v1.4.0"), "tweetpi 1.4.0 (built with go1.26.8)"},
		{"1.4.1", bi("v1.4.0"), "tweetpi 1.4.1 (module v1.4.0, built with go1.26.8)"},
		{"dev", bi("v0.0.0-20260102030405-0123456789ab+dirty", "vcs", "git", "vcs.revision", rev, "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "true"),
			"tweetpi v0.0.0-20260102030405-0123456789ab+dirty (commit 0123456789ab of 2026-01-02T03:04:05Z, modified, built with go1.26.8)"},
		{"1.4.0", bi("(devel)", "vcs.revision", rev, "vcs.modified", "false"), "tweetpi 1.4.0 (commit 0123456789ab, built with go1.26.8)"},
	} {
		if got := versionLine(tc.x, tc.bi); got != tc.want {
			t.Errorf("versionLine(%q, %v):\n got %q\nwant %q", tc.x, tc.bi, got, tc.want)
		}
	}
}

// TestE2EVersion builds the binary the two ways it is built: from a git
// checkout (the commit is stamped) and by deploy/build.sh (-X main.version).
func TestE2EVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	build := func(args ...string) string {
		t.Helper()
		bin := filepath.Join(t.TempDir(), "tweetpi")
		out, err := exec.Command(gobin, append(append([]string{"build", "-o", bin}, args...), ".")...).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		v, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(v))
	}
	if got, want := build("-buildvcs=false", "-ldflags", "-X main.version=9.8.7-test"), "tweetpi 9.8.7-test (built with "+runtime.Version()+")"; got != want {
		t.Errorf("-X main.version: %q, want %q", got, want)
	}
	// go stamps the commit from a checkout whose .git is a directory (not
	// from a worktree's .git file) and when git can read it.
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if fi, serr := os.Stat("../../.git"); serr != nil || !fi.IsDir() || err != nil {
		t.Skipf("not a git checkout go stamps (../../.git: %v; git rev-parse HEAD: %v): the commit in the version is not tested", serr, err)
	}
	got := build("-buildvcs=true")
	if want := "(commit " + string(head[:12]); !strings.Contains(got, want) {
		t.Errorf("-buildvcs=true: %q lacks %q", got, want)
	}
}
