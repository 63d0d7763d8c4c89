package bot

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// runBot is startBot that also returns the bot, to reload it.
func runBot(t *testing.T, c twitter.Client, h Handler, opt Options) (*Bot, func() error) {
	t.Helper()
	opt.Client, opt.Handler, opt.StateDir = c, h, t.TempDir()
	if opt.Allow == nil {
		opt.Allow = []string{"@alice"}
	}
	if opt.ClockFloor.IsZero() {
		opt.ClockFloor = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
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
	return b, func() error { cancel(); return <-done }
}

// settings are a reload of opt's values, changed by f.
func settings(opt Options, f func(*Settings)) Settings {
	s := Settings{Listen: opt.Listen, PollInterval: opt.PollInterval, Allow: opt.Allow, Handles: opt.Handles, MaxAge: opt.MaxAge, Reply: opt.Reply}
	f(&s)
	return s
}

// callTimes are the times of the calls to ep since start, as offsets.
func (c *windowClient) callTimes(ep string, start time.Time) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, at := range c.calls[ep] {
		out = append(out, at.Sub(start))
	}
	return out
}

// poll_interval applies at once: the next poll moves to the last one plus
// the new interval, both ways.
func TestReloadPollInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		opt := Options{PollInterval: time.Minute, Allow: []string{"100"}, Reply: true}
		start := time.Now()
		b, stop := runBot(t, c, &recorder{}, opt)
		defer stop()
		time.Sleep(70 * time.Second) // polls at 0 (the starting point) and 60s
		b.Reload(settings(opt, func(s *Settings) { s.PollInterval = 5 * time.Second }))
		time.Sleep(22500 * time.Millisecond) // 92.5s: polls at 70s (60+5 has passed: at once), 75, 80, 85, 90
		b.Reload(settings(opt, func(s *Settings) { s.PollInterval = 30 * time.Second }))
		time.Sleep(62500 * time.Millisecond) // 155s: polls at 120, 150
		got := c.callTimes(twitter.EndpointMentions, start)
		want := []time.Duration{0, 60 * time.Second, 70 * time.Second, 75 * time.Second, 80 * time.Second, 85 * time.Second, 90 * time.Second, 120 * time.Second, 150 * time.Second}
		if !slices.Equal(got, want) {
			t.Errorf("polls at %v, want %v", got, want)
		}
	})
}

// A handle new to a device's allow list (Settings.Handles) resolves at the
// reload, with twitter.allow unchanged: the device's check finds its id.
func TestReloadDeviceHandles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		opt := Options{PollInterval: time.Minute, Allow: []string{"@alice", bob.ID}, Handles: []string{"@alice"}}
		b, stop := runBot(t, c, &recorder{}, opt)
		defer stop()
		time.Sleep(time.Second)
		if _, ok := b.UserID("@bob"); ok {
			t.Fatal("@bob resolved before any device named him")
		}
		<-b.Reload(settings(opt, func(s *Settings) { s.Handles = []string{"@alice", "@bob"} }))
		if id, ok := b.UserID("@bob"); !ok || id != bob.ID {
			t.Errorf("after the reload UserID(@bob) = %q, %v, want %s", id, ok, bob.ID)
		}
	})
}

// An inbox listened to again after a run without it starts as at a first
// start, across restarts as at a reload: the mentions made while the bot
// listened to DMs only neither run nor are answered "too old" one by one.
func TestRestartListenAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		dir := t.TempDir()
		h := &recorder{}
		both := Options{PollInterval: time.Second, Listen: []string{InboxMentions, InboxDMs}}
		stop := startBot(t, c, h, dir, both)
		time.Sleep(2 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		stop = startBot(t, c, h, dir, Options{PollInterval: time.Second, Listen: []string{InboxDMs}})
		time.Sleep(2 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			c.addPost(alice, "@mypi led on", 30*time.Minute) // older than max_age
		}
		c.addPost(alice, "@mypi fan 10%", 20*time.Minute)
		stop = startBot(t, c, h, dir, both)
		time.Sleep(3 * time.Second)
		fresh := c.addPost(alice, "@mypi fan 20%", 0)
		time.Sleep(3 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := h.texts(); !slices.Equal(got, []string{fresh.Text}) {
			t.Errorf("ran %q, want only the mention made after the restart", got)
		}
		c.mu.Lock()
		replies := slices.Clone(c.replies)
		c.mu.Unlock()
		if len(replies) != 1 || !strings.HasPrefix(replies[0], fresh.ID+" ") {
			t.Errorf("replies %q, want one to %s", replies, fresh.ID)
		}
	})
}

