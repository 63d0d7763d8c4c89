//go:build linux

package main

// The signals a daemon meets besides SIGTERM, against the real binary: a
// closed log pipe (SIGPIPE) and SIGQUIT.

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// TestSIGQUIT: SIGQUIT (Ctrl-\, or a supervisor's) stops the daemon as
// SIGTERM does: outputs safe, the reply still waiting kept in the state,
// exit 0; not Go's default of a goroutine dump and exit 2 with the pins as
// they were and the queue lost.
func TestSIGQUIT(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{Listen: []string{bot.InboxMentions}})
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh(bot.InboxMentions)
	f.Fail(twitter.EndpointPost, twittertest.Fault{Status: 503, Count: -1})
	c := f.Post(f.Alice, "@mypi led on", 0)
	p.waitLog("command", "post_id", c.ID, "result", "ran")
	p.waitLog("reply waits")
	if err := p.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d after SIGQUIT, want 0\n%s", code, p.stderrText())
	}
	checkSafeAtExit(t, p)
	st, err := bot.LoadState(files.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Outbox) != 1 || st.Outbox[0].InReplyTo != c.ID {
		t.Errorf("outbox at exit %+v, want the waiting reply kept", st.Outbox)
	}
}

// TestLogPipeClosed: the log's reader goes away (journald restarted, a
// pipe closed): writes to stderr fail with EPIPE, and the daemon carries
// on, runs and answers commands, and stops cleanly; a SIGPIPE does not end
// it with the outputs as they were and the queue lost.
func TestLogPipeClosed(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{Listen: []string{bot.InboxMentions}})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // nobody reads the log
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, tweetpiBinary(t), "run", "-config", files.Path, "-log-format", "json")
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "TZ=UTC"}, files.Env...)
	cmd.Stderr, cmd.Stdout = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	alive := func(what string) {
		t.Helper()
		select {
		case err := <-exited:
			t.Fatalf("the daemon ended %s with its log pipe closed: %v", what, err)
		default:
		}
	}
	f.waitRequests(t, twitter.EndpointMentions, 2) // it started: the account line went nowhere
	alive("at start")
	c := f.Post(f.Alice, "@mypi led on", 0)
	waitFake(t, "the reply", func() bool {
		for _, r := range f.Replies() {
			if r.InReplyTo == c.ID {
				return true
			}
		}
		return false
	})
	alive("after a command")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want status 0", err)
		}
	case <-time.After(e2eTimeout):
		t.Fatal("no exit after SIGTERM")
	}
	st, err := bot.LoadState(files.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if st.MentionsTaken != c.ID {
		t.Errorf("state records %q taken, want %s", st.MentionsTaken, c.ID)
	}
}
