package bot

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"log/slog"

	"github.com/tweetpi/tweetpi/twitter"
)

// TestBadIDsSkipped: ids from the API that are not X's (letters, 20 and
// more digits, a leading zero, past int64) are skipped and logged, never
// stored: not as the cursor, not as taken. The polls go on, and a good
// command after them runs once.
func TestBadIDsSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		var log syncBuffer
		h := &recorder{}
		dir := t.TempDir()
		stop := startBot(t, c, h, dir, Options{PollInterval: time.Second, Listen: []string{InboxMentions, InboxDMs},
			Logger: slog.New(slog.NewTextHandler(&log, nil))})
		time.Sleep(2 * time.Second)
		bad := []string{"12ab", "123456789012345678901234", "99999999999999999999", "0123", "9223372036854775808"}
		c.mu.Lock()
		for _, id := range bad {
			c.posts = append(c.posts, twitter.Post{ID: id, AuthorID: alice.ID, Text: "@mypi led on " + id, CreatedAt: time.Now()})
			c.dms = append(c.dms, twitter.DM{ID: id, SenderID: alice.ID, Text: "led on " + id, CreatedAt: time.Now()})
		}
		c.mu.Unlock()
		time.Sleep(3 * time.Second)
		c.addPost(alice, "@mypi fan 10%", 0)
		c.addDM(alice, "fan 20%")
		time.Sleep(3 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		got := h.texts()
		slices.Sort(got)
		if want := []string{"@mypi fan 10%", "fan 20%"}; !slices.Equal(got, want) {
			t.Errorf("ran %q, want only the commands with good ids %q", got, want)
		}
		st, err := LoadState(dir)
		if err != nil {
			t.Fatalf("the state file does not load after bad ids: %v", err)
		}
		for _, id := range append(append([]string{st.MentionsSince, st.MentionsTaken, st.DMsFloor}, st.SeenDMs...), st.MentionsSeen...) {
			if id != "" && !twitter.ValidID(id) {
				t.Errorf("the state holds the bad id %q", id)
			}
		}
		for _, id := range bad {
			if !strings.Contains(log.String(), id) {
				t.Errorf("the log does not name the bad id %q", id)
			}
		}
	})
}

// TestBadCursorInStateRepaired: a state file whose mentions cursor and
// floor are decimal but not X's ids (20 digits: every poll would be a 400,
// and every post would count as taken) starts the mentions afresh, like a
// first start: nothing older runs, a new command runs.
func TestBadCursorInStateRepaired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		old := c.addPost(alice, "@mypi led on", time.Minute)
		dir := t.TempDir()
		st := &State{AccountID: c.account.ID, AccountUsername: c.account.Username, KeyID: "1",
			MentionsSince: "99999999999999999999", MentionsTaken: "99999999999999999999", MentionsStarted: true,
			DMsFloor: "99999999999999999999", DMsStarted: true}
		if err := st.Save(dir, time.Now()); err != nil {
			t.Fatal(err)
		}
		h := &recorder{}
		stop := startBot(t, c, h, dir, Options{PollInterval: time.Second, Listen: []string{InboxMentions, InboxDMs}})
		time.Sleep(2 * time.Second)
		c.addPost(alice, "@mypi fan 10%", 0)
		c.addDM(alice, "fan 20%")
		time.Sleep(3 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		got := h.texts()
		slices.Sort(got)
		if want := []string{"@mypi fan 10%", "fan 20%"}; !slices.Equal(got, want) {
			t.Errorf("ran %q, want the new commands and not %s's", got, old.ID)
		}
	})
}

// TestDMBeforeOwnReplyRuns: a DM that arrives while the bot sends a reply
// lies below the reply in the list, and the reply, the bot's own, is the
// newest event: the next poll must not take that for "nothing new".
func TestDMBeforeOwnReplyRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		once := false
		c.onSend = func() { // the reply is on its way: bob's DM comes now
			if !once {
				once = true
				c.addDM(bob, "fan 10%")
			}
		}
		h := &recorder{}
		stop := startBot(t, c, h, t.TempDir(), Options{PollInterval: time.Second, Listen: []string{InboxDMs}, Allow: []string{alice.ID, bob.ID}})
		time.Sleep(2 * time.Second)
		c.addDM(alice, "led on")
		time.Sleep(5 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(h.texts(), "|"), "led on|fan 10%"; got != want {
			t.Errorf("ran %q, want %q", got, want)
		}
	})
}

// TestCursorRefusedNoMentions: a refused cursor with no mention at all to
// start from again leaves no cursor (not the refused one, asked again at
// every poll); the next mention runs.
func TestCursorRefusedNoMentions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		dir := t.TempDir()
		st := &State{AccountID: c.account.ID, AccountUsername: c.account.Username, KeyID: "1",
			MentionsSince: "1000", MentionsTaken: "1000", MentionsStarted: true}
		if err := st.Save(dir, time.Now()); err != nil {
			t.Fatal(err)
		}
		c.fail[twitter.EndpointMentions] = []error{&twitter.APIError{Kind: twitter.KindOther, Endpoint: twitter.EndpointMentions, Status: 400, Title: "Invalid Request"}}
		h := &recorder{}
		stop := startBot(t, c, h, dir, Options{PollInterval: time.Second})
		time.Sleep(3 * time.Second)
		if got := h.texts(); len(got) != 0 {
			t.Fatalf("ran %q", got)
		}
		if st, err := LoadState(dir); err != nil || st.MentionsSince != "" {
			t.Errorf("cursor %q after the refusal with no mention to start from (%v), want none", st.MentionsSince, err)
		}
		c.addPost(alice, "@mypi led on", 0)
		time.Sleep(3 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(h.texts(), "|"); got != "@mypi led on" {
			t.Errorf("ran %q, want the new mention", got)
		}
	})
}
