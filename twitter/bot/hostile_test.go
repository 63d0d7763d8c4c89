package bot

import (
	"github.com/tweetpi/tweetpi/twitter"

	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// replayClient is a windowClient whose API misbehaves: mentions ignore
// since_id and come back twice in one answer, and DMs list every event
// ever sent, twice. At-most-once must not lean on the API to be right.
type replayClient struct {
	*windowClient
}

func (c replayClient) Mentions(ctx context.Context, userID string, p twitter.MentionsParams) ([]twitter.Post, error) {
	posts, err := c.windowClient.Mentions(ctx, userID, twitter.MentionsParams{MaxResults: p.MaxResults, MaxPages: p.MaxPages})
	if err != nil {
		return nil, err
	}
	return append(posts, posts...), nil
}

func (c replayClient) DirectMessages(ctx context.Context, p twitter.DMParams) ([]twitter.DM, error) {
	dms, err := c.windowClient.DirectMessages(ctx, p)
	if err != nil {
		return nil, err
	}
	return append(dms, dms...), nil
}

// TestHostileAPIReplays: an API that serves old posts again and repeats
// them within one answer runs each command once, across restarts too.
func TestHostileAPIReplays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wc := newWindowClient()
		c := replayClient{wc}
		dir := t.TempDir()
		h := &recorder{}
		opt := Options{PollInterval: time.Second, Listen: []string{InboxMentions, InboxDMs}}
		stop := startBot(t, c, h, dir, opt)
		time.Sleep(2 * time.Second)
		wc.addPost(alice, "@mypi led on", 0)
		wc.addDM(alice, "fan 10%")
		time.Sleep(5 * time.Second)
		stop()
		stop = startBot(t, c, h, dir, opt)
		wc.addPost(alice, "@mypi led off", 0)
		time.Sleep(5 * time.Second)
		stop()
		// Each once; the two inboxes' order against each other is not fixed.
		got := h.texts()
		slices.Sort(got)
		if got, want := strings.Join(got, "|"), "@mypi led off|@mypi led on|fan 10%"; got != want {
			t.Errorf("ran %q, want %q", got, want)
		}
	})
}

// TestHostileDMFlood: the DM list the API serves (twice over) holds more
// events than the state remembers (500); the older ones, out of the list,
// are below the floor and count as seen: only the new ones run.
func TestHostileDMFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wc := newWindowClient()
		var old []string
		for i := range maxSeenDMs + 100 {
			old = append(old, wc.addDM(alice, "led "+strconv.Itoa(i)).ID)
		}
		dir := t.TempDir()
		st := &State{AccountID: wc.account.ID, AccountUsername: wc.account.Username, KeyID: "1", DMsStarted: true,
			Handles: map[string]string{"alice": alice.ID}, SeenDMs: old}
		if err := st.Save(dir, time.Now()); err != nil { // trims to the newest 500 and a floor
			t.Fatal(err)
		}
		h := &recorder{}
		stop := startBot(t, replayClient{wc}, h, dir, Options{PollInterval: time.Second, Listen: []string{InboxDMs}})
		time.Sleep(2 * time.Second)
		wc.addDM(alice, "fan 1%")
		wc.addDM(alice, "fan 2%")
		time.Sleep(3 * time.Second)
		stop()
		if got, want := strings.Join(h.texts(), "|"), "fan 1%|fan 2%"; got != want {
			t.Errorf("ran %.200q, want %q", got, want)
		}
		st, err := LoadState(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.SeenDMs) > maxSeenDMs {
			t.Errorf("the state remembers %d DM ids, want at most %d", len(st.SeenDMs), maxSeenDMs)
		}
	})
}

// TestHostileUsername: once @alice is resolved to her id, a stranger who
// calls himself "alice" (or "ALICE", or "аlice" in Cyrillic) is not her.
func TestHostileUsername(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wc := newWindowClient()
		h := &recorder{}
		stop := startBot(t, wc, h, t.TempDir(), Options{PollInterval: time.Second})
		time.Sleep(2 * time.Second)
		for _, name := range []string{"alice", "ALICE", "аlice", "alice\u200b"} {
			wc.addPost(twitter.User{ID: "666", Username: name}, "@mypi led on", 0)
		}
		wc.addPost(twitter.User{ID: alice.ID, Username: "renamed"}, "@mypi led off", 0) // alice after a rename
		time.Sleep(3 * time.Second)
		stop()
		if got, want := strings.Join(h.texts(), "|"), "@mypi led off"; got != want {
			t.Errorf("ran %q, want only alice's (by id) %q", got, want)
		}
	})
}
