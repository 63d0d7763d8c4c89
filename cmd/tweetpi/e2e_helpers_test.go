package main

// Helpers for end-to-end tests: they build the real tweetpi binary once per
// test binary run, start it as a separate process against a twittertest
// server over loopback, and read its JSON log line by line.
//
// The API here is shared with other test files (chaos tests); keep it stable.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// e2eTimeout bounds every wait on the daemon (a log line, an exit, a
// reply). It is generous: the machine may be slow and the race detector on.
const e2eTimeout = 30 * time.Second

// e2eBuild holds the binary built for the end-to-end tests.
var e2eBuild struct {
	once sync.Once
	dir  string // removed by TestMain
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e2eBuild.dir != "" {
		os.RemoveAll(e2eBuild.dir)
	}
	os.Exit(code)
}

// slowE2E skips, under -short, a test that runs the real daemon for
// seconds (polls at the 1s the configuration allows at the least, kills,
// restarts): -short is the quick loop; the full suite (CI) runs them.
func slowE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the real daemon for seconds; skipped with -short (the full suite runs it)")
	}
}

// tweetpiBinary builds ./cmd/tweetpi once per test binary run (with -race
// when the tests run with it) and returns the path of the binary.
func tweetpiBinary(t testing.TB) string {
	t.Helper()
	e2eBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "tweetpi-e2e-")
		if err != nil {
			e2eBuild.err = err
			return
		}
		e2eBuild.dir = dir
		e2eBuild.path = filepath.Join(dir, "tweetpi")
		// go test puts its own GOROOT/bin first in the test's PATH.
		gobin, err := exec.LookPath("go")
		if err != nil {
			e2eBuild.err = fmt.Errorf("no go command to build the binary: %w", err)
			return
		}
		// With the packaged binary's tags (deploy/build.sh's TAGS) but
		// nodemo: the tests run the demo too.
		tags, err := packagedTags()
		if err != nil {
			e2eBuild.err = err
			return
		}
		args := []string{"build", "-tags", strings.Join(slices.DeleteFunc(tags, func(t string) bool { return t == "nodemo" }), ","), "-o", e2eBuild.path}
		if raceEnabled() {
			args = append(args, "-race")
		}
		args = append(args, ".")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, gobin, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			e2eBuild.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if e2eBuild.err != nil {
		t.Fatalf("building tweetpi: %v", e2eBuild.err)
	}
	return e2eBuild.path
}

// packagedTags are the build tags of the packaged binary: the TAGS line
// of deploy/build.sh.
func packagedTags() ([]string, error) {
	b, err := os.ReadFile("../../deploy/build.sh")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "TAGS="); ok {
			return strings.Split(v, ","), nil
		}
	}
	return nil, errors.New("deploy/build.sh has no TAGS= line")
}

// raceEnabled tells whether this test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// fake is a twittertest server with the users the tests talk as.
type fake struct {
	*twittertest.Server
	API     string       // "v2" or "v1.1": what the daemon is configured to speak
	Alice   twitter.User // allowed by the default configuration (as "@alice")
	Mallory twitter.User // a stranger
}

// newFake starts a twittertest server for the account @mypi with users
// alice and mallory; it is closed when the test ends. opts may change the
// server's options (tier, credentials).
func newFake(t testing.TB, api string, opts ...func(*twittertest.Options)) *fake {
	t.Helper()
	o := twittertest.Options{Handle: "mypi"}
	for _, f := range opts {
		f(&o)
	}
	srv := twittertest.NewServer(o)
	t.Cleanup(srv.Close)
	return &fake{Server: srv, API: api, Alice: srv.AddUser("alice"), Mallory: srv.AddUser("mallory")}
}

// secrets are the server's four keys, for checks that none leaks.
func (f *fake) secrets() []string {
	c := f.Credentials()
	return []string{c.ConsumerKey, c.ConsumerSecret, c.AccessToken, c.AccessTokenSecret}
}

