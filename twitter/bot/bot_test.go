package bot

import (
	"github.com/tweetpi/tweetpi/twitter"

	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

// windowClient is a Client whose endpoints keep fixed rate-limit windows
// like the API's: the window opens at the first request and resets after
// its length; a request past the limit is a 429. It counts every request,
// so scheduler tests can assert that the bot never causes a 429. Posts and
// DMs are added by the test. It is for the bot's own logic; the clients
// themselves are tested against twittertest.
type windowClient struct {
	mu      sync.Mutex
	account twitter.User
	posts   []twitter.Post // oldest first
	dms     []twitter.DM
	limits  map[string]*window
	rl      map[string]twitter.RateLimit
	calls   map[string][]time.Time
	over    map[string]int // 429s caused
	replies []string
	sentDMs []string
	nextID  int64
	fail    map[string][]error // errors returned by the next calls
	posted  map[string]bool    // reply texts sent: the API refuses duplicates

	sendDelay time.Duration // how long SendDM takes (ctx may end it sooner)
	sending   chan string   // receives the text of each SendDM as it starts, when set
	onSend    func()        // called as each SendDM starts, when set
	loseDMs   int           // the next SendDMs take effect, and their answer is lost
}

type window struct {
	limit int
	every time.Duration
	start time.Time
	used  int
}

func newWindowClient() *windowClient {
	return &windowClient{
		account: twitter.User{ID: "1", Username: "mypi"},
		limits:  map[string]*window{},
		rl:      map[string]twitter.RateLimit{},
		calls:   map[string][]time.Time{},
		over:    map[string]int{},
		fail:    map[string][]error{},
		nextID:  1000,
	}
}

func (c *windowClient) setLimit(ep string, limit int, every time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limits[ep] = &window{limit: limit, every: every}
}

// hit counts a request and applies the window; it returns a 429 when over.
func (c *windowClient) hit(ep string) error {
	now := time.Now()
	c.calls[ep] = append(c.calls[ep], now)
	if errs := c.fail[ep]; len(errs) > 0 {
		c.fail[ep] = errs[1:]
		return errs[0]
	}
	w, ok := c.limits[ep]
	if !ok {
		return nil
	}
	if w.start.IsZero() || !now.Before(w.start.Add(w.every)) {
		w.start, w.used = now, 0
	}
	reset := w.start.Add(w.every).Truncate(time.Second).Add(time.Second)
	if w.used >= w.limit {
		c.over[ep]++
		return &twitter.APIError{Kind: twitter.KindRateLimited, Endpoint: ep, Status: 429, Reset: reset}
	}
	w.used++
	c.rl[ep] = twitter.RateLimit{Limit: w.limit, Remaining: w.limit - w.used, Reset: reset, Seen: now}
	return nil
}

func (c *windowClient) addPost(author twitter.User, text string, age time.Duration) twitter.Post {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	p := twitter.Post{ID: strconv.FormatInt(c.nextID, 10), AuthorID: author.ID, AuthorUsername: author.Username, Text: text, CreatedAt: time.Now().Add(-age)}
	c.posts = append(c.posts, p)
	return p
}

func (c *windowClient) addDM(from twitter.User, text string) twitter.DM {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	d := twitter.DM{ID: strconv.FormatInt(c.nextID, 10), SenderID: from.ID, Text: text, CreatedAt: time.Now()}
	c.dms = append(c.dms, d)
	return d
}

func (c *windowClient) Version() string { return "test" }

func (c *windowClient) Me(ctx context.Context) (twitter.User, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.hit(twitter.EndpointMe); err != nil {
		return twitter.User{}, err
	}
	return c.account, nil
}

func (c *windowClient) UserByUsername(ctx context.Context, name string) (twitter.User, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.hit(twitter.EndpointUserByName); err != nil {
		return twitter.User{}, err
	}
	switch strings.ToLower(strings.TrimPrefix(name, "@")) {
	case "alice":
		return alice, nil
	case "bob":
		return bob, nil
	}
	return twitter.User{}, &twitter.APIError{Kind: twitter.KindNotFound, Endpoint: twitter.EndpointUserByName, Status: 404}
}

func (c *windowClient) Mentions(ctx context.Context, userID string, p twitter.MentionsParams) ([]twitter.Post, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.hit(twitter.EndpointMentions); err != nil {
		return nil, err
	}
	var out []twitter.Post
	for _, m := range c.posts {
		if p.SinceID == "" || twitter.IDLess(p.SinceID, m.ID) {
			out = append(out, m)
		}
	}
	if p.MaxPages == 1 && p.MaxResults > 0 && len(out) > p.MaxResults {
		out = out[len(out)-p.MaxResults:]
	}
	return out, nil
}

func (c *windowClient) DirectMessages(ctx context.Context, p twitter.DMParams) ([]twitter.DM, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.hit(twitter.EndpointDMEvents); err != nil {
		return nil, err
	}
	dms := c.dms
	if p.MaxPages == 1 && p.MaxResults > 0 && len(dms) > p.MaxResults {
		dms = dms[len(dms)-p.MaxResults:] // the newest page
	}
	return slices.Clone(dms), nil
}

func (c *windowClient) Reply(ctx context.Context, inReplyTo, text string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.hit(twitter.EndpointPost); err != nil {
		return "", err
	}
	if c.posted[text] {
		return "", &twitter.APIError{Kind: twitter.KindDuplicate, Endpoint: twitter.EndpointPost, Status: 403, Title: "Forbidden", Detail: "You are not allowed to create a Tweet with duplicate content."}
	}
	if c.posted == nil {
		c.posted = map[string]bool{}
	}
	c.posted[text] = true
	c.replies = append(c.replies, inReplyTo+" "+text)
	c.nextID++
	return strconv.FormatInt(c.nextID, 10), nil
}

func (c *windowClient) SendDM(ctx context.Context, to, text string) (string, error) {
	if c.sending != nil {
		c.sending <- text
	}
	if c.onSend != nil {
		c.onSend()
	}
	if c.sendDelay > 0 {
		select {
		case <-time.After(c.sendDelay):
		case <-ctx.Done():
			return "", fmt.Errorf("%s: %w", twitter.EndpointSendDM, ctx.Err())
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.hit(twitter.EndpointSendDM); err != nil {
		return "", err
	}
	c.sentDMs = append(c.sentDMs, to+" "+text)
	c.nextID++
	d := twitter.DM{ID: strconv.FormatInt(c.nextID, 10), SenderID: c.account.ID, Text: text, CreatedAt: time.Now(), ConversationID: conversation(c.account.ID, to)}
	c.dms = append(c.dms, d)
	if c.loseDMs > 0 {
		c.loseDMs--
		return "", &twitter.APIError{Kind: twitter.KindTransient, Endpoint: twitter.EndpointSendDM, Err: fmt.Errorf("no answer within 15s")}
	}
	return d.ID, nil
}

func (c *windowClient) RateLimits() map[string]twitter.RateLimit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.rl)
}

func (c *windowClient) ServerDate() time.Time { return time.Now() }

func (c *windowClient) count(ep string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls[ep])
}

