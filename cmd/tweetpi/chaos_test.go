//go:build linux

package main

// The chaos test: a stream of commands through twittertest while the real
// binary is killed with SIGKILL at random moments, once in the middle of a
// state-file write. The end-to-end helpers are in e2e_helpers_test.go.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// chaosSize is how many commands TestChaos streams: TWEETPI_CHAOS when set
// (CI sets a few hundred), else a size that fits the default test run.
func chaosSize(t *testing.T) int {
	if s := os.Getenv("TWEETPI_CHAOS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 10 {
			t.Fatalf("TWEETPI_CHAOS=%q: want a number of commands, at least 10", s)
		}
		return n
	}
	return 80
}

// chaosCommand is one command streamed: a mention or a DM from alice, or
// an edit of a mention (EditOf: the original's id).
type chaosCommand struct {
	ID     string
	Inbox  string
	Text   string
	EditOf string
}

// chaosFaults makes the fake fail as X does while the stream lasts, a fault
// about every 700 ms: a burst of 5xx on a poll, an answer lost after the
// post or the DM took effect, a slow post.
func chaosFaults(f *fake, rnd func(int) int, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-time.After(time.Duration(400+rnd(600)) * time.Millisecond):
		}
		switch rnd(5) {
		case 0:
			f.Fail(twitter.EndpointMentions, twittertest.Fault{Status: 503, Count: 1 + rnd(3)})
		case 1:
			f.Fail(twitter.EndpointDMEvents, twittertest.Fault{Status: 502, Count: 1 + rnd(2)})
		case 2:
			f.Fail(twitter.EndpointSendDM, twittertest.Fault{Lost: true})
		case 3:
			f.Fail(twitter.EndpointPost, twittertest.Fault{Lost: true})
		case 4:
			f.Fail(twitter.EndpointPost, twittertest.Fault{Delay: 1500 * time.Millisecond, Count: 2})
		}
	}
}

// TestChaos streams commands from an allowed user (mentions and DMs) while
// the daemon is killed with SIGKILL at random moments and started again:
// at random times, right after it logs that it runs a command or sends a
// reply, and once while it writes the state file (caught with inotify: the
// temp file is there and the rename is not). Before one start a truncated
// and an empty temp file are left in the state directory, as a kill during
// a write on another file system could leave them.
//
// Then, from the JSON logs, the state file and the fake's records: no
// command ran twice (msg="run" by post_id, and msg="pin set" by command);
// the state file loaded after every kill; every command is accounted for:
// ran and answered, or lost in one of the classes the test counts. A
// command is lost, never repeated, because the post is recorded as taken
// (and the file synced) before its action runs: a kill after that record
// and before the reply goes out loses the reply (or the action) instead of
// running a command twice after the restart. For a GPIO daemon that is the
// right failure: "pump on" run twice, or an old "door open" run after a
// reboot, is worse than a command the person sees unanswered and sends again.
//
// Meanwhile the fake fails as X does (chaosFaults): 5xx bursts on the
// polls, answers lost after the post or DM took effect, slow posts; some
// mentions are edited (a new id, X's edit history); some lives end with
// SIGQUIT instead of SIGKILL, which must stop them as SIGTERM does. An edit
// and its original run at most once between them, and no DM goes out more
// often than DM commands ran.
//
// It runs twice: with polls only, and with the Activity API stream (the
// commands arrive as they are made, and a reconciliation poll every 2s
// sees them again: the same command from both, across kills, runs once).
func TestChaos(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	for _, delivery := range []string{config.DeliveryPoll, config.DeliveryStream} {
		t.Run(delivery, func(t *testing.T) {
			t.Parallel()
			chaos(t, delivery)
		})
	}
}

