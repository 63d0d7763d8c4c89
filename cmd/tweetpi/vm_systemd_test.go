//go:build vmtest

package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// TestSystemdUnit runs the installed .deb's tweetpi.service under a real
// systemd (PID 1 of the VM that `deploy/vmtest/run.sh systemd` boots), with
// every hardening setting of the unit, on gpio-sim lines and against the
// fake X API on loopback: Type=notify start, the service user and its
// groups, a command from a mention and from a DM, kill -9 with
// ExecStopPost (`tweetpi safe -from-state`, no credential) and
// Restart=on-failure, no command run again after the restart, reload, an
// upgrade that restarts it and keeps the edited configuration, stop with
// outputs safe, a bad configuration that exits 78 and is not restarted, and
// a purge that stops it (outputs safe) and removes its state.
func TestSystemdUnit(t *testing.T) {
	if os.Getenv("TWEETPI_VMTEST_SYSTEMD") == "" {
		t.Skip("not under the VM's systemd: run it through deploy/vmtest/run.sh systemd")
	}
	s := vmGPIOSim(t)
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	alice := srv.AddUser("alice")
	const cfgPath = "/etc/tweetpi/config.yaml" // the package's conffile
	good := vmDaemonConfig(srv, "/var/lib/tweetpi", "SYS_LED", "SYS_PUMP")
	if err := os.WriteFile(cfgPath, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}

	systemctl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("systemctl", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("systemctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	show := func(prop string) string {
		t.Helper()
		return systemctl("show", "-p", prop, "--value", "tweetpi")
	}
	journal := func() string {
		out, _ := exec.Command("journalctl", "-u", "tweetpi", "--no-pager", "-o", "cat").CombinedOutput()
		return string(out)
	}
	defer func() {
		if t.Failed() {
			t.Logf("journalctl -u tweetpi:\n%s", journal())
		}
	}()
	await := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		end := time.Now().Add(d)
		for !ok() {
			if time.Now().After(end) {
				t.Fatalf("%s: not within %s", what, d)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	tr := vmStartTrace(t, s)
	// wantSafe checks that tweetpi processes last set both lines to their
	// safe levels (pump is active_low) since the trace was reset.
	wantSafe := func(when string) {
		t.Helper()
		sets := tr.sets(t, s, "tweetpi")
		if got := sets["SYS_LED"]; vmLast(got) != 0 {
			t.Errorf("%s: the kernel saw SYS_LED set to %v, want 0 last", when, got)
		}
		if got := sets["SYS_PUMP"]; vmLast(got) != 1 {
			t.Errorf("%s: the kernel saw SYS_PUMP set to %v, want 1 last (active_low)", when, got)
		}
	}

	// Type=notify: start returns once the daemon said READY=1.
	t0 := time.Now()
	systemctl("start", "tweetpi")
	t.Logf("systemctl start tweetpi: %s", time.Since(t0).Round(time.Millisecond))
	if st := show("ActiveState"); st != "active" {
		t.Fatalf("ActiveState %q after start, want active", st)
	}
	pid, err := strconv.Atoi(show("MainPID"))
	if err != nil || pid == 0 {
		t.Fatalf("MainPID %q", show("MainPID"))
	}
	checkSandboxedProcess(t, pid)
	s.wantLevel(t, "SYS_LED", 0, "started (led initial off)")
	s.wantLevel(t, "SYS_PUMP", 1, "started (pump active_low, off)")

	srv.Post(alice, "@mypi led on", 0)
	s.awaitLevel(t, "SYS_LED", 1, 20*time.Second, "@alice: led on")
	srv.SendDM(alice, "pump on", 0)
	s.awaitLevel(t, "SYS_PUMP", 0, 20*time.Second, "DM pump on (active_low)")
	await("a reply and a DM", 20*time.Second, func() bool { return len(srv.Replies()) == 1 && len(srv.SentDMs()) == 1 })

	// kill -9: the unit's ExecStopPost drives the outputs safe with only
	// the state directory, then Restart=on-failure starts it again.
	tr.reset(t)
	polls := srv.Requests(twitter.EndpointMentions)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// ExecStopPost runs at once; the restart comes RestartSec=10s later,
	// so until then the trace holds only what tweetpi safe set.
	await("ExecStopPost (tweetpi safe) after kill -9", 9*time.Second, func() bool {
		return strings.Contains(journal(), "safe: led SYS_LED, pump SYS_PUMP off")
	})
	wantSafe("after kill -9, ExecStopPost")
	await("the restart after kill -9", 30*time.Second, func() bool {
		p := show("MainPID")
		return show("ActiveState") == "active" && p != "0" && p != strconv.Itoa(pid)
	})
	if n := show("NRestarts"); n != "1" {
		t.Errorf("NRestarts %s after kill -9, want 1", n)
	}
	// The restarted daemon polls past the commands it took before: none
	// runs again, so the led stays at its initial level. With the stream
	// up (delivery: auto, the default) it polls each inbox once when the
	// stream connects, then every reconcile_interval.
	await("a poll after the restart", 20*time.Second, func() bool {
		return strings.Count(journal(), "stream up:") >= 2 && srv.Requests(twitter.EndpointMentions) > polls
	})
	s.wantLevel(t, "SYS_LED", 0, "after the restart (led on must not run again)")
	if n := len(srv.Replies()) + len(srv.SentDMs()); n != 2 {
		t.Errorf("%d replies and DMs after the restart, want the 2 from before", n)
	}

	// A reload applies the edited file (the unit's ExecReload= copies it
	// to /run/tweetpi first: systemd keeps the credential as it was at the
	// start) and touches no line whose device did not change: the led
	// stays on through it.
	srv.Post(alice, "@mypi led on", 0)
	s.awaitLevel(t, "SYS_LED", 1, 20*time.Second, "@alice: led on, before the reload")
	edited := strings.Replace(good, "led:  {pin: SYS_LED, kind: output}", "led:  {pin: SYS_LED, kind: output, aliases: [lamp]}", 1)
	if edited == good {
		t.Fatal("the edit did not apply to the configuration")
	}
	if err := os.WriteFile(cfgPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	tr.reset(t)
	systemctl("reload", "tweetpi")
	await("the reload", 10*time.Second, func() bool { return strings.Contains(journal(), "reloaded: devices led changed (aliases)") })
	if got := tr.sets(t, s, "tweetpi")["SYS_LED"]; len(got) > 0 {
		t.Errorf("the reload set SYS_LED to %v; only its alias changed", got)
	}
	s.wantLevel(t, "SYS_LED", 1, "after the reload (the led stays on)")
	srv.Post(alice, "@mypi lamp off", 0)
	s.awaitLevel(t, "SYS_LED", 0, 20*time.Second, "@alice: lamp off, the alias the reload brought")
	good = edited // what the upgrade below keeps

	// An upgrade (the same package again) restarts a running daemon
	// (try-restart) and keeps the edited configuration as it was.
	deb := os.Getenv("TWEETPI_DEB")
	before := show("MainPID")
	if out, err := exec.Command("dpkg", "-i", deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i (upgrade): %v\n%s", err, out)
	}
	await("the restart on upgrade", 20*time.Second, func() bool {
		p := show("MainPID")
		return show("ActiveState") == "active" && p != "0" && p != before
	})
	if b, err := os.ReadFile(cfgPath); err != nil || string(b) != good {
		t.Errorf("the upgrade changed the edited configuration (err %v)", err)
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the configuration after the upgrade: %v, %v; want mode 0600", fi.Mode(), err)
	}

	// stop: outputs safe, a clean exit.
	tr.reset(t)
	systemctl("stop", "tweetpi")
	if st, res := show("ActiveState"), show("Result"); st != "inactive" || res != "success" {
		t.Errorf("after stop: ActiveState %q, Result %q; want inactive, success", st, res)
	}
	wantSafe("on stop")

	// A configuration error exits 78, which the unit does not restart.
	bad := strings.Replace(good, "poll_interval:", "poll_intervall:", 1)
	if err := os.WriteFile(cfgPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemctl", "start", "tweetpi").CombinedOutput(); err == nil {
		t.Errorf("systemctl start with a bad config succeeded:\n%s", out)
	}
	time.Sleep(12 * time.Second) // RestartSec=10s
	if st, code, n := show("ActiveState"), show("ExecMainStatus"), show("NRestarts"); st != "failed" || code != "78" || n != "0" {
		t.Errorf("bad config: ActiveState %q, ExecMainStatus %s, NRestarts %s; want failed, 78, 0", st, code, n)
	}
	if j := journal(); !strings.Contains(j, "poll_intervall") {
		t.Errorf("the journal does not name the bad key")
	}

	out, _ := exec.Command("systemd-analyze", "security", "tweetpi.service").CombinedOutput()
	if i := strings.LastIndex(string(out), "Overall exposure level"); i >= 0 {
		t.Logf("systemd-analyze security (live): %s", strings.TrimSpace(string(out[i:])))
	}

	// Purge while it runs: the package's prerm stops it (outputs safe), and
	// the state and the configuration go.
	if err := os.WriteFile(cfgPath, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	systemctl("reset-failed", "tweetpi")
	systemctl("start", "tweetpi")
	tr.reset(t)
	if out, err := exec.Command("dpkg", "--purge", "tweetpi").CombinedOutput(); err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	wantSafe("on purge")
	if out, _ := exec.Command("pgrep", "-x", "tweetpi").CombinedOutput(); len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("a tweetpi process runs after the purge: %s", out)
	}
	for _, p := range []string{"/var/lib/tweetpi", cfgPath, "/usr/bin/tweetpi"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after the purge (%v)", p, err)
		}
	}
}

// checkSandboxedProcess checks the daemon's process as the unit sets it up:
// user tweetpi, groups gpio and i2c among its groups, no capabilities, no new
// privileges.
func checkSandboxedProcess(t *testing.T, pid int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	field := func(name string) string {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, name+":"); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	u, err := user.Lookup("tweetpi")
	if err != nil {
		t.Fatalf("the package made no user tweetpi: %v", err)
	}
	if uids := strings.Fields(field("Uid")); len(uids) == 0 || uids[0] != u.Uid {
		t.Errorf("the daemon runs as uid %v, want tweetpi (%s)", uids, u.Uid)
	}
	for _, name := range []string{"gpio", "i2c"} { // the pins; the I2C sensors
		g, err := user.LookupGroup(name)
		if err != nil {
			t.Fatalf("the package made no group %s: %v", name, err)
		}
		if groups := strings.Fields(field("Groups")); !slices.Contains(groups, g.Gid) {
			t.Errorf("the daemon's groups %v lack %s (%s)", groups, name, g.Gid)
		}
	}
	if c := field("CapEff"); strings.Trim(c, "0") != "" {
		t.Errorf("the daemon has capabilities %s, want none", c)
	}
	if v := field("NoNewPrivs"); v != "1" {
		t.Errorf("NoNewPrivs %q, want 1", v)
	}
}