var (
	alice    = twitter.User{ID: "100", Username: "alice"}
	bob      = twitter.User{ID: "200", Username: "bob"}
	stranger = twitter.User{ID: "666", Username: "mallory"}
)

// recorder is a Handler that records the commands it ran.
type recorder struct {
	mu  sync.Mutex
	ran []Command
}

func (r *recorder) Handle(ctx context.Context, c Command) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ran = append(r.ran, c)
	return "ok: " + c.Text
}

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.ran {
		out = append(out, c.Text)
	}
	return out
}

// startBot starts a bot on c in dir and runs it until the returned stop is called.
func startBot(t *testing.T, c twitter.Client, h Handler, dir string, opt Options) (stop func() error) {
	t.Helper()
	opt.Client, opt.Handler, opt.StateDir = c, h, dir
	if opt.Allow == nil {
		opt.Allow = []string{"@alice"}
	}
	opt.Reply = true
	if opt.ClockFloor.IsZero() {
		opt.ClockFloor = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) // synctest's clock starts in 2000
	}
	b, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	if err := b.Start(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

func TestBotRunsAllowedOnceAndIgnoresOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		c.addPost(alice, "@mypi led on", time.Minute) // before the first start: never runs
		dir := t.TempDir()
		h := &recorder{}
		stop := startBot(t, c, h, dir, Options{PollInterval: time.Second, Listen: []string{InboxMentions, InboxDMs}})
		time.Sleep(2 * time.Second)
		c.addPost(alice, "@mypi fan 40%", 0)
		c.addPost(stranger, "@mypi led off", 0)
		c.addPost(c.account, "@mypi led off", 0) // our own post
		c.addDM(alice, "pump on")
		c.addDM(stranger, "pump off")
		time.Sleep(3 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		// A restart sees the same posts again and runs none of them.
		stop = startBot(t, c, h, dir, Options{PollInterval: time.Second, Listen: []string{InboxMentions, InboxDMs}})
		time.Sleep(3 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		// The two inboxes are polled on their own schedules: order holds within an
		// inbox, not across them.
		got := h.texts()
		slices.Sort(got)
		if want := []string{"@mypi fan 40%", "pump on"}; !slices.Equal(got, want) {
			t.Errorf("ran %q, want %q", got, want)
		}
		if len(c.replies) != 1 || !strings.HasPrefix(c.replies[0], "1002 ok: @mypi fan 40%") {
			t.Errorf("replies = %q, want one threaded reply to 1002", c.replies)
		}
		if len(c.sentDMs) != 1 || !strings.HasPrefix(c.sentDMs[0], alice.ID+" ok: pump on") {
			t.Errorf("DMs = %q, want one to alice", c.sentDMs)
		}
	})
}

