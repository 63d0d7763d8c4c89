package bot

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// fakePush is a PushSource the test drives: what it sends on in reaches
// the bot as the stream's events would.
type fakePush struct{ in chan Push }

func (f *fakePush) Run(ctx context.Context, out chan<- Push) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-f.in:
			select {
			case out <- p:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

func post(c twitter.Post) Command {
	return Command{Inbox: InboxMentions, ID: c.ID, AuthorID: c.AuthorID, AuthorUsername: c.AuthorUsername, Text: c.Text, CreatedAt: c.CreatedAt}
}

// TestPushGoesThroughTheSameChecks: what a push source delivers meets the
// checks a polled post meets, in the same place: a command the stream and
// a poll both see runs once and is answered once; a stranger's, the
// account's own and an old one do not run.
func TestPushGoesThroughTheSameChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		src := &fakePush{in: make(chan Push)}
		h := &recorder{}
		stop := startBot(t, c, h, t.TempDir(), Options{PollInterval: 10 * time.Second, MaxAge: time.Minute, Push: []PushSource{src}})
		time.Sleep(time.Second)
		both := c.addPost(alice, "@mypi led on", 0)
		src.in <- Push{Item: post(both)} // the stream first; the poll finds it too
		src.in <- Push{Item: post(c.addPost(stranger, "@mypi led off", 0))}
		src.in <- Push{Item: post(c.addPost(c.account, "@mypi led off", 0))}
		src.in <- Push{Item: post(c.addPost(alice, "@mypi fan 1%", 2*time.Minute))}
		src.in <- Push{Item: post(both)} // and again
		time.Sleep(time.Minute)
		later := c.addPost(alice, "@mypi fan 2%", 0) // the poll first; the stream late
		time.Sleep(time.Minute)
		src.in <- Push{Item: post(later)}
		time.Sleep(time.Minute)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(h.texts(), "|"), "@mypi led on|@mypi fan 2%"; got != want {
			t.Errorf("ran %q, want %q", got, want)
		}
		answered := map[string]int{}
		for _, r := range c.replies {
			id, _, _ := strings.Cut(r, " ")
			answered[id]++
		}
		if answered[both.ID] != 1 || answered[later.ID] != 1 || len(c.replies) != 3 {
			t.Errorf("replies %q, want one to each command and a too-old answer", c.replies)
		}
	})
}

// TestPushUpPollsAtReconcile: while a push source is up for the mentions,
// they are polled once at once (what came while it was down) and then
// every ReconcileInterval; once it is down, every PollInterval again.
func TestPushUpPollsAtReconcile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newWindowClient()
		src := &fakePush{in: make(chan Push)}
		stop := startBot(t, c, &recorder{}, t.TempDir(), Options{PollInterval: time.Second, ReconcileInterval: 5 * time.Minute, Push: []PushSource{src}})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		n0 := c.count(twitter.EndpointMentions)
		if n0 < 9 {
			t.Fatalf("%d polls in 10s at poll_interval 1s", n0)
		}
		time.Sleep(500 * time.Millisecond) // between two polls
		src.in <- Push{Up: true, Inboxes: []string{InboxMentions}}
		synctest.Wait()
		if n := c.count(twitter.EndpointMentions); n != n0+1 {
			t.Errorf("%d polls when the push source came up, want one at once", n-n0)
		}
		time.Sleep(20*time.Minute + time.Second)
		synctest.Wait()
		if n := c.count(twitter.EndpointMentions) - n0; n != 1+4 {
			t.Errorf("%d polls in 20 minutes with the push source up, want 1 + 4 (every 5m)", n)
		}
		n1 := c.count(twitter.EndpointMentions)
		src.in <- Push{Up: false, Inboxes: []string{InboxMentions}}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := c.count(twitter.EndpointMentions) - n1; n < 9 {
			t.Errorf("%d polls in 10s once the push source went down, want every second", n)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}
