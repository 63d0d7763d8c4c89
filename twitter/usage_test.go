package twitter_test

import (
	"maps"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// dayMeter is a twitter.Meter that counts what it is told as X bills it:
// each read once per UTC day, each write.
type dayMeter struct {
	mu       sync.Mutex
	requests map[string]map[int]int
	billed   map[string]int
	day      string
	seen     map[string]bool
}

func newDayMeter() *dayMeter {
	return &dayMeter{requests: map[string]map[int]int{}, billed: map[string]int{}, seen: map[string]bool{}}
}

func (m *dayMeter) Request(ep string, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.requests[ep] == nil {
		m.requests[ep] = map[int]int{}
	}
	m.requests[ep][status]++
}

func (m *dayMeter) Billed(ep string, items []twitter.Item) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := time.Now().UTC().Format(time.DateOnly); d != m.day {
		m.day, m.seen = d, map[string]bool{}
	}
	for _, it := range items {
		if k := it.Charge + " " + it.ID; !m.seen[k] {
			m.seen[k] = true
			m.billed[it.Charge]++
		}
	}
}

func (m *dayMeter) counts() (map[string]int, map[string]map[int]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	req := map[string]map[int]int{}
	for ep, by := range m.requests {
		req[ep] = maps.Clone(by)
	}
	return maps.Clone(m.billed), req
}

