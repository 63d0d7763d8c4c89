package bot

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// TestLoadedOutboxBounded: a state file that holds 5,000 queued DMs (an
// older tweetpi's, or a person's edit) is held to the outbox's bound when
// loaded: its newest 50 are sent, not 5,000.
func TestLoadedOutboxBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		dir := t.TempDir()
		st := &State{AccountID: c.account.ID, AccountUsername: c.account.Username, KeyID: "1",
			MentionsStarted: true, DMsStarted: true, Handles: map[string]string{"alice": alice.ID}}
		for i := range 5000 {
			st.Outbox = append(st.Outbox, Outgoing{Inbox: InboxDMs, To: alice.ID, Text: fmt.Sprintf("reply %d", i), Queued: time.Now()})
		}
		if err := st.Save(dir, time.Now()); err != nil {
			t.Fatal(err)
		}
		stop := startBot(t, c, &recorder{}, dir, Options{PollInterval: time.Second})
		time.Sleep(time.Hour)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if n := len(c.sentDMs); n != maxOutbox {
			t.Fatalf("%d DMs sent from a loaded outbox of 5000, want its bound %d", n, maxOutbox)
		}
		if !strings.HasPrefix(c.sentDMs[0], alice.ID+" reply 4950") || !strings.HasPrefix(c.sentDMs[49], alice.ID+" reply 4999") {
			t.Errorf("sent %q ... %q, want the newest 50 in order", c.sentDMs[0], c.sentDMs[49])
		}
	})
}

// TestReplyStampsUnique: however many replies go out in one second, no
// two have the same text (the API refuses a repeated post, and a repeated
// text is then taken for one sent before).
func TestReplyStampsUnique(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &Bot{}
		seen := map[string]bool{}
		for i := range 500 {
			text := b.replyText("led is on")
			if seen[text] {
				t.Fatalf("reply %d repeats %q", i, text)
			}
			seen[text] = true
		}
	})
}

// TestUnsureDMAcrossRestart: a DM reply whose answer was lost is kept in
// the state as unsure; after a restart it is looked for among the sent DMs
// before it goes again, and, found there, is not sent a second time.
func TestUnsureDMAcrossRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		c.loseDMs = 1
		c.setLimit(twitter.EndpointSendDM, 1, time.Hour) // the retry waits past the stop
		dir := t.TempDir()
		opt := Options{PollInterval: time.Second, Listen: []string{InboxDMs}}
		stop := startBot(t, c, &recorder{}, dir, opt)
		time.Sleep(2 * time.Second)
		c.addDM(alice, "pump on")
		time.Sleep(5 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		st, err := LoadState(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Outbox) != 1 || st.Outbox[0].Unsure.IsZero() {
			t.Fatalf("outbox %+v, want the reply kept, marked unsure", st.Outbox)
		}
		stop = startBot(t, c, &recorder{}, dir, opt)
		time.Sleep(2 * time.Hour)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if len(c.sentDMs) != 1 {
			t.Errorf("DMs %q, want the reply once", c.sentDMs)
		}
		if st, _ := LoadState(dir); len(st.Outbox) != 0 {
			t.Errorf("outbox %+v after the restart, want it empty", st.Outbox)
		}
	})
}

// TestRunReturnsOnFatal: keys refused at the first poll (the account came
// from the state, so users/me was not asked) end Run with *Fatal, and the
// senders beside the loop end with it.
func TestRunReturnsOnFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		c.fail[twitter.EndpointMentions] = []error{&twitter.APIError{Kind: twitter.KindUnauthorized, Endpoint: twitter.EndpointMentions, Status: 401}}
		dir := t.TempDir()
		st := &State{AccountID: c.account.ID, AccountUsername: c.account.Username, KeyID: "1", MentionsStarted: true}
		if err := st.Save(dir, time.Now()); err != nil {
			t.Fatal(err)
		}
		b, err := New(Options{Client: c, Handler: &recorder{}, StateDir: dir, ClockFloor: time.Now().Add(-time.Hour), Allow: []string{"@alice"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Start(t.Context(), "1"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- b.Run(t.Context()) }()
		time.Sleep(time.Minute)
		synctest.Wait()
		select {
		case err := <-done:
			var f *Fatal
			if !asFatal(err, &f) {
				t.Errorf("Run = %v, want *Fatal", err)
			}
		default:
			t.Fatal("Run did not return on refused keys")
		}
	})
}
