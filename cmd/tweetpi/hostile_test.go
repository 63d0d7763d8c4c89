//go:build linux

package main

// Hostile input against the real binary: who may command it, and what a
// command text may hold. The end-to-end helpers are in e2e_helpers_test.go.

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// hostileCase is one post and what may come of it.
type hostileCase struct {
	name string
	who  string // "alice", "mallory", "self", "homoglyph", "lookalike"
	text string
	dm   bool
	// run: the command may run (a "run" line); pins: the devices it may
	// set ("" none). Nothing may run that is not listed.
	run  bool
	pins string
	// must: every device in pins is set (else any subset may be).
	must bool
	// answered: alice gets a reply (strangers never do).
	answered bool
}

// TestHostileInput posts, in one stream, what strangers, the account
// itself and odd texts could send, and checks that only alice's own
// well-formed commands act, that a list with one bad entry runs nothing,
// that every reply fits and carries no link, and that no secret is written
// anywhere.
func TestHostileInput(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	homoglyph := f.AddUser("аlice") // Cyrillic а (U+0430)
	lookalike := f.AddUser("alice_")
	files := writeDaemonConfig(t, f, daemonConfig{})
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh()

	long := "@mypi led on " + strings.Repeat("x", 10_000)
	cases := []hostileCase{
		{name: "stranger", who: "mallory", text: "@mypi led on"},
		{name: "stranger DM", who: "mallory", text: "pump on", dm: true},
		{name: "the account itself", who: "self", text: "@mypi fan 100%"},
		{name: "stranger quoting alice", who: "mallory", text: `RT @alice: @mypi pump on`},
		{name: "stranger replying to alice", who: "mallory", text: "@alice @mypi pump on"},
		{name: "homoglyph handle", who: "homoglyph", text: "@mypi pump on"},
		{name: "lookalike handle", who: "lookalike", text: "@mypi pump on"},
		{name: "zero-width inside a word", who: "alice", text: "@mypi pu\u200bmp on", run: true, pins: "pump", answered: true},
		{name: "zero-width between words", who: "alice", text: "@mypi led\u200b\u200d on", run: true, pins: "led", answered: true},
		{name: "full-width letters", who: "alice", text: "@mypi ｐｕｍｐ ｏｎ", run: true, pins: "pump", answered: true},
		{name: "10,000 characters", who: "alice", text: long, run: true, answered: true},
		{name: "HTML entities", who: "alice", text: "@mypi led on &amp;&amp; pump on &lt;b&gt;", run: true, answered: true},
		{name: "nested command", who: "alice", text: "@mypi led on (@mypi pump on)", run: true, answered: true},
		{name: "list with one bad entry", who: "alice", text: "@mypi led on; fan 50%; pump explode", run: true, answered: true},
		{name: "list, all good", who: "alice", text: "@mypi led on; fan 50%", run: true, pins: "led fan", must: true, answered: true},
		{name: "a link", who: "alice", text: "@mypi led https://example.com/x", run: true, answered: true},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		u := map[string]twitter.User{"alice": f.Alice, "mallory": f.Mallory, "self": f.Account(), "homoglyph": homoglyph, "lookalike": lookalike}[c.who]
		if c.dm {
			ids[i] = f.SendDM(u, c.text, 0).ID
		} else {
			ids[i] = f.Post(u, c.text, 0).ID
		}
	}
	// The sentinel: after it, everything before was handled.
	last := f.Post(f.Alice, "@mypi led off", 0)
	p.waitLog("command", "post_id", last.ID)
	settle(t, f, twitter.EndpointMentions)
	settle(t, f, twitter.EndpointDMEvents)

	runs := runsByPost(p)
	pins := pinDevicesByPost(p)
	replied := map[string]string{}
	for _, r := range f.Replies() {
		replied[r.InReplyTo] = r.Text
		if n := utf8.RuneCountInString(r.Text); n > bot.MaxPostWeight {
			t.Errorf("reply of %d characters: %q", n, r.Text)
		}
		if strings.Contains(r.Text, "://") || strings.Contains(r.Text, "example.com") {
			t.Errorf("reply carries a link: %q", r.Text)
		}
	}
	for i, c := range cases {
		id := ids[i]
		if !c.run && runs[id] != 0 {
			t.Errorf("%s: %q ran", c.name, c.text)
		}
		if runs[id] > 1 {
			t.Errorf("%s: ran %d times", c.name, runs[id])
		}
		allowed := strings.Fields(c.pins)
		for _, d := range pins[id] {
			if !slicesContains(allowed, d) {
				t.Errorf("%s: %q set %s; only %q may be set", c.name, c.text, d, c.pins)
			}
		}
		if c.must && len(pins[id]) != len(allowed) {
			t.Errorf("%s: %q set %v, want %v", c.name, c.text, pins[id], allowed)
		}
		_, got := replied[id]
		if !c.dm && got != c.answered {
			t.Errorf("%s: answered %t, want %t", c.name, got, c.answered)
		}
		t.Logf("%-28s run=%d pins=%v reply=%.90q", c.name, runs[id], pins[id], replied[id])
	}
	for _, dm := range f.SentDMs() {
		if dm.To == f.Mallory.ID {
			t.Errorf("a DM to the stranger: %q", dm.Text)
		}
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	checkNoSecret(t, f.secrets(), []*daemonProc{p}, files.StateDir)
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// pinDevicesByPost lists the devices each command set, by post id (see
// pinSetsByPost).
func pinDevicesByPost(procs ...*daemonProc) map[string][]string {
	n := map[string][]string{}
	for _, p := range procs {
		cur := ""
		for _, l := range p.logs() {
			switch {
			case l.Msg == "run":
				cur = l.str("post_id")
			case l.Msg == "command":
				cur = ""
			case l.Msg == "pin set" && l.str("by") == "command":
				n[cur] = append(n[cur], l.str("device"))
			}
		}
	}
	return n
}

// TestSecretsFileModeRefused: a config that holds a secret and is readable
// by group or others is refused (exit 78) with chmod 600 named, and the
// refusal does not print the secret.
func TestSecretsFileModeRefused(t *testing.T) {
	t.Parallel()
	f := newFake(t, "v2")
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		files := writeDaemonConfig(t, f, daemonConfig{})
		if err := os.Chmod(files.Path, mode); err != nil {
			t.Fatal(err)
		}
		p := startDaemon(t, files.Path, files.Env)
		if code := p.wait(); code != exitConfig {
			t.Fatalf("mode %#o: exit %d, want %d\n%s", mode, code, exitConfig, p.stderrText())
		}
		if out := p.stderrText(); !strings.Contains(out, "chmod 600 "+files.Path) {
			t.Errorf("mode %#o: stderr does not say chmod 600 %s:\n%s", mode, files.Path, out)
		}
		if f.Requests(twitter.EndpointMe)+f.Requests(twitter.EndpointMentions) != 0 {
			t.Errorf("mode %#o: the daemon called the API with a refused config", mode)
		}
		checkNoSecret(t, f.secrets(), []*daemonProc{p})
	}
}
