package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// notifySocket is a stand-in for systemd's notification socket.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []string
	at   []time.Time // when each message arrived
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	// A unix socket path must be short: t.TempDir() can be too long.
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := &notifySocket{path: filepath.Join(dir, "notify")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, strings.TrimSpace(string(buf[:k])))
			n.at = append(n.at, time.Now())
			n.mu.Unlock()
		}
	}()
	return n
}

func (n *notifySocket) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

// first is when msg first arrived (zero if never).
func (n *notifySocket) first(msg string) time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, m := range n.msgs {
		if m == msg {
			return n.at[i]
		}
	}
	return time.Time{}
}

func (n *notifySocket) count(msg string) int {
	c := 0
	for _, m := range n.all() {
		if m == msg {
			c++
		}
	}
	return c
}

// TestE2ESystemdNotify: READY=1 once the pins and state are ready, WATCHDOG=1
// while the loop goes round, STOPPING=1 on SIGTERM; the unit relies on all three.
func TestE2ESystemdNotify(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{})
	sock := listenNotify(t)
	env := append(files.Env, "NOTIFY_SOCKET="+sock.path, "WATCHDOG_USEC=1000000")
	p := startDaemon(t, files.Path, env)
	p.waitFresh()
	waitFake(t, "READY=1 and two WATCHDOG=1", func() bool {
		return sock.count("READY=1") == 1 && sock.count("WATCHDOG=1") >= 2
	})
	if code, took := p.term(); code != 0 {
		t.Fatalf("SIGTERM: exit %d after %s", code, took)
	}
	msgs := sock.all()
	if msgs[0] != "READY=1" {
		t.Errorf("first notification %q, want READY=1 (all: %q)", msgs[0], msgs)
	}
	if last := msgs[len(msgs)-1]; last != "STOPPING=1" {
		t.Errorf("last notification %q, want STOPPING=1 (all: %q)", last, msgs)
	}
	// READY comes after the outputs are at their initial level: every
	// "pin set by=open" line is stamped before READY arrived.
	ready := sock.first("READY=1")
	opened := 0
	for _, l := range p.logs() {
		if l.match("pin set", "by", "open") {
			opened++
			if !l.Time.Before(ready) {
				t.Errorf("%s set at open at %s, after READY at %s", l.str("device"), l.Time.Format(time.StampMicro), ready.Format(time.StampMicro))
			}
		}
	}
	if opened == 0 {
		t.Errorf("no output was set at open before READY")
	}
}

// TestE2EReload: SIGHUP rereads the allow list and the devices; a bad new
// configuration is refused and the old one kept, with a log line saying why.
func TestE2EReload(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	f := newFake(t, "v2")
	files := writeDaemonConfig(t, f, daemonConfig{})
	p := startDaemon(t, files.Path, files.Env)
	p.waitFresh()

	before := f.Post(f.Mallory, "@mypi led on", 0)
	p.waitLog("command", "post_id", before.ID, "result", "stranger")

	// Allow @mallory too.
	wider := writeDaemonConfig(t, f, daemonConfig{StateDir: files.StateDir, Allow: []string{"@alice", "@mallory"}})
	replaceFile(t, wider.Path, files.Path)
	if l := p.hup(); l.Msg != "reloaded: allow [@alice] -> [@alice, @mallory]" {
		t.Errorf("reload line %q", l.Msg)
	}
	after := f.Post(f.Mallory, "@mypi led on", 0)
	p.waitLog("command", "post_id", after.ID, "result", "ran")

	// A broken file is refused; the daemon keeps the old configuration.
	if err := os.WriteFile(files.Path, []byte("twitter:\n  alow: [\"@bob\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	refused := p.waitLog("reload refused: the new configuration has errors; keeping the old one")
	if err := refused.str("err"); !strings.Contains(err, "alow") {
		t.Errorf("refusal %q does not name the bad key", err)
	}
	still := f.Post(f.Mallory, "@mypi led off", 0)
	p.waitLog("command", "post_id", still.ID, "result", "ran")
	if code, _ := p.term(); code != 0 {
		t.Errorf("exit %d after reloads", code)
	}
	if runs := runsByPost(p); runs[before.ID] != 0 || runs[after.ID] != 1 || runs[still.ID] != 1 {
		t.Errorf("runs %v: want the post before the reload ignored, the two after run once", runs)
	}
}

func replaceFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
