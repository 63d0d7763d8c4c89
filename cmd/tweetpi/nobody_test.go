package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/tweetpi/tweetpi/twitter"
)

// nobodyYet is what check and the daemon's start line say while
// twitter.allow is empty.
const nobodyYet = "nobody can command it yet"

// TestE2EExampleLetsNobodyIn: the file the package installs, checked by
// the real binary, says plainly that nobody can command the device yet.
func TestE2EExampleLetsNobodyIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	path := exampleCopy(t)
	cmd := exec.Command(tweetpiBinary(t), "check", "-config", path)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tweetpi check: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "; "+nobodyYet+" (twitter.allow is empty);") {
		t.Errorf("stdout %q does not say %q", stdout.String(), nobodyYet)
	}
	if !strings.Contains(stderr.String(), "warning: twitter.allow is empty, so nobody can command the device") {
		t.Errorf("stderr %q has no warning with the fix", stderr.String())
	}
}

// TestE2ENobodyAllowed: with twitter.allow empty the daemon's start line
// says that nobody can command it yet, and an author who would be allowed
// by any other configuration is not obeyed.
func TestE2ENobodyAllowed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon")
	}
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{Allow: []string{}})
	p := startDaemon(t, files.Path, files.Env)
	start := p.waitLog("polling")
	if got := start.str("allow"); !strings.HasPrefix(got, nobodyYet+": twitter.allow is empty") {
		t.Errorf("start line allow=%q, want it to say %q\n%s", got, nobodyYet, start.Raw)
	}
	p.waitFresh()
	post := f.Post(f.Alice, "@mypi led on", 0)
	p.waitLog("command", "post_id", post.ID, "result", "stranger")
	settle(t, f, twitter.EndpointMentions)
	if runs := runsByPost(p); len(runs) != 0 {
		t.Errorf("runs %v with nobody allowed", runs)
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