func chaos(t *testing.T, delivery string) {
	n := chaosSize(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TWEETPI_CHAOS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("TWEETPI_CHAOS=%d TWEETPI_CHAOS_SEED=%d", n, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1|1))
	var rngMu sync.Mutex
	rnd := func(k int) int { rngMu.Lock(); defer rngMu.Unlock(); return rng.IntN(k) }

	f := newFake(t, "v2")
	dc := daemonConfig{MaxAge: time.Hour, Delivery: delivery}
	if delivery != config.DeliveryPoll {
		dc.ReconcileInterval = 2 * time.Second
	}
	files := writeDaemonConfig(t, f, dc)
	words := []string{"led on", "led off", "fan %d%%", "pump on", "pump off"}

	// The stream, at a pace that puts several commands in each poll.
	var (
		mu   sync.Mutex
		cmds []chaosCommand
	)
	gap := 10 * time.Second / time.Duration(n) // n commands in about 10s
	if n > 100 {
		gap = 50 * time.Millisecond
	}
	streamDone := make(chan struct{})
	first := startDaemon(t, files.Path, files.Env)
	first.waitFresh()
	go func() {
		defer close(streamDone)
		for i := range n {
			text := words[rnd(len(words))]
			if strings.Contains(text, "%d") {
				text = fmt.Sprintf(text, rnd(101))
			}
			c := chaosCommand{Text: text}
			var edit *chaosCommand
			if rnd(4) == 0 {
				c.Inbox, c.ID = bot.InboxDMs, f.SendDM(f.Alice, text, 0).ID
			} else {
				post := f.Post(f.Alice, "@mypi "+text, 0)
				c.Inbox, c.ID = bot.InboxMentions, post.ID
				if rnd(8) == 0 {
					// Edited at once or a little later: before or after a
					// poll saw the first version.
					time.Sleep(time.Duration(rnd(1500)) * time.Millisecond)
					e := f.Edit(post, post.Text)
					edit = &chaosCommand{ID: e.ID, Inbox: bot.InboxMentions, Text: text, EditOf: post.ID}
				}
			}
			mu.Lock()
			cmds = append(cmds, c)
			if edit != nil {
				cmds = append(cmds, *edit)
			}
			mu.Unlock()
			if i < n-1 {
				time.Sleep(gap/2 + time.Duration(rnd(int(gap))))
			}
		}
	}()

	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		chaosFaults(f, rnd, streamDone)
	}()

	procs := []*daemonProc{first}
	kills := map[string]int{}
	midWrite, planted := false, false
	p := first
	for round := 0; ; round++ {
		select {
		case <-streamDone:
		default:
			// How this life ends.
			how := []string{"random", "after run", "after sent", "mid-write", "sigquit"}[rnd(5)]
			if midWrite && how == "mid-write" {
				how = "random"
			}
			if how == "sigquit" {
				// Like SIGTERM: a clean stop, outputs safe, state kept.
				// Not before the process is up: until the runtime has
				// started main, the kernel's default (a core dump) holds.
				waitLogQuiet(p, "tweetpi starting", 1, 5*time.Second)
				time.Sleep(time.Duration(rnd(2000)) * time.Millisecond)
				p.cmd.Process.Signal(syscall.SIGQUIT)
				if code := p.wait(); code != 0 {
					t.Fatalf("life %d: exit %d after SIGQUIT, want 0\n%s", round, code, p.stderrText())
				}
				if p.countLog("outputs safe") != 1 {
					t.Errorf("life %d: no \"outputs safe\" after SIGQUIT", round)
				}
				kills[how]++
				if _, err := bot.LoadState(files.StateDir); err != nil {
					t.Fatalf("after SIGQUIT %d: %v", round, err)
				}
				p = startDaemon(t, files.Path, files.Env)
				procs = append(procs, p)
				continue
			}
			switch how {
			case "random":
				time.Sleep(time.Duration(rnd(2500)) * time.Millisecond)
			case "after run", "after sent":
				msg := map[string]string{"after run": "run", "after sent": "sent"}[how]
				waitLogQuiet(p, msg, p.countLog(msg)+1+rnd(3), 3*time.Second)
				time.Sleep(time.Duration(rnd(int(2 * time.Millisecond))))
			case "mid-write":
				if left := killMidWrite(t, p, files.StateDir, 3*time.Second); left != "" {
					midWrite = true
					t.Logf("killed mid-write: %s left behind", left)
				}
			}
			p.kill9()
			if code := p.wait(); code != -1 {
				t.Fatalf("life %d exited by itself (status %d) before the kill\n%s", round, code, p.stderrText())
			}
			kills[how]++
			// The file is never torn: the daemon would refuse to start.
			if _, err := bot.LoadState(files.StateDir); err != nil {
				t.Fatalf("after kill %d (%s): %v", round, how, err)
			}
			if !planted && round >= 2 {
				plantTempFiles(t, files.StateDir)
				planted = true
			}
			p = startDaemon(t, files.Path, files.Env)
			procs = append(procs, p)
			continue
		}
		break
	}
	if !midWrite {
		// The stream ended first: one more life, to be killed mid-write.
		if left := killMidWrite(t, p, files.StateDir, 5*time.Second); left != "" {
			midWrite = true
			t.Logf("killed mid-write: %s left behind", left)
		}
		p.kill9()
		p.wait()
		kills["mid-write"]++
		if _, err := bot.LoadState(files.StateDir); err != nil {
			t.Fatalf("after the mid-write kill: %v", err)
		}
		p = startDaemon(t, files.Path, files.Env)
		procs = append(procs, p)
	}

	// The last life drains what is left: every command taken, the outbox empty.
	<-faultsDone
	f.ClearFaults()
	mu.Lock()
	all := slices.Clone(cmds)
	mu.Unlock()
	waitFake(t, "every command taken and the outbox empty", func() bool {
		st, err := bot.LoadState(files.StateDir)
		if err != nil {
			t.Fatalf("state: %v", err)
		}
		if len(st.Outbox) > 0 {
			return false
		}
		for _, c := range all {
			if !stateTook(st, c) {
				return false
			}
		}
		return true
	})
	settle(t, f, twitter.EndpointMentions)
	if code, _ := p.term(); code != 0 {
		t.Errorf("last life: exit %d after SIGTERM, want 0", code)
	}
	st, err := bot.LoadState(files.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(files.StateDir, ".state.json.tmp-*")); len(left) > 0 {
		t.Errorf("temp files of cut-short writes left in the state directory after the last start: %v", left)
	}

	// Count.
	runs := runsByPost(procs...)
	pins := pinSetsByPost(procs...)
	replied := map[string]int{}
	for _, r := range f.Replies() {
		replied[r.InReplyTo]++
	}
	classes := map[string]int{}
	var ran, answered int
	edited := map[string]string{} // original -> edit
	for _, c := range all {
		if c.EditOf != "" {
			edited[c.EditOf] = c.ID
		}
	}
	for _, c := range all {
		if c.EditOf != "" {
			continue // counted with its original
		}
		if e, ok := edited[c.ID]; ok {
			if n := runs[c.ID] + runs[e]; n > 1 {
				t.Errorf("mention %s and its edit %s ran %d times between them, want at most 1", c.ID, e, n)
			}
			if n := replied[c.ID] + replied[e]; n > 1 {
				t.Errorf("mention %s and its edit %s were answered %d times", c.ID, e, n)
			}
			if runs[e] > 0 {
				classes["edited before a poll saw it: ran as its edit"]++
				continue
			}
		}
		r, ps := runs[c.ID], pins[c.ID]
		if r > 1 {
			t.Errorf("%s %s %q ran %d times", c.Inbox, c.ID, c.Text, r)
		}
		if ps > 1 {
			t.Errorf("%s %s %q set a pin %d times", c.Inbox, c.ID, c.Text, ps)
		}
		if ps > 0 && r == 0 {
			t.Errorf("%s %s %q set a pin without a run line", c.Inbox, c.ID, c.Text)
		}
		if replied[c.ID] > 1 {
			t.Errorf("%s %s answered %d times", c.Inbox, c.ID, replied[c.ID])
		}
		if r > 0 {
			ran++
		}
		switch {
		case !stateTook(st, c):
			classes["never taken"]++
			t.Errorf("%s %s %q was never taken", c.Inbox, c.ID, c.Text)
		case r == 0:
			// Recorded as taken, killed before the action.
			classes["taken, not run (killed between the save and the action)"]++
		case ps == 0:
			classes["run logged, pin not set (killed inside the action)"]++
		case c.Inbox == bot.InboxMentions && replied[c.ID] == 0:
			classes["ran, reply lost (killed before the reply was sent)"]++
		case c.Inbox == bot.InboxMentions:
			answered++
		}
	}
	// DM replies carry no id to match: count them as a whole.
	dmRan := 0
	for _, c := range all {
		if c.Inbox == bot.InboxDMs && runs[c.ID] > 0 {
			dmRan++
		}
	}
	dmSent := len(f.SentDMs())
	if dmSent > dmRan {
		t.Errorf("%d DMs sent for %d DM commands run", dmSent, dmRan)
	}
	answered += dmSent
	if lost := dmRan - dmSent; lost > 0 {
		classes["ran, reply lost (killed before the reply was sent)"] += lost
	}
	// A reply the daemon counted as sent (perhaps as a duplicate after a
	// restart) is really there.
	// One exception, counted and reported: the API refused the text as a
	// duplicate because an earlier life, killed and restarted within the
	// same second, posted the very same text (stamp and counter) to another
	// post; after a few new stamps the daemon counts it as sent.
	for i, p := range procs {
		for _, l := range p.logs() {
			id := l.str("in_reply_to")
			if l.Msg != "sent" || id == "" || replied[id] != 0 {
				continue
			}
			if l.str("duplicate") == "true" {
				classes["ran, reply refused as a duplicate of an earlier life's text (logged as sent)"]++
				classes["ran, reply lost (killed before the reply was sent)"]--
				t.Logf("life %d: %s", i, l.Raw)
				continue
			}
			t.Errorf("life %d logged a reply to %s as sent, but the post has none: %s", i, id, l.Raw)
		}
	}
	for k, v := range classes {
		if v == 0 {
			delete(classes, k)
		}
	}
	if !midWrite {
		t.Logf("no kill landed while the temp file was there (the writes were too quick); the planted temp files stand in")
	}
	totalKills := 0
	for _, k := range kills {
		totalKills += k
	}
	t.Logf("chaos: %d commands (%d DMs), %d kills %v, mid-write caught %t, %d ran, %d answered, lost %v",
		len(all), countInbox(all, bot.InboxDMs), totalKills, kills, midWrite, ran, answered, classes)
	if delivery != config.DeliveryPoll {
		ups := 0
		for _, p := range procs {
			ups += p.countLog("stream up: commands arrive as they are made; polls fill gaps")
		}
		t.Logf("stream: %d events delivered, up %d times in %d lives", f.Reads(twitter.EndpointStream), ups, len(procs))
		if f.Reads(twitter.EndpointStream) == 0 || ups == 0 {
			t.Errorf("the stream delivered nothing: the commands came by poll only")
		}
		checkNoSecret(t, append(f.secrets(), f.AppToken()), procs, files.StateDir)
		return
	}
	checkNoSecret(t, f.secrets(), procs, files.StateDir)
}

