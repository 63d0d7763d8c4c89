package bot

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
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
