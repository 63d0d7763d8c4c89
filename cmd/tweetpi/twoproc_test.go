//go:build linux

package main

// Two daemons on one state directory.

import (
	"strings"
	"testing"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// TestSecondDaemonRefused: a second tweetpi run on the same state
// directory (a hand-started one beside the service) would take and run
// the same posts: it must refuse to start (exit 78) and name the other.
func TestSecondDaemonRefused(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{Listen: []string{bot.InboxMentions}})
	a := startDaemon(t, files.Path, files.Env)
	a.waitFresh(bot.InboxMentions)
	b := startDaemon(t, files.Path, files.Env)
	done := make(chan int, 1)
	go func() { done <- b.wait() }()
	post := f.Post(f.Alice, "@mypi led on", 0)
	a.waitLog("command", "post_id", post.ID)
	settle(t, f, twitter.EndpointMentions)
	if n := runsByPost(a, b)[post.ID]; n != 1 {
		t.Errorf("the command ran %d times with two daemons on one state directory", n)
	}
	if !b.exited() {
		t.Fatalf("the second daemon runs beside the first")
	}
	if code := <-done; code != exitConfig {
		t.Errorf("second daemon: exit %d, want %d\n%s", code, exitConfig, b.stderrText())
	}
	if out := b.stderrText(); !strings.Contains(out, "is in use by another tweetpi (pid ") {
		t.Errorf("the refusal does not name the other daemon:\n%s", out)
	}
	// It stops before it touches a pin the first one drives.
	if n := b.countLog("pin set"); n != 0 {
		t.Errorf("the refused daemon set %d pins before it stopped", n)
	}
	// The lock dies with its process, kill -9 too: no stale lock.
	a.kill9()
	c := startDaemon(t, files.Path, files.Env)
	c.waitLog("polling")
	if code, _ := c.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