// waitLogQuiet waits up to d for n lines with msg; unlike waitLogN it does
// not fail the test when they do not come.
func waitLogQuiet(p *daemonProc, msg string, n int, d time.Duration) {
	deadline := time.Now().Add(d)
	for p.countLog(msg) < n && time.Now().Before(deadline) && !p.exited() {
		time.Sleep(time.Millisecond)
	}
}

// stateTook tells whether the state records c as taken (or seen).
func stateTook(st *bot.State, c chaosCommand) bool {
	if c.Inbox == bot.InboxMentions {
		// At or below the floor the polls raised, or taken from the stream above it.
		return !idBefore(st.MentionsTaken, c.ID) || slices.Contains(st.MentionsSeen, c.ID)
	}
	return slices.Contains(st.SeenDMs, c.ID) || !idBefore(st.DMsFloor, c.ID)
}

// idBefore compares decimal ids: a is older than b.
func idBefore(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func countInbox(cs []chaosCommand, inbox string) int {
	k := 0
	for _, c := range cs {
		if c.Inbox == inbox {
			k++
		}
	}
	return k
}

// pinSetsByPost counts the pin changes commands made, by post id: a
// "pin set" line by "command" belongs to the latest "run" line before it in
// the same life (commands run one at a time).
func pinSetsByPost(procs ...*daemonProc) map[string]int {
	n := map[string]int{}
	for id, devs := range pinDevicesByPost(procs...) {
		n[id] = len(devs)
	}
	return n
}

// plantTempFiles leaves what a kill in the middle of a write leaves when
// the data never reached the disk: an empty temp file and a cut one.
func plantTempFiles(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, bot.StateFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		".state.json.tmp-chaos-empty": nil,
		".state.json.tmp-chaos-torn":  data[:len(data)/2],
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// killMidWrite sends SIGKILL to p the moment a state temp file appears in
// dir (inotify IN_CREATE), waiting at most d for one. It returns the temp
// file left behind with its size, or "" when the write finished first (or
// none began).
func killMidWrite(t *testing.T, p *daemonProc, dir string, d time.Duration) string {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE); err != nil {
		syscall.Close(fd)
		t.Fatalf("inotify watch %s: %v", dir, err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	f.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 64<<10)
	for {
		k, err := f.Read(buf)
		if err != nil {
			return "" // the deadline
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= k; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += syscall.SizeofInotifyEvent + int(ev.Len)
			if !strings.HasPrefix(name, ".state.json.tmp-") {
				continue
			}
			p.cmd.Process.Signal(syscall.SIGKILL)
			p.wait()
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				return "" // renamed before the signal landed
			}
			return fmt.Sprintf("%s (%d bytes)", name, fi.Size())
		}
	}
}

// TestChaosFleet is the chaos test's fleet mode: commands stream to a
// gateway (the fake X, mentions) for its led and for garden's pump and
// light, while the gateway and the agent garden are each killed with
// SIGKILL at random moments (at random times, right after the gateway
// publishes a request, right after garden starts running one) and started
// again. TWEETPI_CHAOS_FLEET sets how many commands (default 40).
//
// Then, from both nodes' logs and the gateway's state file: no post ran
// twice on the gateway, no request id was published twice, none ran twice
// on garden, no pin was set twice for one command, no post was answered
// twice; and every command is accounted for: ran and answered, or lost in
// one of the classes counted below, each with why. A fleet loses a
// command rather than run one twice: the gateway records the post, then
// the request's id, before it publishes, and garden records the id before
// it runs; a kill in between loses the action or the answer.
func TestChaosFleet(t *testing.T) {
	slowE2E(t)
	t.Parallel()
	n := 40
	if s := os.Getenv("TWEETPI_CHAOS_FLEET"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 10 {
			t.Fatalf("TWEETPI_CHAOS_FLEET=%q: want a number of commands, at least 10", s)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TWEETPI_CHAOS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("TWEETPI_CHAOS_FLEET=%d TWEETPI_CHAOS_SEED=%d", n, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1|1))
	var rngMu sync.Mutex
	rnd := func(k int) int { rngMu.Lock(); defer rngMu.Unlock(); return rng.IntN(k) }

	r := newFleetRig(t)
	// Each text has at most one remote command; its request id is the
	// post's id, or the id and its place in the list.
	type text struct{ words, suffix string }
	texts := []text{
		{"garden_pump on", ""}, {"garden_pump off", ""}, {"garden_light toggle", ""},
		{"water pulse 2s", ""}, {"led toggle; garden_light on", ".2"}, {"led toggle", "-"},
	}
	type fleetCmd struct {
		ID, Text, Req string // Req: the request id; "" for a local command
	}
	var (
		mu   sync.Mutex
		cmds []fleetCmd
	)
	agents := []*daemonProc{r.startAgent()}
	gws := []*daemonProc{r.startGateway(true)}
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		for i := range n {
			tx := texts[rnd(len(texts))]
			post := r.fake.Post(r.fake.Alice, "@mypi "+tx.words, 0)
			c := fleetCmd{ID: post.ID, Text: tx.words}
			switch tx.suffix {
			case "":
				c.Req = post.ID
			case "-":
			default:
				c.Req = post.ID + tx.suffix
			}
			mu.Lock()
			cmds = append(cmds, c)
			mu.Unlock()
			if i < n-1 {
				time.Sleep(time.Duration(150+rnd(300)) * time.Millisecond)
			}
		}
	}()

	kills := map[string]int{}
	for {
		select {
		case <-streamDone:
		default:
			gw, agent := gws[len(gws)-1], agents[len(agents)-1]
			how := []string{"gateway random", "gateway after publish", "agent random", "agent after run"}[rnd(4)]
			switch how {
			case "gateway random", "agent random":
				time.Sleep(time.Duration(500+rnd(2500)) * time.Millisecond)
			case "gateway after publish":
				waitLogQuiet(gw, "fleet: request sent", gw.countLog("fleet: request sent")+1, 4*time.Second)
			case "agent after run":
				waitLogQuiet(agent, "run", agent.countLog("run")+1, 4*time.Second)
			}
			if strings.HasPrefix(how, "gateway") {
				gw.kill9()
				if _, err := bot.LoadState(r.gateway.StateDir); err != nil {
					t.Fatalf("after kill (%s): %v", how, err)
				}
				gws = append(gws, startDaemon(t, r.gateway.Path, r.gateway.Env))
			} else {
				agent.kill9()
				agents = append(agents, r.startAgent())
			}
			kills[how]++
			continue
		}
		break
	}
	gw := gws[len(gws)-1]
	mu.Lock()
	all := slices.Clone(cmds)
	mu.Unlock()
	waitFake(t, "every command taken and the outbox empty", func() bool {
		st, err := bot.LoadState(r.gateway.StateDir)
		if err != nil {
			t.Fatalf("state: %v", err)
		}
		if len(st.Outbox) > 0 {
			return false
		}
		for _, c := range all {
			if !stateTook(st, chaosCommand{ID: c.ID, Inbox: bot.InboxMentions}) {
				return false
			}
		}
		return true
	})
	settle(t, r.fake, twitter.EndpointMentions)
	gw.term()
	agents[len(agents)-1].term()

	// Count.
	st, err := bot.LoadState(r.gateway.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	gwRuns := runsByPost(gws...)
	sent := map[string]int{}
	for _, p := range gws {
		for _, l := range p.logs() {
			if l.Msg == "fleet: request sent" {
				sent[l.str("id")]++
			}
		}
	}
	agentRuns, agentPins := map[string]int{}, map[string]int{}
	agentResult := map[string]string{} // the last result garden logged for a request
	for _, p := range agents {
		cur := ""
		for _, l := range p.logs() {
			switch {
			case l.Msg == "run":
				cur = l.str("correlation")
				agentRuns[cur]++
			case l.Msg == "command":
				if id := l.str("correlation"); id != "" {
					agentResult[id] = l.str("result")
				}
				cur = ""
			case l.Msg == "pin set" && l.str("by") == "command":
				agentPins[cur]++
			}
		}
	}
	replies := map[string][]string{}
	for _, rp := range r.fake.Replies() {
		replies[rp.InReplyTo] = append(replies[rp.InReplyTo], rp.Text)
	}
	classes := map[string]int{}
	answered := 0
	for _, c := range all {
		runs, rs := gwRuns[c.ID], replies[c.ID]
		reply := ""
		if len(rs) > 0 {
			reply = rs[0]
		}
		switch {
		case runs > 1:
			t.Errorf("post %s %q ran %d times on the gateway", c.ID, c.Text, runs)
		case len(rs) > 1:
			t.Errorf("post %s answered %d times: %q", c.ID, len(rs), rs)
		case c.Req != "" && sent[c.Req] > 1:
			t.Errorf("request %s (%q) published %d times", c.Req, c.Text, sent[c.Req])
		case c.Req != "" && agentRuns[c.Req] > 1:
			t.Errorf("request %s (%q) ran %d times on garden", c.Req, c.Text, agentRuns[c.Req])
		case c.Req != "" && agentPins[c.Req] > 1:
			t.Errorf("request %s (%q) set garden's pins %d times", c.Req, c.Text, agentPins[c.Req])
		case c.Req != "" && agentRuns[c.Req] > 0 && sent[c.Req] == 0:
			t.Errorf("request %s ran on garden but was never published", c.Req)
		}
		switch {
		case !stateTook(st, chaosCommand{ID: c.ID, Inbox: bot.InboxMentions}):
			classes["never taken"]++
			t.Errorf("post %s %q was never taken", c.ID, c.Text)
		case runs == 0:
			classes["taken, not run (gateway killed between the save and the action)"]++
		case c.Req == "" && reply == "":
			classes["local, ran, reply lost (gateway killed before the reply)"]++
		case c.Req == "":
			answered++
		case strings.Contains(reply, "garden is offline"):
			classes["refused: garden offline (killed, the gateway saw its will; nothing sent)"]++
		case strings.Contains(reply, "cannot be reached"):
			classes["refused: the gateway not connected to the broker yet (nothing sent)"]++
		case sent[c.Req] == 0 && reply == "":
			classes["ran on the gateway, killed before it published (nothing sent, no reply)"]++
		case sent[c.Req] == 0:
			classes["not sent: "+unstamped(reply)]++
		case agentRuns[c.Req] == 0 && agentResult[c.Req] != "":
			classes["published, not run on garden: "+agentResult[c.Req]]++
			t.Logf("%s %q: garden %s; reply %q", c.Req, c.Text, agentResult[c.Req], reply)
		case agentRuns[c.Req] == 0 && reply == "":
			classes["published, never reached garden's run, no reply (gateway and garden killed)"]++
			t.Logf("%s %q: published, no trace on garden, no reply", c.Req, c.Text)
		case agentRuns[c.Req] == 0:
			classes["published, not run on garden, answered \""+unstamped(reply)+"\" (garden killed before it ran: its queued session went with it)"]++
		case reply == "":
			classes["ran on garden, reply lost (gateway killed before garden's answer or before its reply)"]++
		case strings.Contains(reply, "went offline before it answered"):
			classes["ran on garden, answered \"went offline before it answered; it may have run\" (garden killed before its answer went out)"]++
		case strings.Contains(reply, "did not answer"):
			classes["ran on garden, answered \"did not answer\" (garden killed before its answer went out)"]++
		default:
			answered++
		}
	}
	totalKills := 0
	for _, k := range kills {
		totalKills += k
	}
	ranOnGarden := 0
	for _, c := range all {
		if c.Req != "" && agentRuns[c.Req] > 0 {
			ranOnGarden++
		}
	}
	t.Logf("chaos fleet: %d commands, %d kills %v, %d gateway lives, %d agent lives, %d ran on garden, %d answered, lost %v",
		len(all), totalKills, kills, len(gws), len(agents), ranOnGarden, answered, classes)
	checkNoSecret(t, append(r.fake.secrets(), gatewayPW, gardenPW), append(slices.Clone(gws), agents...), r.gateway.StateDir, r.agent.StateDir)
}

// unstamped is a reply without the stamp that makes it unique: "garden
// did not answer in 10s (12:03:16)" is "garden did not answer in 10s".
func unstamped(reply string) string {
	if i := strings.LastIndex(reply, " ("); i > 0 && strings.HasSuffix(reply, ")") {
		return reply[:i]
	}
	return reply
}
