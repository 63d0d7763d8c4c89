//go:build linux

package main

// Who may command the daemon, against the real binary: a handle X does not
// know stops it at start; one X cannot be asked about lets nobody in until
// it resolves; a device's allow list matches the person by id, in mentions
// and DMs alike.

import (
	"strings"
	"testing"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// TestAllowUnknownHandle: an allowed handle X has no account for (a typo
// of another allowed one) is an error at start: exit 78 (systemd does not
// restart), naming it and the handle meant; nothing is polled or run.
func TestAllowUnknownHandle(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	devices := e2eDevices + "  door: {pin: GPIO5, kind: output, allow: [\"@alcie\"]}\n"
	files := writeDaemonConfig(t, f, daemonConfig{Devices: devices})
	p := startDaemon(t, files.Path, files.Env)
	if code := p.wait(); code != exitConfig {
		t.Fatalf("exit %d, want %d\n%s", code, exitConfig, p.stderrText())
	}
	out := p.stderrText()
	for _, want := range []string{"allow: @alcie (did you mean @alice?)", "X has no account with this handle"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr does not say %q:\n%s", want, out)
		}
	}
	if n := f.Requests(twitter.EndpointMentions); n != 0 {
		t.Errorf("%d mention polls with an unknown handle in the allow list", n)
	}
	checkNoSecret(t, f.secrets(), []*daemonProc{p}, files.StateDir)
}

// TestAllowLookupFails: while X answers the handle's lookup with errors,
// the daemon runs, says the handle lets nobody in until it resolves, and
// runs nothing of that person's, whatever her name; once the lookup works,
// her commands run.
func TestAllowLookupFails(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	f.Fail(twitter.EndpointUserByName, twittertest.Fault{Status: 503, Count: -1})
	files := writeDaemonConfig(t, f, daemonConfig{Listen: []string{bot.InboxMentions}})
	p := startDaemon(t, files.Path, files.Env)
	p.waitLog("allow: cannot resolve the handle now; it lets nobody in until it resolves (retried)", "handle", "@alice")
	p.waitFresh(bot.InboxMentions)
	early := f.Post(f.Alice, "@mypi led on", 0)
	p.waitLog("command", "post_id", early.ID, "result", "stranger")
	f.ClearFaults()
	p.waitLog("allow: handle resolved; it lets its owner in now", "handle", "@alice", "user_id", f.Alice.ID)
	late := f.Post(f.Alice, "@mypi fan 10%", 0)
	p.waitLog("command", "post_id", late.ID, "result", "ran")
	settle(t, f, twitter.EndpointMentions)
	runs := runsByPost(p)
	if runs[late.ID] != 1 || runs[early.ID] != 0 {
		t.Errorf("runs: before the handle resolved %d, after %d; want 0 and 1", runs[early.ID], runs[late.ID])
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestDeviceAllowByID: the global allow list names alice by id, the pump's
// by handle: her mention and her DM (which carries no name) may both use
// the pump, because the handle is resolved to her id; mallory, allowed
// globally, may not.
func TestDeviceAllowByID(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	forAPIs(t, func(t *testing.T, api string) {
		f := newFake(t, api)
		devices := `  led:  {pin: GPIO17, kind: output, initial: off}
  pump: {pin: GPIO27, kind: output, max_on: 5m, allow: ["@alice"]}
`
		files := writeDaemonConfig(t, f, daemonConfig{Allow: []string{f.Alice.ID, f.Mallory.ID}, Devices: devices})
		p := startDaemon(t, files.Path, files.Env)
		p.waitFresh()
		m := f.Post(f.Alice, "@mypi pump on", 0)
		l := p.waitLog("command", "post_id", m.ID)
		if !strings.HasPrefix(l.str("reply"), "pump on") {
			t.Errorf("alice's mention: %s", l.Raw)
		}
		d := f.SendDM(f.Alice, "pump off", 0)
		l = p.waitLog("command", "post_id", d.ID)
		if !strings.HasPrefix(l.str("reply"), "pump off") {
			t.Errorf("alice's DM, matched by id through the pump's @alice: %s", l.Raw)
		}
		x := f.SendDM(f.Mallory, "pump on", 0)
		l = p.waitLog("command", "post_id", x.ID)
		if l.str("reply") != "you may not use pump" {
			t.Errorf("mallory's DM: %s", l.Raw)
		}
		if code, _ := p.term(); code != 0 {
			t.Errorf("exit %d after SIGTERM", code)
		}
	})
}