// TestBotStateWriteFailsNothingLost: when the state file cannot be written
// (a full or vanished disk), a command is not recorded, so it does not run;
// once the write works again it runs, once, and is answered.
func TestBotStateWriteFailsNothingLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		h := &recorder{}
		stop := startBot(t, c, h, dir, Options{PollInterval: time.Second})
		time.Sleep(2 * time.Second)
		if err := os.Rename(dir, dir+".away"); err != nil { // every write now fails
			t.Fatal(err)
		}
		post := c.addPost(alice, "@mypi led on", 0)
		time.Sleep(10 * time.Second)
		if got := h.texts(); len(got) != 0 {
			t.Errorf("ran %q while the state could not be written; it must wait", got)
		}
		if err := os.Rename(dir+".away", dir); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute) // past the poll's backoff
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := h.texts(); len(got) != 1 || got[0] != "@mypi led on" {
			t.Errorf("ran %q, want the command once after the state could be written", got)
		}
		if len(c.replies) != 1 {
			t.Errorf("replies %q, want one", c.replies)
		}
		st, err := LoadState(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.MentionsTaken != post.ID {
			t.Errorf("state records %q taken, want %s", st.MentionsTaken, post.ID)
		}
	})
}

// TestBotStopLetsASendFinish: a DM reply under way when the bot is told to
// stop finishes (within sendGrace) and counts as sent, so a restart does
// not send it again; X would take the same DM twice.
func TestBotStopLetsASendFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		c.sendDelay, c.sending = time.Second, make(chan string, 1)
		dir := t.TempDir()
		opt := Options{PollInterval: time.Second, Listen: []string{InboxDMs}}
		stop := startBot(t, c, &recorder{}, dir, opt)
		time.Sleep(2 * time.Second)
		c.addDM(alice, "pump on")
		<-c.sending
		time.Sleep(100 * time.Millisecond)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if len(c.sentDMs) != 1 {
			t.Fatalf("DMs %q, want the reply under way at the stop sent", c.sentDMs)
		}
		c.sendDelay, c.sending = 0, nil
		stop = startBot(t, c, &recorder{}, dir, opt)
		time.Sleep(5 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if len(c.sentDMs) != 1 {
			t.Errorf("DMs %q after a restart, want the one reply once", c.sentDMs)
		}
	})
}