// daemonConfig is what writeDaemonConfig puts in the file. The zero value
// is a working configuration: mentions and DMs polled every second, @alice
// allowed, replies on, the keys inline in a 0600 file, devices on sim pins.
type daemonConfig struct {
	Listen       []string            // default mentions, dms
	Allow        []string            // default ["@alice"]
	PollInterval time.Duration       // default 1s (the minimum)
	MaxAge       time.Duration       // default: the config's default (10m)
	NoReply      bool                // reply: false
	StateDir     string              // default a new temporary directory
	Keys         twitter.Credentials // default the server's own keys
	KeysInEnv    bool                // pass the keys in TWEETPI_* variables instead of the file
	Devices      string              // YAML of the devices map's entries; default e2eDevices
	Extra        string              // appended to the file as is
	// Delivery is twitter.delivery; default poll: most tests here count
	// polls. The stream's tests set auto or stream.
	Delivery string
	// ReconcileInterval is twitter.reconcile_interval; default the config's.
	ReconcileInterval time.Duration
}

// e2eDevices are the devices of the default configuration: led starts off,
// fan is a pwm, pump has a max_on.
const e2eDevices = `  led:  {pin: GPIO17, kind: output, initial: off}
  fan:  {pin: GPIO18, kind: pwm, frequency: 25kHz}
  pump: {pin: GPIO27, kind: output, max_on: 5m, aliases: [water]}
`

// daemonFiles are a written configuration: pass Path and Env to startDaemon.
type daemonFiles struct {
	Path     string   // the configuration file
	StateDir string   // state.json and devices.json live here
	Env      []string // the variables the daemon needs (the keys when KeysInEnv)
}

// writeDaemonConfig writes a configuration for tweetpi run against f.
func writeDaemonConfig(t testing.TB, f *fake, c daemonConfig) daemonFiles {
	t.Helper()
	dir := t.TempDir()
	if c.Listen == nil {
		c.Listen = []string{bot.InboxMentions, bot.InboxDMs}
	}
	if c.Allow == nil {
		c.Allow = []string{"@alice"}
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.StateDir == "" {
		c.StateDir = filepath.Join(dir, "state")
	}
	if c.Keys == (twitter.Credentials{}) {
		c.Keys = f.Credentials()
	}
	if c.Devices == "" {
		c.Devices = e2eDevices
	}
	quoteAll := func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "twitter:\n")
	keys := []struct{ name, value string }{
		{"consumer_key", c.Keys.ConsumerKey},
		{"consumer_secret", c.Keys.ConsumerSecret},
		{"access_token", c.Keys.AccessToken},
		{"access_token_secret", c.Keys.AccessTokenSecret},
	}
	var env []string
	for _, k := range keys {
		if c.KeysInEnv {
			env = append(env, config.KeyEnv(k.name)+"="+k.value)
		} else {
			fmt.Fprintf(&b, "  %s: %q\n", k.name, k.value)
		}
	}
	fmt.Fprintf(&b, "  api: %s\n  api_url: %s\n", f.API, f.URL)
	fmt.Fprintf(&b, "  listen: %s\n  allow: %s\n", quoteAll(c.Listen), quoteAll(c.Allow))
	fmt.Fprintf(&b, "  poll_interval: %s\n", c.PollInterval)
	if c.Delivery == "" {
		c.Delivery = config.DeliveryPoll
	}
	fmt.Fprintf(&b, "  delivery: %s\n", c.Delivery)
	if c.ReconcileInterval > 0 {
		fmt.Fprintf(&b, "  reconcile_interval: %s\n", c.ReconcileInterval)
	}
	if c.MaxAge > 0 {
		fmt.Fprintf(&b, "  max_age: %s\n", c.MaxAge)
	}
	fmt.Fprintf(&b, "  reply: %t\n", !c.NoReply)
	fmt.Fprintf(&b, "state_dir: %s\ngpio:\n  backend: sim\ndevices:\n%s", c.StateDir, c.Devices)
	b.WriteString(c.Extra)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return daemonFiles{Path: path, StateDir: c.StateDir, Env: env}
}

// logLine is one line of the daemon's JSON log.
type logLine struct {
	Time  time.Time
	Level string
	Msg   string
	Attrs map[string]any // every other key, as encoding/json decodes it
	Raw   string
}