// TestContractMeter: what the clients tell their Meter is what the fake
// says X bills, charge by charge (reads deduplicated per UTC day, writes
// each), and one request per request the fake saw, with its status.
func TestContractMeter(t *testing.T) {
	contractEach(t, func(t *testing.T, api string) {
		synctest.Test(t, func(t *testing.T) {
			time.Sleep(time.Until(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)))
			srv := twittertest.NewServer(twittertest.Options{InMemory: true})
			defer srv.Close()
			m := newDayMeter()
			c := contractClient(t, api, srv, func(o *twitter.Options) { o.Meter = m })
			ctx := t.Context()
			alice, bob := srv.AddUser("alice"), srv.AddUser("bob")
			for i := range 7 {
				srv.Post(alice, "@mypi led on "+strings.Repeat("!", i), time.Duration(30-i)*time.Minute)
			}
			srv.Post(bob, "@mypi hi", time.Minute)
			for i := range 3 {
				srv.SendDM(alice, "fan "+strings.Repeat("%", i), time.Duration(10-i)*time.Minute)
			}
			me, err := c.Me(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.UserByUsername(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.UserByUsername(ctx, "nobody"); err == nil {
				t.Fatal("nobody resolved")
			}
			posts, err := c.Mentions(ctx, me.ID, twitter.MentionsParams{MaxResults: 5})
			if err != nil || len(posts) != 8 {
				t.Fatalf("mentions: %d, %v", len(posts), err)
			}
			// Read again the same day: billed once.
			if _, err := c.Mentions(ctx, me.ID, twitter.MentionsParams{MaxResults: 5, MaxPages: 1}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Reply(ctx, posts[0].ID, "led on (1)"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.SendDM(ctx, alice.ID, "fan 40%"); err != nil {
				t.Fatal(err)
			}
			// 3 received and the 1 sent.
			if _, err := c.DirectMessages(ctx, twitter.DMParams{MaxResults: 2}); err != nil {
				t.Fatal(err)
			}
			// The next UTC day reads them again: billed again.
			time.Sleep(24 * time.Hour)
			if _, err := c.DirectMessages(ctx, twitter.DMParams{MaxResults: 1, MaxPages: 1}); err != nil {
				t.Fatal(err)
			}
			srv.Fail(twitter.EndpointMentions, twittertest.Fault{Status: 503})
			if _, err := c.Mentions(ctx, me.ID, twitter.MentionsParams{}); err == nil {
				t.Fatal("no error from a 503")
			}

			billed, requests := m.counts()
			if want := srv.Billed(); !maps.Equal(billed, want) {
				t.Errorf("the meter was told of %v, the fake bills %v", billed, want)
			}
			// User reads: the account and alice; v2's mentions expand no
			// author (the bot matches ids), v1.1's carry each one: bob too.
			users := 2
			if api == "v1.1" {
				users = 3
			}
			if billed[twitter.ChargeOwnedRead] != 8 || billed[twitter.ChargeReply] != 1 || billed[twitter.ChargeDMSend] != 1 || billed[twitter.ChargeDMRead] != 4+1 || billed[twitter.ChargeUserRead] != users {
				t.Errorf("billed %v: want 8 owned reads, %d user reads, 5 DM event reads (4, and the newest again the next day), 1 reply, 1 DM sent", billed, users)
			}
			for _, ep := range []string{twitter.EndpointMe, twitter.EndpointUserByName, twitter.EndpointMentions, twitter.EndpointDMEvents, twitter.EndpointPost, twitter.EndpointSendDM} {
				n := 0
				for _, k := range requests[ep] {
					n += k
				}
				if want := srv.Requests(ep); n != want {
					t.Errorf("%s: the meter counted %d requests (%v), the fake saw %d", ep, n, requests[ep], want)
				}
			}
			if requests[twitter.EndpointMentions][503] != 1 {
				t.Errorf("mentions requests by status = %v, want one 503", requests[twitter.EndpointMentions])
			}
		})
	})
}

// TestCreditsAndCap: a 402 and a usage-capped 429 are kinds of their own
// whose Fix says what to do, on both API versions.
func TestCreditsAndCap(t *testing.T) {
	contractBubble(t, twittertest.Options{}, func(t *testing.T, api string, srv *twittertest.Server, c twitter.Client) {
		srv.UseUpCredits(true)
		_, err := c.Me(t.Context())
		ae := wantKind(t, err, twitter.KindNoCredits)
		if ae.Status != 402 || !strings.Contains(twitter.Fix(err), "your X API credits are used up: top up in the developer console") {
			t.Errorf("402: %v; fix %q", err, twitter.Fix(err))
		}
		if !strings.Contains(err.Error(), "credits used up") {
			t.Errorf("error text %q does not say credits used up", err)
		}
		srv.UseUpCredits(false)
		srv.CapUsage(true)
		_, err = c.DirectMessages(t.Context(), twitter.DMParams{})
		if api == "v1.1" {
			// The cap's problem type is a v2 shape; v1.1 sees a 429.
			if k := twitter.KindOf(err); k != twitter.KindUsageCapped && k != twitter.KindRateLimited {
				t.Fatalf("kind %v", k)
			}
		} else {
			wantKind(t, err, twitter.KindUsageCapped)
			if !strings.Contains(twitter.Fix(err), "spending cap") {
				t.Errorf("fix %q", twitter.Fix(err))
			}
		}
		srv.CapUsage(false)
		if _, err := c.Me(t.Context()); err != nil {
			t.Errorf("after the top-up: %v", err)
		}
	})
}

// TestStreamMeter: the stream tells the Meter of each event it delivers,
// a post as a post read and a DM as a DM event read, as the fake bills
// them; a post that comes as both a mention and a reply is two events.
func TestStreamMeter(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
	defer srv.Close()
	acct := srv.Account()
	alice, bob := srv.AddUser("alice"), srv.AddUser("bob")
	m := newDayMeter()
	a := activityClient(t, srv, func(o *twitter.Options) { o.Meter = m })
	subscribed(t, a, srv)
	v2 := contractClient(t, "v2", srv)
	r := startStream(t, a.NewStream(twitter.StreamOptions{UserID: acct.ID}))
	defer func() {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	}()
	r.next(t, twitter.StreamUp)
	p := srv.Post(alice, "@mypi led on", 0)
	r.next(t, twitter.StreamEvent)
	rid, err := v2.Reply(t.Context(), p.ID, "@alice led is on")
	if err != nil {
		t.Fatal(err)
	}
	srv.ReplyTo(bob, rid, "@mypi @alice thanks @mypi", 0) // a reply and a mention
	r.next(t, twitter.StreamEvent)
	r.next(t, twitter.StreamEvent)
	srv.SendDM(alice, "fan 40%", 0)
	r.next(t, twitter.StreamEvent)

	billed, requests := m.counts()
	if want := srv.Billed(); billed[twitter.ChargePostRead] != want[twitter.ChargePostRead] || billed[twitter.ChargeDMRead] != want[twitter.ChargeDMRead] {
		t.Errorf("the meter was told of %v, the fake bills %v", billed, want)
	}
	if billed[twitter.ChargePostRead] != 3 || billed[twitter.ChargeDMRead] != 1 {
		t.Errorf("billed %v, want 3 post reads (a mention, a reply that mentions: two events) and 1 DM event read", billed)
	}
	if requests[twitter.EndpointStream][200] != 1 || requests[twitter.EndpointAppToken][200] != 1 {
		t.Errorf("requests %v, want one stream connection and one token", requests)
	}
}