// TestBotStopKeepsQueuedReply: a reply that cannot finish within the grace
// (or has not started) stays queued in the state, and the next start sends
// it; a stop loses no answer.
func TestBotStopKeepsQueuedReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		c.sendDelay, c.sending = time.Minute, make(chan string, 1)
		dir := t.TempDir()
		opt := Options{PollInterval: time.Second, Listen: []string{InboxDMs}}
		h := &recorder{}
		stop := startBot(t, c, h, dir, opt)
		time.Sleep(2 * time.Second)
		c.addDM(alice, "pump on")
		<-c.sending
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if len(c.sentDMs) != 0 {
			t.Fatalf("DMs %q: the send was cut short, none should count", c.sentDMs)
		}
		st, err := LoadState(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Outbox) != 1 || !strings.HasPrefix(st.Outbox[0].Text, "ok: pump on") {
			t.Fatalf("outbox at stop %+v, want the reply kept", st.Outbox)
		}
		c.sendDelay, c.sending = 0, nil
		stop = startBot(t, c, h, dir, opt)
		time.Sleep(5 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if len(c.sentDMs) != 1 || !strings.HasPrefix(c.sentDMs[0], alice.ID+" ok: pump on") {
			t.Errorf("DMs %q, want the kept reply sent once after the restart", c.sentDMs)
		}
		if got := h.texts(); len(got) != 1 {
			t.Errorf("ran %q, want the command once", got)
		}
	})
}

func TestBotTooOld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		h := &recorder{}
		stop := startBot(t, c, h, t.TempDir(), Options{PollInterval: time.Second, MaxAge: time.Minute})
		time.Sleep(2 * time.Second)
		c.addPost(alice, "@mypi led on", 2*time.Minute)
		time.Sleep(2 * time.Second)
		stop()
		if len(h.texts()) != 0 {
			t.Errorf("ran %q; an old command must not run", h.texts())
		}
		if len(c.replies) != 1 || !strings.Contains(c.replies[0], "Too old, not run") {
			t.Errorf("replies = %q, want a too-old answer", c.replies)
		}
	})
}

// TestSchedulerStaysInsideWindows runs a simulated day on each tier's
// published mention limit and checks that the bot causes no 429 and uses
// at least 90% of the polls the limit allows.
func TestSchedulerStaysInsideWindows(t *testing.T) {
	for _, tc := range []struct {
		tier  string
		limit int
		every time.Duration
	}{
		{"free", 1, 15 * time.Minute},
		{"basic", 10, 15 * time.Minute},
		{"pro", 300, 15 * time.Minute},
	} {
		t.Run(tc.tier, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newWindowClient()
				c.setLimit(twitter.EndpointMentions, tc.limit, tc.every)
				stop := startBot(t, c, &recorder{}, t.TempDir(), Options{PollInterval: time.Second})
				const day = 24 * time.Hour
				time.Sleep(day)
				stop()
				if n := c.over[twitter.EndpointMentions]; n != 0 {
					t.Errorf("%d requests over the limit", n)
				}
				allowed := int(day/tc.every) * tc.limit
				if polls := c.count(twitter.EndpointMentions); float64(polls) < 0.9*float64(allowed) {
					t.Errorf("%d polls of %d allowed (%.0f%%), want at least 90%%", polls, allowed, 100*float64(polls)/float64(allowed))
				}
			})
		})
	}
}

func TestBotWaitsOut429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		reset := time.Now().Add(10 * time.Minute).Truncate(time.Second)
		c.fail[twitter.EndpointMentions] = []error{
			nil, // the first start
			&twitter.APIError{Kind: twitter.KindRateLimited, Endpoint: twitter.EndpointMentions, Status: 429, Reset: reset},
		}
		stop := startBot(t, c, &recorder{}, t.TempDir(), Options{PollInterval: time.Second})
		time.Sleep(15 * time.Minute)
		stop()
		calls := c.calls[twitter.EndpointMentions]
		if len(calls) < 3 {
			t.Fatalf("%d calls, want polling to go on after the reset", len(calls))
		}
		if next := calls[2]; next.Before(reset) {
			t.Errorf("polled at %s, before the reset at %s", next, reset)
		}
	})
}

func TestBotBacksOffOnTransient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		var errs []error
		for range 8 {
			errs = append(errs, &twitter.APIError{Kind: twitter.KindTransient, Endpoint: twitter.EndpointMentions, Status: 503})
		}
		c.fail[twitter.EndpointMentions] = append([]error{nil}, errs...)
		h := &recorder{}
		stop := startBot(t, c, h, t.TempDir(), Options{PollInterval: time.Second})
		time.Sleep(time.Second)
		c.addPost(alice, "@mypi led on", 0)
		time.Sleep(30 * time.Minute)
		stop()
		calls := c.calls[twitter.EndpointMentions]
		if len(calls) < 10 {
			t.Fatalf("%d polls, want 1 + 8 failures + recovery", len(calls))
		}
		// The waits after failures grow (2, 4, 8... s, with jitter in [d/2,
		// d)) to the cap, max(poll_interval, 30s).
		for i := 2; i <= 9; i++ {
			gap := calls[i].Sub(calls[i-1])
			if floor := min(time.Second<<(i-1), 30*time.Second) / 2; gap < floor {
				t.Errorf("wait before retry %d was %s, want at least %s", i-1, gap, floor)
			}
		}
		if got := h.texts(); len(got) != 1 {
			t.Errorf("ran %q after recovering, want the one command", got)
		}
	})
}

func TestBotUnauthorizedAtStartIsFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		c.fail[twitter.EndpointMe] = []error{&twitter.APIError{Kind: twitter.KindUnauthorized, Endpoint: twitter.EndpointMe, Status: 401, Title: "Unauthorized"}}
		b, err := New(Options{Client: c, Handler: &recorder{}, StateDir: t.TempDir(), ClockFloor: time.Now().Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		err = b.Start(t.Context(), "1")
		var f *Fatal
		if !asFatal(err, &f) {
			t.Fatalf("Start = %v, want *Fatal", err)
		}
		if !strings.Contains(err.Error(), "keys") {
			t.Errorf("message %q does not say the keys are wrong", err)
		}
	})
}

// TestBotWaitsForTheClock: a Pi without a real-time clock boots in 1970;
// nothing may reach the API before the clock is set.
func TestBotWaitsForTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		set := time.Now().Add(time.Hour) // "NTP sets the clock" an hour from now
		b, err := New(Options{Client: c, Handler: &recorder{}, StateDir: t.TempDir(), ClockFloor: set})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(t.Context(), "1"); err != nil {
			t.Fatal(err)
		}
		calls := c.calls[twitter.EndpointMe]
		if len(calls) != 1 || calls[0].Before(set) {
			t.Errorf("users/me called at %v, want once, not before %s", calls, set)
		}
	})
}