// str is the attribute key as text ("" when absent).
func (l logLine) str(key string) string {
	v, ok := l.Attrs[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// match tells whether the line has msg and every key/value pair of kv.
func (l logLine) match(msg string, kv ...string) bool {
	if l.Msg != msg {
		return false
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if l.str(kv[i]) != kv[i+1] {
			return false
		}
	}
	return true
}

// parseLogLine reads one JSON log line. slog writes the record's level and
// an attribute named "level" (a pin's) under the same key, so the keys are
// read in order: the first time, level and msg are the record's, any later
// one is an attribute.
func parseLogLine(s string) (logLine, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return logLine{}, false
	}
	l := logLine{Raw: s, Attrs: map[string]any{}}
	var haveTime, haveLevel, haveMsg bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return logLine{}, false
		}
		key, _ := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return logLine{}, false
		}
		str, isStr := v.(string)
		switch {
		case key == "time" && !haveTime && isStr:
			l.Time, _ = time.Parse(time.RFC3339Nano, str)
			haveTime = true
		case key == "level" && !haveLevel && isStr:
			l.Level, haveLevel = str, true
		case key == "msg" && !haveMsg && isStr:
			l.Msg, haveMsg = str, true
		default:
			l.Attrs[key] = v
		}
	}
	return l, haveMsg
}

// daemonProc is a running `tweetpi run -log-format json`.
type daemonProc struct {
	t     testing.TB
	cmd   *exec.Cmd
	start time.Time

	mu      sync.Mutex
	lines   []logLine
	stderr  bytes.Buffer // everything, JSON or not
	stdout  bytes.Buffer
	changed chan struct{} // closed and replaced when a line arrives or the process ends

	done     chan struct{} // closed when the process has exited and its output is read
	exitCode int
	exitAt   time.Time
}

// startDaemon starts `tweetpi run -config cfgPath -log-format json` with a
// clean environment plus env (and args after the defaults). The process is
// killed when the test ends, if it still runs.
func startDaemon(t testing.TB, cfgPath string, env []string, args ...string) *daemonProc {
	t.Helper()
	bin := tweetpiBinary(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"run", "-config", cfgPath, "-log-format", "json"}, args...)...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "TZ=UTC"}, env...)
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 5 * time.Second
	p := &daemonProc{t: t, cmd: cmd, changed: make(chan struct{}), done: make(chan struct{})}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start tweetpi: %v", err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(s + "\n")
			if l, ok := parseLogLine(s); ok {
				p.lines = append(p.lines, l)
			}
			p.broadcast()
			p.mu.Unlock()
		}
		io.Copy(io.Discard, errPipe)
	}()
	go func() {
		defer readers.Done()
		b, _ := io.ReadAll(outPipe)
		p.mu.Lock()
		p.stdout.Write(b)
		p.mu.Unlock()
	}()
	go func() {
		readers.Wait()
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode() // -1 when killed by a signal
		case err != nil:
			code = -2
		}
		p.mu.Lock()
		p.exitCode, p.exitAt = code, time.Now()
		p.broadcast()
		p.mu.Unlock()
		close(p.done)
		cancel()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("tweetpi log (pid %d):\n%s", cmd.Process.Pid, p.stderrText())
		}
	})
	return p
}

// broadcast wakes the waiters; p.mu is held.
func (p *daemonProc) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// exited tells whether the process has ended.
func (p *daemonProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill9 kills the process with SIGKILL and waits for it to end.
func (p *daemonProc) kill9() {
	p.t.Helper()
	if !p.exited() {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	p.wait()
}

// term sends SIGTERM and returns the exit status and how long the process
// took to exit after the signal.
func (p *daemonProc) term() (code int, took time.Duration) {
	p.t.Helper()
	at := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !p.exited() {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	code = p.wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return code, p.exitAt.Sub(at)
}

// wait waits (at most e2eTimeout) for the process to exit and returns its
// exit status (-1 when a signal killed it).
func (p *daemonProc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(e2eTimeout):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("tweetpi did not exit within %s\n%s", e2eTimeout, p.stderrText())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitCode
}

// logs are the JSON log lines so far.
func (p *daemonProc) logs() []logLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]logLine(nil), p.lines...)
}