// max_age and reply apply to the next command.
func TestReloadMaxAgeAndReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		h := &recorder{}
		opt := Options{PollInterval: time.Second, Allow: []string{"100"}, Reply: true}
		b, stop := runBot(t, c, h, opt)
		defer stop()
		time.Sleep(2 * time.Second)
		c.addPost(alice, "@mypi led on", 2*time.Minute)
		time.Sleep(2 * time.Second)
		b.Reload(settings(opt, func(s *Settings) { s.MaxAge = time.Minute }))
		time.Sleep(100 * time.Millisecond) // between two polls
		c.addPost(alice, "@mypi led off", 2*time.Minute)
		time.Sleep(2 * time.Second)
		b.Reload(settings(opt, func(s *Settings) { s.MaxAge = time.Minute; s.Reply = false }))
		time.Sleep(100 * time.Millisecond)
		c.addPost(alice, "@mypi fan 40%", 0)
		c.addPost(alice, "@mypi fan 0%", 5*time.Minute)
		time.Sleep(2 * time.Second)
		if got, want := h.texts(), []string{"@mypi led on", "@mypi fan 40%"}; !slices.Equal(got, want) {
			t.Errorf("ran %q, want %q", got, want)
		}
		c.mu.Lock()
		replies := slices.Clone(c.replies)
		c.mu.Unlock()
		if len(replies) != 2 || !strings.Contains(replies[0], "ok: @mypi led on") || !strings.Contains(replies[1], "Too old, not run: sent 2m") || !strings.Contains(replies[1], "the limit is 1m") {
			t.Errorf("replies %q, want led on answered and led off too old for 1m; none after reply: false", replies)
		}
	})
}

// allow applies at once, and is resolved again only when it changed.
func TestReloadAllow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		h := &recorder{}
		opt := Options{PollInterval: time.Second, Allow: []string{"@alice"}, Reply: true}
		b, stop := runBot(t, c, h, opt)
		defer stop()
		time.Sleep(2 * time.Second)
		c.addPost(bob, "@mypi led on", 0)
		time.Sleep(2 * time.Second)
		lookups := c.count(twitter.EndpointUserByName)
		for range 20 {
			b.Reload(settings(opt, func(*Settings) {}))
			time.Sleep(100 * time.Millisecond)
		}
		if n := c.count(twitter.EndpointUserByName); n != lookups {
			t.Errorf("%d handle lookups for 20 reloads of the same allow list, want none", n-lookups)
		}
		b.Reload(settings(opt, func(s *Settings) { s.Allow = []string{"@bob"} }))
		time.Sleep(100 * time.Millisecond)
		c.addPost(bob, "@mypi led off", 0)
		c.addPost(alice, "@mypi fan 40%", 0)
		time.Sleep(2 * time.Second)
		if got, want := h.texts(), []string{"@mypi led off"}; !slices.Equal(got, want) {
			t.Errorf("ran %q, want only bob's post after the reload", got)
		}
	})
}

