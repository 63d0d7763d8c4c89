package main

// Reloads (SIGHUP, systemctl reload) through the real binary: what
// changed applies at once, and only that; what takes a restart is refused
// with the fix; one log line each.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// reloadLines are the log lines of the reloads so far.
func (p *daemonProc) reloadLines() []logLine {
	var out []logLine
	for _, l := range p.logs() {
		if strings.HasPrefix(l.Msg, "reloaded") || strings.HasPrefix(l.Msg, "reload refused") {
			out = append(out, l)
		}
	}
	return out
}

// hup sends SIGHUP and returns the reload's log line.
func (p *daemonProc) hup() logLine {
	p.t.Helper()
	n := len(p.reloadLines())
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.After(e2eTimeout)
	for {
		p.mu.Lock()
		changed := p.changed
		p.mu.Unlock()
		if ls := p.reloadLines(); len(ls) > n {
			return ls[n]
		}
		select {
		case <-changed:
		case <-p.done:
			p.t.Fatalf("tweetpi exited before the reload's line\n%s", p.stderrText())
		case <-deadline:
			p.t.Fatalf("no reload line within %s\n%s", e2eTimeout, p.stderrText())
		}
	}
}

// replyTo waits for the daemon's reply to post.
func (f *fake) replyTo(t *testing.T, post twitter.Post) string {
	t.Helper()
	var text string
	waitFake(t, "the reply to "+post.ID, func() bool {
		for _, r := range f.Replies() {
			if r.InReplyTo == post.ID {
				text = r.Text
				return true
			}
		}
		return false
	})
	return text
}

// pinSets are the daemon's "pin set" lines so far, as "device state by".
func (p *daemonProc) pinSets(from int) []string {
	var out []string
	for _, l := range p.logs()[from:] {
		if l.Msg == "pin set" {
			s := l.str("state")
			if s == "" {
				s = l.str("duty")
			}
			out = append(out, l.str("device")+" "+s+" "+l.str("by"))
		}
	}
	return out
}

var uptime = regexp.MustCompile(`; up (\d+)s`)