func asFatal(err error, f **Fatal) bool {
	for err != nil {
		if x, ok := err.(*Fatal); ok {
			*f = x
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestStateCorruptIsRefused(t *testing.T) {
	for name, body := range map[string]string{
		"empty":     "",
		"torn":      `{"version":1,"mentions_since":"12`,
		"garbage":   "\x00\x01garbage",
		"bad id":    `{"version":1,"mentions_since":"abc","saved":"2026-01-01T00:00:00Z"}`,
		"unknown":   `{"version":1,"whatever":true,"saved":"2026-01-01T00:00:00Z"}`,
		"version 9": `{"version":9,"saved":"2026-01-01T00:00:00Z"}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, StateFile), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadState(dir)
			if err == nil || !strings.Contains(err.Error(), "state file is corrupt") || !strings.Contains(err.Error(), "mv ") {
				t.Errorf("LoadState = %v, want a corrupt-state error that says what to do", err)
			}
		})
	}
}

func TestStateRoundTripAndLeftoverTemp(t *testing.T) {
	dir := t.TempDir()
	// A crash mid-write leaves a temp file behind; it must not matter.
	if err := os.WriteFile(filepath.Join(dir, ".state.json.tmp-123"), []byte(`{"versi`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &State{AccountID: "1", MentionsSince: "99", MentionsTaken: "100", MentionsStarted: true}
	for i := range maxSeenDMs + 10 {
		s.markDM(strconv.Itoa(1000 + i))
	}
	if err := s.Save(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.MentionsTaken != "100" || len(got.SeenDMs) != maxSeenDMs {
		t.Errorf("loaded %+v", got)
	}
	// Ids dropped from the list still count as seen.
	if !got.seenDM("1000") || !got.seenDM("1009") || got.seenDM("99999") {
		t.Errorf("seenDM wrong around the floor %s", got.DMsFloor)
	}
	fi, err := os.Stat(filepath.Join(dir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestCheckStateDir(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	link := filepath.Join(base, "link")
	if err := os.Symlink(open, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{open, "chmod 700"},
		{link, "is a symlink"},
	} {
		if err := CheckStateDir(tc.dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckStateDir(%s) = %v, want %q", tc.dir, err, tc.want)
		}
	}
	fresh := filepath.Join(base, "fresh")
	if err := CheckStateDir(fresh); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created %v %v, want mode 0700", fi, err)
	}
}

func TestReplyText(t *testing.T) {
	b := &Bot{}
	long := strings.Repeat("é", 300)
	for _, tc := range []struct {
		in       string
		contains string
		absent   string
	}{
		{"led: on", "led: on (", ""},
		{"see https://example.com/x for more", "see for more", "example"},
		{"visit example.com now", "visit now", "example"},
		{"temp 21.5°C, up 1.5h.", "temp 21.5°C, up 1.5h.", ""},
		{long, "…", ""},
	} {
		got := b.replyText(tc.in)
		if !strings.Contains(got, tc.contains) || (tc.absent != "" && strings.Contains(got, tc.absent)) {
			t.Errorf("replyText(%.30q) = %q", tc.in, got)
		}
		if w := config.Weight(got); w > MaxPostWeight {
			t.Errorf("replyText(%.30q) weighs %d", tc.in, w)
		}
	}
	a, b2 := b.replyText("same"), b.replyText("same")
	if a == b2 {
		t.Errorf("two replies in the same second are both %q; the API refuses duplicates", a)
	}
	if fmt.Sprint(config.Weight("日本")) != "4" {
		t.Errorf("CJK weighs 2 each")
	}
}

// TestReplyTextTakenByAnEarlierRun: a run killed and restarted within the
// second may find its reply's text already posted (to another post) by the
// run before; the API refuses it as a duplicate. The reply must still go
// out, with a text of its own, not be counted as sent.
func TestReplyTextTakenByAnEarlierRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		h := &recorder{}
		stop := startBot(t, c, h, t.TempDir(), Options{PollInterval: time.Second})
		time.Sleep(1500 * time.Millisecond)
		p := c.addPost(alice, "@mypi led on", 0)
		// The earlier run's texts for every second the reply may go out in,
		// with the counters it used.
		c.mu.Lock()
		c.posted = map[string]bool{}
		for s := range 5 {
			clock := time.Now().Add(time.Duration(s) * time.Second).UTC().Format("15:04:05")
			c.posted["ok: @mypi led on ("+clock+")"] = true
			for n := 2; n <= 8; n++ {
				c.posted[fmt.Sprintf("ok: @mypi led on (%s #%d)", clock, n)] = true
			}
		}
		c.mu.Unlock()
		time.Sleep(3 * time.Second)
		stop()
		if len(c.replies) != 1 || !strings.HasPrefix(c.replies[0], p.ID+" ok: @mypi led on (") {
			t.Fatalf("replies %q, want the command answered once", c.replies)
		}
	})
}

// TestBotWarnsWhenLimitOutlastsMaxAge: on the Free tier mentions are read
// once per 15 minutes; with the default max_age of 10 minutes a command
// could wait for a poll past its age. The log must say so, once.
func TestBotWarnsWhenLimitOutlastsMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		c := newWindowClient()
		c.setLimit(twitter.EndpointMentions, 1, 15*time.Minute)
		stop := startBot(t, c, &recorder{}, t.TempDir(), Options{
			PollInterval: time.Second, MaxAge: 10 * time.Minute,
			Logger: slog.New(slog.NewTextHandler(&buf, nil)),
		})
		time.Sleep(time.Hour)
		stop()
		if n := strings.Count(buf.String(), "raise max_age above the gap"); n != 1 {
			t.Errorf("warned %d times, want once:\n%s", n, buf.String())
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBotNotifyDMsAllowedUsers: an input change (a text on Notify) goes out
// as a DM to every allowed user, and to nobody else.
func TestBotNotifyDMsAllowedUsers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		notify := make(chan string, 1)
		stop := startBot(t, c, &recorder{}, t.TempDir(), Options{
			PollInterval: time.Second, Allow: []string{"@alice", bob.ID}, Notify: notify,
		})
		time.Sleep(2 * time.Second)
		notify <- "door: open"
		time.Sleep(2 * time.Second)
		stop()
		got := append([]string(nil), c.sentDMs...)
		slices.Sort(got)
		if len(got) != 2 || !strings.HasPrefix(got[0], alice.ID+" door: open (") || !strings.HasPrefix(got[1], bob.ID+" door: open (") {
			t.Errorf("DMs %q, want \"door: open\" to alice and bob only", got)
		}
	})
}