// An inbox newly listened to starts from its newest item, as at a first
// start: nothing older runs, even when it was listened to before; one no
// longer listened to is polled no more.
func TestReloadListen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		h := &recorder{}
		opt := Options{PollInterval: time.Second, Allow: []string{"100"}, Reply: true, Listen: []string{InboxDMs}}
		b, stop := runBot(t, c, h, opt)
		defer stop()
		c.addPost(alice, "@mypi led on", 0) // before mentions are listened to
		time.Sleep(2 * time.Second)
		if n := c.count(twitter.EndpointMentions); n != 0 {
			t.Fatalf("%d mention polls before mentions are listened to", n)
		}
		b.Reload(settings(opt, func(s *Settings) { s.Listen = []string{InboxDMs, InboxMentions} }))
		time.Sleep(2 * time.Second)
		c.addPost(alice, "@mypi led off", 0)
		time.Sleep(2 * time.Second)
		// Mentions go; a mention while they are not listened to.
		b.Reload(settings(opt, func(s *Settings) { s.Listen = []string{InboxDMs} }))
		time.Sleep(time.Second)
		polls := c.count(twitter.EndpointMentions)
		c.addPost(alice, "@mypi fan 40%", 0)
		time.Sleep(5 * time.Second)
		if n := c.count(twitter.EndpointMentions); n != polls {
			t.Errorf("%d mention polls after mentions were no longer listened to", n-polls)
		}
		// Back again: the mention of meanwhile does not run.
		b.Reload(settings(opt, func(s *Settings) { s.Listen = []string{InboxMentions, InboxDMs} }))
		time.Sleep(2 * time.Second)
		c.addPost(alice, "@mypi fan 0%", 0)
		c.addDM(alice, "pump on")
		time.Sleep(3 * time.Second)
		got := h.texts()
		slices.Sort(got)
		if want := []string{"@mypi fan 0%", "@mypi led off", "pump on"}; !slices.Equal(got, want) {
			t.Errorf("ran %q, want %q", got, want)
		}
	})
}

// A reload is logged by whoever reloads: the bot says nothing of it.
func TestReloadSaysNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var lines []string
		c := newWindowClient()
		opt := Options{PollInterval: time.Second, Allow: []string{"100"}, Reply: true, Logger: slog.New(logFunc(func(msg string) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, msg)
		}))}
		b, stop := runBot(t, c, &recorder{}, opt)
		time.Sleep(2 * time.Second)
		mu.Lock()
		before := len(lines)
		mu.Unlock()
		b.Reload(settings(opt, func(s *Settings) { s.MaxAge = time.Hour }))
		time.Sleep(200 * time.Millisecond)
		stop()
		mu.Lock()
		defer mu.Unlock()
		for _, l := range lines[before:] {
			if strings.Contains(l, "reload") {
				t.Errorf("the bot logged %q", l)
			}
		}
	})
}

// logFunc is a slog.Handler that hands each message to a func.
type logFunc func(msg string)

func (f logFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (f logFunc) Handle(_ context.Context, r slog.Record) error { f(r.Message); return nil }
func (f logFunc) WithAttrs([]slog.Attr) slog.Handler            { return f }
func (f logFunc) WithGroup(string) slog.Handler                 { return f }

// Reload's channel closes once the loop took the settings, that of a
// Reload a later one replaced too; it stays open while Run does not run.
func TestReloadDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		opt := Options{PollInterval: time.Second, Allow: []string{"100"}, Reply: true}
		opt.Client, opt.Handler, opt.StateDir = c, &recorder{}, t.TempDir()
		opt.ClockFloor = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
		b, err := New(opt)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		if err := b.Start(ctx, "1"); err != nil {
			t.Fatal(err)
		}
		first := b.Reload(settings(opt, func(s *Settings) { s.MaxAge = time.Hour }))
		second := b.Reload(settings(opt, func(s *Settings) { s.MaxAge = 2 * time.Hour }))
		time.Sleep(time.Minute)
		select {
		case <-first:
			t.Fatal("applied before Run")
		default:
		}
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		<-first
		<-second
		if b.opt.MaxAge != 2*time.Hour {
			t.Errorf("max_age %s, want the later reload's", b.opt.MaxAge)
		}
		cancel()
		<-done
	})
}