// TestE2EReloadUnchanged: a reload of the same file touches no pin, cuts
// no pulse (it ends on time), keeps the uptime and says one line:
// "reloaded: nothing changed".
func TestE2EReloadUnchanged(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{Listen: []string{bot.InboxMentions}})
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh(bot.InboxMentions)
	time.Sleep(3 * time.Second) // some uptime
	pulse := f.Post(f.Alice, "@mypi led pulse 12s; fan 40%", 0)
	if r := f.replyTo(t, pulse); !strings.HasPrefix(r, "led on for 12s; fan 40%") {
		t.Fatalf("reply %q", r)
	}
	on := p.waitLog("pin set", "device", "led", "state", "on", "by", "pulse")
	from := len(p.logs())
	for range 3 {
		if l := p.hup(); l.Msg != "reloaded: nothing changed" || l.Level != "INFO" {
			t.Errorf("reload line %q (%s), want \"reloaded: nothing changed\"", l.Msg, l.Level)
		}
	}
	if sets := p.pinSets(from); len(sets) > 0 {
		t.Errorf("pins set by reloads of the same file: %q", sets)
	}
	status := f.Post(f.Alice, "@mypi status", 0)
	r := f.replyTo(t, status)
	if !strings.Contains(r, "led on") || !strings.Contains(r, "fan 40%") {
		t.Errorf("status after the reloads %q, want led on and fan 40%%", r)
	}
	if m := uptime.FindStringSubmatch(r); m == nil {
		t.Errorf("status %q has no uptime in seconds", r)
	} else if up, _ := strconv.Atoi(m[1]); time.Duration(up)*time.Second < on.Time.Sub(p.start) {
		t.Errorf("uptime %ds after the reloads; the daemon has been up longer than %s: it was reset", up, on.Time.Sub(p.start).Round(time.Second))
	}
	off := p.waitLog("pin set", "device", "led", "state", "off", "by", "pulse")
	if took := off.Time.Sub(on.Time); took < 12*time.Second || took > 20*time.Second {
		t.Errorf("the pulse lasted %s, want 12s: the reloads cut or held it", took)
	}
	if n := p.countLog("reloaded"); n != 0 {
		t.Errorf("%d lines \"reloaded\" besides the reload lines", n)
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestE2EReloadChanges: a changed device is set up again and only it, a
// new one is set up, a removed one goes safe; the bot's settings change at
// once; one line says it all; devices.json follows.
func TestE2EReloadChanges(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	cfg := daemonConfig{Listen: []string{bot.InboxMentions}, PollInterval: 2 * time.Second}
	files := writeDaemonConfig(t, f, cfg)
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh(bot.InboxMentions)
	post := f.Post(f.Alice, "@mypi led on; fan 40%; pump on", 0)
	f.replyTo(t, post)

	cfg.StateDir = files.StateDir
	cfg.PollInterval = time.Second
	cfg.Listen = []string{bot.InboxMentions, bot.InboxDMs}
	cfg.Allow = []string{"@alice", "@mallory"}
	cfg.MaxAge = time.Hour
	cfg.Devices = `  led:  {pin: GPIO17, kind: output, initial: off}
  pump: {pin: GPIO4, kind: output, max_on: 5m, aliases: [water]}
  bell: {pin: GPIO6, kind: output}
`
	from := len(p.logs())
	old := f.SendDM(f.Mallory, "bell on", 0) // before dms are listened to: never runs
	replaceFile(t, writeDaemonConfig(t, f, cfg).Path, files.Path)
	l := p.hup()
	want := "reloaded: devices pump changed (pin), bell added, fan removed; " +
		"listen [mentions] -> [mentions, dms]; poll_interval 2s -> 1s; allow [@alice] -> [@alice, @mallory]; max_age 10m -> 1h"
	if l.Msg != want {
		t.Errorf("reload line\n %q\nwant\n %q", l.Msg, want)
	}
	sets := p.pinSets(from)
	for _, s := range sets {
		if strings.HasPrefix(s, "led ") {
			t.Errorf("led was set by the reload (%q): it did not change", s)
		}
	}
	for _, w := range []string{"pump off reload", "fan off reload", "bell off reload"} {
		if !slicesContains(sets, w) {
			t.Errorf("pin sets %q, want %q", sets, w)
		}
	}
	// The bot's settings, at once.
	p.waitFresh(bot.InboxDMs)
	dm := f.SendDM(f.Mallory, "bell on", 0)
	p.waitLog("command", "post_id", dm.ID, "result", "ran")
	status := f.Post(f.Alice, "@mypi status", 0)
	if r := f.replyTo(t, status); !strings.HasPrefix(r, "led on, pump off, bell on;") {
		t.Errorf("status %q, want led still on, pump set up again (off), bell on and no fan", r)
	}
	if runs := runsByPost(p); runs[old.ID] != 0 {
		t.Errorf("the DM sent before dms were listened to ran")
	}
	// The device list tweetpi safe reads.
	data, err := os.ReadFile(filepath.Join(files.StateDir, config.DeviceListFile))
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Devices []config.Device }
	if err := json.Unmarshal(data, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range list.Devices {
		names = append(names, d.Name+" "+d.Pin)
	}
	if got := strings.Join(names, ", "); got != "led GPIO17, pump GPIO4, bell GPIO6" {
		t.Errorf("devices.json: %s", got)
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestE2EReloadRestartKeys: a change that takes a restart is not applied
// and the line says so, with the command; the rest of the file applies.
func TestE2EReloadRestartKeys(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	cfg := daemonConfig{Listen: []string{bot.InboxMentions}}
	files := writeDaemonConfig(t, f, cfg)
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh(bot.InboxMentions)

	cfg.StateDir = filepath.Join(t.TempDir(), "other")
	cfg.Allow = []string{"@alice", "@mallory"}
	keys := f.Credentials()
	keys.ConsumerSecret = "another-secret-0123456789"
	cfg.Keys = keys
	cfg.Extra = "mqtt:\n  broker: mqtt://127.0.0.1:1\n  node: mypi\n"
	next := writeDaemonConfig(t, f, cfg)
	text, err := os.ReadFile(next.Path)
	if err != nil {
		t.Fatal(err)
	}
	text = []byte(strings.Replace(string(text), "api: v2", "api: v1.1", 1))
	if err := os.WriteFile(files.Path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	l := p.hup()
	want := "reloaded: allow [@alice] -> [@alice, @mallory]; not applied, they take a restart (sudo systemctl restart tweetpi): " +
		"twitter.consumer_secret changed, twitter.api v2 -> v1.1, state_dir " + files.StateDir + " -> " + cfg.StateDir + ", mqtt changed"
	if l.Msg != want || l.Level != "WARN" || l.str("fix") != restartFix {
		t.Errorf("reload line %s %q fix %q\nwant WARN\n %q", l.Level, l.Msg, l.str("fix"), want)
	}
	if strings.Contains(p.stderrText(), "another-secret") {
		t.Error("the new secret is in the log")
	}
	// allow applied; the rest as it was: v2, the old state directory.
	post := f.Post(f.Mallory, "@mypi led on", 0)
	p.waitLog("command", "post_id", post.ID, "result", "ran")
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "state.json")); err == nil {
		t.Error("the new state_dir is in use")
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// procStatus reads a field of /proc/PID/status, in kB for the memory ones.
func procStatus(t *testing.T, pid int, key string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("%s: %q", key, line)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return 0
}

// TestE2EReloadStorm: 1,500 SIGHUPs in 30 s, as systemctl reload in a
// loop would send them, are one reload a second (reloadGap), the last of
// which reads the file as the storm left it: the work, and the garbage,
// do not follow the signals. The RSS figures are logged (go test -v), not
// checked: the kernel's RSS of a Go process grows to the runtime's steady
// state (the heap goal, the collector's own memory) with any work, a few
// minutes of polls too, and how soon depends on the machine's load.
// TestReloadMemory bounds what a reload leaves behind.
func TestE2EReloadStorm(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	cfg := daemonConfig{Listen: []string{bot.InboxMentions}, PollInterval: time.Minute}
	files := writeDaemonConfig(t, f, cfg)
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh(bot.InboxMentions)
	pid := p.cmd.Process.Pid
	rss0, anon0 := procStatus(t, pid, "VmRSS"), procStatus(t, pid, "RssAnon")
	const signals = 1500
	for i := range signals {
		if i == signals-10 {
			// The storm's end changes the file: the last reload applies it.
			cfg.StateDir, cfg.MaxAge = files.StateDir, time.Hour
			replaceFile(t, writeDaemonConfig(t, f, cfg).Path, files.Path)
		}
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.waitLog("reloaded: max_age 10m -> 1h")
	rss1, anon1, hwm := procStatus(t, pid, "VmRSS"), procStatus(t, pid, "RssAnon"), procStatus(t, pid, "VmHWM")
	reloads := len(p.reloadLines())
	t.Logf("%d SIGHUPs: %d reloads; VmRSS %d -> %d kB (RssAnon %d -> %d kB), VmHWM %d kB", signals, reloads, rss0, rss1, anon0, anon1, hwm)
	ls := p.reloadLines()
	for i := 1; i < len(ls); i++ {
		if gap := ls[i].Time.Sub(ls[i-1].Time); gap < reloadGap*9/10 {
			t.Errorf("reloads %d and %d %s apart; want %s at least", i, i+1, gap.Round(time.Millisecond), reloadGap)
		}
	}
	if limit := int(time.Since(p.start)/reloadGap) + 2; reloads > limit {
		t.Errorf("%d reloads in %s; want at most one per %s (%d)", reloads, time.Since(p.start).Round(time.Second), reloadGap, limit)
	}
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestE2EReloadUnderTheUnit: started from systemd's credential (which
// systemd keeps as it was at the start), a reload reads the copy of the
// edited file the unit's ExecReload= puts in the runtime directory; with
// no copy there, the credential.
func TestE2EReloadUnderTheUnit(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	cfg := daemonConfig{Listen: []string{bot.InboxMentions}}
	files := writeDaemonConfig(t, f, cfg)
	creds, run := t.TempDir(), t.TempDir()
	replaceFile(t, files.Path, filepath.Join(creds, "config.yaml"))
	env := append(files.Env, "CREDENTIALS_DIRECTORY="+creds, "RUNTIME_DIRECTORY="+run)
	p := startDaemon(t, "", env)
	p.waitFresh(bot.InboxMentions)
	if l := p.hup(); l.Msg != "reloaded: nothing changed" {
		t.Errorf("a reload with no copy: %q", l.Msg)
	}
	cfg.StateDir, cfg.Allow = files.StateDir, []string{"@alice", "@mallory"}
	replaceFile(t, writeDaemonConfig(t, f, cfg).Path, filepath.Join(run, reloadFile)) // what ExecReload= does
	if l := p.hup(); l.Msg != "reloaded: allow [@alice] -> [@alice, @mallory]" {
		t.Errorf("a reload of the unit's copy: %q", l.Msg)
	}
	post := f.Post(f.Mallory, "@mypi led on", 0)
	p.waitLog("command", "post_id", post.ID, "result", "ran")
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
