package bot

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// TestAllowUnknownHandleAtStart: a handle X has no account for (a typo)
// stops the bot at start (*Fatal: exit 78), naming it and the nearest of
// the other handles; it would otherwise let in whoever registers it.
func TestAllowUnknownHandleAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		b, err := New(Options{Client: c, Handler: &recorder{}, StateDir: t.TempDir(), ClockFloor: time.Now().Add(-time.Hour),
			Allow: []string{"@alice", "123"}, Handles: []string{"@alcie", "@zed"}})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		err = b.Start(t.Context(), "1")
		var f *Fatal
		if !asFatal(err, &f) {
			t.Fatalf("Start = %v, want *Fatal", err)
		}
		for _, want := range []string{"@alcie (did you mean @alice?)", "@zed", "X has no account with this handle"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q does not say %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "@zed (did you mean") {
			t.Errorf("%q suggests a handle for @zed, which is near none", err)
		}
	})
}

// TestAllowPendingLetsNobodyIn: while X cannot be asked about a handle (5xx,
// or a rate limit on the lookup), it lets nobody in, not even a post whose
// author is called by that name; the log says so; the lookup is retried
// with backoff, inside the rate limit, and from then on the person's
// commands run, by id.
func TestAllowPendingLetsNobodyIn(t *testing.T) {
	for name, fail := range map[string][]error{
		"5xx": {&twitter.APIError{Kind: twitter.KindTransient, Endpoint: twitter.EndpointUserByName, Status: 503},
			&twitter.APIError{Kind: twitter.KindTransient, Endpoint: twitter.EndpointUserByName, Status: 503}},
		"429": {&twitter.APIError{Kind: twitter.KindRateLimited, Endpoint: twitter.EndpointUserByName, Status: 429,
			Reset: time.Date(2000, 1, 1, 0, 5, 0, 0, time.UTC)}},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newWindowClient()
				c.fail[twitter.EndpointUserByName] = fail
				var log syncBuffer
				h := &recorder{}
				dir := t.TempDir()
				stop := startBot(t, c, h, dir, Options{PollInterval: time.Second, Listen: []string{InboxMentions, InboxDMs},
					Logger: slog.New(slog.NewTextHandler(&log, nil))})
				time.Sleep(time.Second)
				c.addPost(alice, "@mypi led on", 0) // alice by name, not yet by id
				time.Sleep(2 * time.Second)
				if got := h.texts(); len(got) != 0 {
					t.Errorf("ran %q before @alice was resolved: a name let someone in", got)
				}
				if !strings.Contains(log.String(), "lets nobody in until it resolves") {
					t.Errorf("the log does not say the handle lets nobody in yet:\n%s", log.String())
				}
				time.Sleep(10 * time.Minute)
				c.addPost(alice, "@mypi fan 10%", 0)
				c.addDM(alice, "fan 20%")
				time.Sleep(5 * time.Second)
				if err := stop(); err != nil {
					t.Fatal(err)
				}
				got := h.texts()
				slices.Sort(got) // the two inboxes' order against each other is not fixed
				if got, want := strings.Join(got, "|"), "@mypi fan 10%|fan 20%"; got != want {
					t.Errorf("ran %q, want %q once @alice resolved", got, want)
				}
				if n := c.count(twitter.EndpointUserByName); n != len(fail)+1 {
					t.Errorf("%d lookups, want %d: retried until it resolved, then not again", n, len(fail)+1)
				}
				if !strings.Contains(log.String(), "allow: handle resolved") {
					t.Errorf("the log does not say when the handle resolved")
				}
				st, err := LoadState(dir)
				if err != nil {
					t.Fatal(err)
				}
				if st.Handles["alice"] != alice.ID {
					t.Errorf("handles cached %v, want alice's id", st.Handles)
				}
			})
		})
	}
}