// stderrText is all the process wrote to stderr so far.
func (p *daemonProc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// stdoutText is all the process wrote to stdout so far.
func (p *daemonProc) stdoutText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// countLog is how many lines so far have msg and the key/value pairs kv.
func (p *daemonProc) countLog(msg string, kv ...string) int {
	n := 0
	for _, l := range p.logs() {
		if l.match(msg, kv...) {
			n++
		}
	}
	return n
}

// waitLog waits for a line with msg and the key/value pairs kv (such as
// "post_id", id) and returns the first one; it fails the test after
// e2eTimeout or when the process exits without writing it.
func (p *daemonProc) waitLog(msg string, kv ...string) logLine {
	p.t.Helper()
	ls := p.waitLogN(1, msg, kv...)
	return ls[0]
}

// waitLogN waits until n lines match msg and kv and returns those lines.
func (p *daemonProc) waitLogN(n int, msg string, kv ...string) []logLine {
	p.t.Helper()
	deadline := time.After(e2eTimeout)
	for {
		p.mu.Lock()
		var got []logLine
		for _, l := range p.lines {
			if l.match(msg, kv...) {
				got = append(got, l)
			}
		}
		changed := p.changed
		p.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-p.done:
			// Read again once: the last lines arrive before done closes.
			if p.countLog(msg, kv...) >= n {
				continue
			}
			p.t.Fatalf("tweetpi exited (status %d) with %d of %d log lines %q %q\n%s", p.wait(), len(got), n, msg, kv, p.stderrText())
		case <-deadline:
			p.t.Fatalf("no %d log lines %q %q within %s (got %d)\n%s", n, msg, kv, e2eTimeout, len(got), p.stderrText())
		}
	}
}

// waitFresh waits, on a first start (no state), until each inbox has its
// starting point (mentions and dms by default): posts made after it are new.
// With state from an earlier run, wait for "polling" instead.
func (p *daemonProc) waitFresh(inboxes ...string) {
	p.t.Helper()
	if len(inboxes) == 0 {
		inboxes = []string{bot.InboxMentions, bot.InboxDMs}
	}
	for _, in := range inboxes {
		p.waitLog(in + ": starting after the newest existing " + map[string]string{
			bot.InboxMentions: "post; nothing older runs",
			bot.InboxDMs:      "message; nothing older runs",
		}[in])
	}
}

// waitFake polls cond every 10ms until it holds; it fails the test after
// e2eTimeout, saying what.
func waitFake(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(e2eTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", e2eTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitReplies waits until the account has made at least n posts (replies)
// and returns them all.
func (f *fake) waitReplies(t testing.TB, n int) []twittertest.Reply {
	t.Helper()
	waitFake(t, fmt.Sprintf("%d replies", n), func() bool { return len(f.Replies()) >= n })
	return f.Replies()
}

// waitDMs waits until the account has sent at least n DMs and returns them.
func (f *fake) waitDMs(t testing.TB, n int) []twittertest.SentDM {
	t.Helper()
	waitFake(t, fmt.Sprintf("%d DMs sent", n), func() bool { return len(f.SentDMs()) >= n })
	return f.SentDMs()
}

// waitRequests waits until endpoint has had at least n requests.
func (f *fake) waitRequests(t testing.TB, endpoint string, n int) {
	t.Helper()
	waitFake(t, fmt.Sprintf("%d requests to %s", n, endpoint), func() bool { return f.Requests(endpoint) >= n })
}

// runsByPost counts the commands the logs say were run, by post id, over
// any number of daemon lifetimes.
func runsByPost(procs ...*daemonProc) map[string]int {
	n := map[string]int{}
	for _, p := range procs {
		for _, l := range p.logs() {
			if l.Msg == "run" {
				n[l.str("post_id")]++
			}
		}
	}
	return n
}

// checkNoSecret fails the test when any of secrets appears in the outputs
// of procs or in any file under dirs.
func checkNoSecret(t testing.TB, secrets []string, procs []*daemonProc, dirs ...string) {
	t.Helper()
	look := func(where, text string) {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("a secret (%.4s...) appears in %s", s, where)
			}
		}
	}
	for i, p := range procs {
		look(fmt.Sprintf("stdout of run %d", i), p.stdoutText())
		look(fmt.Sprintf("stderr of run %d", i), p.stderrText())
	}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err == nil {
				look(path, string(b))
			}
			return nil
		})
	}
}
