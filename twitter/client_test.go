package twitter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dghubble/oauth1"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// The contract suite: every case runs against both clients on the fake.

var contractAPIs = []string{"v2", "v1.1"}

func contractClient(t *testing.T, api string, srv *twittertest.Server, edit ...func(*twitter.Options)) twitter.Client {
	t.Helper()
	opt := twitter.Options{API: api, BaseURL: srv.URL, Credentials: srv.Credentials(), Transport: srv.Transport(), Timeout: 5 * time.Second}
	for _, e := range edit {
		e(&opt)
	}
	c, err := twitter.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func contractEach(t *testing.T, f func(t *testing.T, api string)) {
	for _, api := range contractAPIs {
		t.Run(api, func(t *testing.T) { f(t, api) })
	}
}

// contractBubble runs f in a synctest bubble with an in-memory fake.
func contractBubble(t *testing.T, opt twittertest.Options, f func(t *testing.T, api string, srv *twittertest.Server, c twitter.Client)) {
	contractEach(t, func(t *testing.T, api string) {
		synctest.Test(t, func(t *testing.T) {
			// A bubble starts in 2000, before the snowflake epoch: move to a real date.
			time.Sleep(time.Until(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)))
			opt.InMemory = true
			srv := twittertest.NewServer(opt)
			defer srv.Close()
			f(t, api, srv, contractClient(t, api, srv))
		})
	})
}

func wantKind(t *testing.T, err error, want twitter.ErrorKind) *twitter.APIError {
	t.Helper()
	if got := twitter.KindOf(err); got != want {
		t.Fatalf("kind of %v = %v, want %v", err, got, want)
	}
	var ae *twitter.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%v: not an *APIError", err)
	}
	return ae
}

func TestContractMe(t *testing.T) {
	contractBubble(t, twittertest.Options{Handle: "MyPi"}, func(t *testing.T, api string, srv *twittertest.Server, c twitter.Client) {
		if c.Version() != api {
			t.Errorf("Version = %q, want %q", c.Version(), api)
		}
		me, err := c.Me(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if me != srv.Account() {
			t.Errorf("Me = %+v, want %+v", me, srv.Account())
		}
		alice := srv.AddUser("alice")
		for _, name := range []string{"alice", "@Alice"} {
			u, err := c.UserByUsername(t.Context(), name)
			if err != nil || u != alice {
				t.Errorf("UserByUsername(%q) = %+v, %v, want %+v", name, u, err, alice)
			}
		}
		_, err = c.UserByUsername(t.Context(), "nobody")
		wantKind(t, err, twitter.KindNotFound)
	})
}

func TestContractMentions(t *testing.T) {
	contractBubble(t, twittertest.Options{}, func(t *testing.T, api string, srv *twittertest.Server, c twitter.Client) {
		ctx := t.Context()
		acct := srv.Account()
		alice, bob := srv.AddUser("alice"), srv.AddUser("bob")

		got, err := c.Mentions(ctx, acct.ID, twitter.MentionsParams{})
		if err != nil || len(got) != 0 {
			t.Fatalf("no mentions: got %v, %v", got, err)
		}

		var want []twitter.Post
		for i := range 12 {
			who := alice
			if i%3 == 0 {
				who = bob
			}
			want = append(want, srv.Post(who, fmt.Sprintf("@%s led on & <%d>", strings.ToUpper(acct.Username), i), time.Duration(12-i)*time.Minute))
			srv.Post(who, fmt.Sprintf("not for the pi %d, @%sx", i, acct.Username), time.Duration(12-i)*time.Minute)
		}
		if api == "v2" {
			// v2 asks for no expansions (X bills each included user as a
			// user read): posts carry the author's id, not the handle.
			for i := range want {
				want[i].AuthorUsername = ""
			}
		}
		got, err = c.Mentions(ctx, acct.ID, twitter.MentionsParams{MaxResults: 5})
		if err != nil {
			t.Fatal(err)
		}
		comparePosts(t, got, want)
		if n := srv.Requests(twitter.EndpointMentions); n != 1+3 {
			t.Errorf("%d requests for 12 mentions in pages of 5 (after one empty), want 4", n)
		}

		got, err = c.Mentions(ctx, acct.ID, twitter.MentionsParams{SinceID: want[8].ID, MaxResults: 5})
		if err != nil {
			t.Fatal(err)
		}
		comparePosts(t, got, want[9:])

		got, err = c.Mentions(ctx, acct.ID, twitter.MentionsParams{MaxResults: 5, MaxPages: 1})
		if err != nil {
			t.Fatal(err)
		}
		comparePosts(t, got, want[7:])

		got, err = c.Mentions(ctx, acct.ID, twitter.MentionsParams{SinceID: want[11].ID})
		if err != nil || len(got) != 0 {
			t.Errorf("since the newest: got %v, %v", got, err)
		}
		if n := srv.Billed()[twitter.ChargeUserRead]; api == "v2" && n != 0 {
			t.Errorf("the answers included %d users, each billed as a user read: the mentions must not expand authors", n)
		}
	})
}

func comparePosts(t *testing.T, got, want []twitter.Post) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d posts, want %d:\n%v", len(got), len(want), got)
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.AuthorID != w.AuthorID || g.AuthorUsername != w.AuthorUsername || g.Text != w.Text {
			t.Errorf("post %d = %+v, want %+v", i, g, w)
		}
		if d := g.CreatedAt.Sub(w.CreatedAt); d < -time.Second || d > time.Second {
			t.Errorf("post %d: created %v, want %v", i, g.CreatedAt, w.CreatedAt)
		}
	}
}

func TestContractReply(t *testing.T) {
	contractBubble(t, twittertest.Options{}, func(t *testing.T, api string, srv *twittertest.Server, c twitter.Client) {
		ctx := t.Context()
		alice := srv.AddUser("alice")
		p := srv.Post(alice, "@mypi led on", time.Minute)
		var seen []twittertest.Event
		srv.Watch(func(e twittertest.Event) { seen = append(seen, e) })

		id, err := c.Reply(ctx, p.ID, "@alice led is on")
		if err != nil {
			t.Fatal(err)
		}
		r := srv.Replies()
		if len(r) != 1 || r[0].ID != id || r[0].InReplyTo != p.ID || r[0].Text != "@alice led is on" {
			t.Errorf("replies = %+v, want one reply %s to %s", r, id, p.ID)
		}
		if len(seen) != 1 || seen[0].Reply == nil || seen[0].Reply.ID != id {
			t.Errorf("watched %+v", seen)
		}
		_, err = c.Reply(ctx, p.ID, "@alice led is on")
		wantKind(t, err, twitter.KindDuplicate)

		// The account's reply is not a mention of the account.
		got, err := c.Mentions(ctx, srv.Account().ID, twitter.MentionsParams{})
		if err != nil || len(got) != 1 || got[0].ID != p.ID {
			t.Errorf("mentions after the reply = %v, %v", got, err)
		}
	})
}

func TestContractDMs(t *testing.T) {
	contractBubble(t, twittertest.Options{}, func(t *testing.T, api string, srv *twittertest.Server, c twitter.Client) {
		ctx := t.Context()
		acct := srv.Account()
		alice := srv.AddUser("alice")
		got, err := c.DirectMessages(ctx, twitter.DMParams{})
		if err != nil || len(got) != 0 {
			t.Fatalf("no DMs: %v, %v", got, err)
		}
		var want []twitter.DM
		for i := range 5 {
			want = append(want, srv.SendDM(alice, fmt.Sprintf("pump on & <%d>", i), time.Duration(10-i)*time.Minute))
		}
		id, err := c.SendDM(ctx, alice.ID, "pump is on")
		if err != nil {
			t.Fatal(err)
		}
		if s := srv.SentDMs(); len(s) != 1 || s[0].ID != id || s[0].To != alice.ID || s[0].Text != "pump is on" {
			t.Errorf("sent = %+v", s)
		}
		got, err = c.DirectMessages(ctx, twitter.DMParams{MaxResults: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 6 {
			t.Fatalf("got %d DMs, want 6 (5 received, 1 sent): %+v", len(got), got)
		}
		for i, w := range want {
			g := got[i]
			if g.ID != w.ID || g.SenderID != alice.ID || g.Text != w.Text || g.ConversationID != w.ConversationID {
				t.Errorf("dm %d = %+v, want %+v", i, g, w)
			}
		}
		if got[5].ID != id || got[5].SenderID != acct.ID {
			t.Errorf("the sent DM = %+v, want id %s from %s", got[5], id, acct.ID)
		}

		// Seen stops paging after the page that holds a seen event.
		before := srv.Requests(twitter.EndpointDMEvents)
		got, err = c.DirectMessages(ctx, twitter.DMParams{MaxResults: 2, Seen: func(id string) bool { return id == want[3].ID }})
		if err != nil {
			t.Fatal(err)
		}
		if n := srv.Requests(twitter.EndpointDMEvents) - before; n != 2 {
			t.Errorf("%d requests, want 2 (the seen event is on the second page)", n)
		}
		if len(got) != 4 || got[0].ID != want[2].ID {
			t.Errorf("got %+v, want the newest 4", got)
		}
	})
}

func TestContractRateLimits(t *testing.T) {
	contractBubble(t, twittertest.Options{}, func(t *testing.T, api string, srv *twittertest.Server, c twitter.Client) {
		ctx := t.Context()
		if !c.ServerDate().IsZero() || len(c.RateLimits()) != 0 {
			t.Errorf("state before any answer: %v %v", c.ServerDate(), c.RateLimits())
		}
		srv.SetLimit(twitter.EndpointMentions, 2, 15*time.Minute)
		start := time.Now()
		for range 2 {
			if _, err := c.Mentions(ctx, srv.Account().ID, twitter.MentionsParams{}); err != nil {
				t.Fatal(err)
			}
		}
		rl := c.RateLimits()[twitter.EndpointMentions]
		wantReset := start.Add(15 * time.Minute)
		if rl.Limit != 2 || rl.Remaining != 0 || !rl.Reset.Equal(wantReset) || rl.Seen.IsZero() {
			t.Errorf("rate limit = %+v, want 2/0 resetting at %v", rl, wantReset)
		}
		if !c.ServerDate().Equal(start.Truncate(time.Second)) {
			t.Errorf("server date = %v, want %v", c.ServerDate(), start)
		}
		_, err := c.Mentions(ctx, srv.Account().ID, twitter.MentionsParams{})
		ae := wantKind(t, err, twitter.KindRateLimited)
		if ae.Status != 429 || !ae.Reset.Equal(wantReset) {
			t.Errorf("429: %+v, want reset %v", ae, wantReset)
		}
		time.Sleep(time.Until(ae.Reset))
		if _, err := c.Mentions(ctx, srv.Account().ID, twitter.MentionsParams{}); err != nil {
			t.Errorf("after the reset: %v", err)
		}
		times := srv.RequestTimes(twitter.EndpointMentions)
		if len(times) != 4 || times[3].Before(wantReset) {
			t.Errorf("request times %v: want the 4th at %v or later", times, wantReset)
		}

		// The 24-hour post limit: its reset is the one that counts.
		srv.SetDayLimit(twitter.EndpointPost, 1)
		p := srv.Post(srv.AddUser("alice"), "@mypi led on", 0)
		if _, err := c.Reply(ctx, p.ID, "one"); err != nil {
			t.Fatal(err)
		}
		_, err = c.Reply(ctx, p.ID, "two")
		ae = wantKind(t, err, twitter.KindRateLimited)
		if want := time.Now().Add(24 * time.Hour); !ae.Reset.Equal(want) {
			t.Errorf("day limit reset = %v, want %v", ae.Reset, want)
		}
		if rl := c.RateLimits()[twitter.EndpointPost]; rl.DayLimit != 1 || rl.DayRemaining != 0 {
			t.Errorf("post limits = %+v", rl)
		}
	})
}

func TestContractErrors(t *testing.T) {
	const notEnrolledV2 = `{"client_id":"1","detail":"When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project. You can create a project via the developer portal.","registration_url":"https://developer.twitter.com/en/docs/projects/overview","title":"Client Forbidden","required_enrollment":"Appropriate Level of API Access","reason":"client-not-enrolled","type":"https://api.twitter.com/2/problems/client-forbidden"}`
	const code453 = `{"errors":[{"message":"You currently have access to a subset of X API V2 endpoints and limited v1.1 endpoints (e.g. media post, oauth) only. If you need access to this endpoint, you may need a different access level.","code":453}]}`
	for _, tc := range []struct {
		name  string
		fault twittertest.Fault
		kind  twitter.ErrorKind
		check func(t *testing.T, ae *twitter.APIError)
	}{
		{"500", twittertest.Fault{Status: 500}, twitter.KindTransient, nil},
		{"503 html", twittertest.Fault{Status: 503, Body: "<html>Over capacity</html>"}, twitter.KindTransient, nil},
		{"malformed", twittertest.Fault{Malformed: true}, twitter.KindTransient, nil},
		{"dropped", twittertest.Fault{Drop: true}, twitter.KindTransient, nil},
		{"404", twittertest.Fault{Status: 404}, twitter.KindNotFound, nil},
		{"400", twittertest.Fault{Status: 400}, twitter.KindOther, nil},
		{"not enrolled", twittertest.Fault{Status: 403, Body: notEnrolledV2}, twitter.KindForbidden, func(t *testing.T, ae *twitter.APIError) {
			if ae.Title != "Client Forbidden" || !strings.Contains(ae.Detail, "attached to a Project") {
				t.Errorf("lost the API's words: %+v", ae)
			}
		}},
		{"code 453", twittertest.Fault{Status: 403, Body: code453}, twitter.KindForbidden, func(t *testing.T, ae *twitter.APIError) {
			if ae.Code != 453 || !strings.Contains(ae.Title, "subset of X API") {
				t.Errorf("lost the API's words: %+v", ae)
			}
		}},
		{"code 187", twittertest.Fault{Status: 403, Body: `{"errors":[{"code":187,"message":"Status is a duplicate."}]}`}, twitter.KindDuplicate, nil},
		{"v1 429 shape", twittertest.Fault{Status: 429, Body: `{"errors":[{"code":88,"message":"Rate limit exceeded"}]}`}, twitter.KindRateLimited, nil},
		{"401 problem", twittertest.Fault{Status: 401, Body: `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`}, twitter.KindUnauthorized, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			contractBubble(t, twittertest.Options{}, func(t *testing.T, api string, srv *twittertest.Server, c twitter.Client) {
				srv.Fail(twitter.EndpointMe, tc.fault)
				_, err := c.Me(t.Context())
				ae := wantKind(t, err, tc.kind)
				if ae.Endpoint != twitter.EndpointMe {
					t.Errorf("endpoint = %q", ae.Endpoint)
				}
				if tc.check != nil {
					tc.check(t, ae)
				}
				if _, err := c.Me(t.Context()); err != nil {
					t.Errorf("after the fault: %v", err)
				}
			})
		})
	}
}

func TestContractPartialError(t *testing.T) {
	// v2 answers 200 with "errors" and no "data" for a partial failure.
	synctest.Test(t, func(t *testing.T) {
		srv := twittertest.NewServer(twittertest.Options{InMemory: true})
		defer srv.Close()
		c := contractClient(t, "v2", srv)
		srv.Fail(twitter.EndpointMentions, twittertest.Fault{Status: 200, Body: `{"errors":[{"detail":"Sorry, you are not authorized to see the user with id: [1].","title":"Authorization Error","type":"https://api.twitter.com/2/problems/not-authorized-for-resource"}]}`})
		_, err := c.Mentions(t.Context(), "1", twitter.MentionsParams{})
		wantKind(t, err, twitter.KindForbidden)
		srv.Fail(twitter.EndpointMe, twittertest.Fault{Status: 200, Body: `{"meta":{}}`})
		_, err = c.Me(t.Context())
		wantKind(t, err, twitter.KindTransient)
	})
}

func TestContractUnauthorized(t *testing.T) {
	contractBubble(t, twittertest.Options{}, func(t *testing.T, api string, srv *twittertest.Server, _ twitter.Client) {
		for name, edit := range map[string]func(*twitter.Options){
			"consumer secret": func(o *twitter.Options) { o.Credentials.ConsumerSecret += "x" },
			"token secret":    func(o *twitter.Options) { o.Credentials.AccessTokenSecret = "wrong" },
			"token":           func(o *twitter.Options) { o.Credentials.AccessToken = "1-wrong" },
		} {
			c := contractClient(t, api, srv, edit)
			_, err := c.Me(t.Context())
			ae := wantKind(t, err, twitter.KindUnauthorized)
			if ae.Status != 401 {
				t.Errorf("%s: status %d", name, ae.Status)
			}
			if strings.Contains(err.Error(), srv.Credentials().ConsumerSecret) {
				t.Errorf("%s: error holds a secret: %v", name, err)
			}
		}
	})
}

func TestContractTimeoutAndCancel(t *testing.T) {
	contractBubble(t, twittertest.Options{}, func(t *testing.T, api string, srv *twittertest.Server, c twitter.Client) {
		srv.Fail(twitter.EndpointMe, twittertest.Fault{Delay: time.Minute})
		start := time.Now()
		_, err := c.Me(t.Context())
		wantKind(t, err, twitter.KindTransient)
		if errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 5*time.Second {
			t.Errorf("timeout after %v: %v", time.Since(start), err)
		}

		srv.Fail(twitter.EndpointMe, twittertest.Fault{Delay: time.Minute})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		_, err = c.Me(ctx)
		if !errors.Is(err, context.Canceled) || twitter.KindOf(err) != twitter.KindOther {
			t.Errorf("cancelled: %v (kind %v), want context.Canceled", err, twitter.KindOf(err))
		}
		var ae *twitter.APIError
		if errors.As(err, &ae) {
			t.Errorf("cancellation came back as %+v", ae)
		}
	})
}

// TestV11RewriteUnderSigner shows why the v1.1 client moves a request to the
// base URL above the signer: moved below it, the signature covers
// api.twitter.com while the request goes elsewhere, and a server that
// checks signatures refuses it.
func TestV11RewriteUnderSigner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := twittertest.NewServer(twittertest.Options{InMemory: true})
		defer srv.Close()
		cr := srv.Credentials()
		base := srv.Transport()
		move := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.URL.Scheme, r.URL.Host, r.Host = "http", "api.x.test", ""
			return base.RoundTrip(r)
		})
		ctx := context.WithValue(t.Context(), oauth1.HTTPClient, &http.Client{Transport: move})
		hc := oauth1.NewConfig(cr.ConsumerKey, cr.ConsumerSecret).Client(ctx, oauth1.NewToken(cr.AccessToken, cr.AccessTokenSecret))
		resp, err := hc.Get("https://api.twitter.com/1.1/account/verify_credentials.json")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("status %d, want 401", resp.StatusCode)
		}
		c := contractClient(t, "v1.1", srv)
		if _, err := c.Me(t.Context()); err != nil {
			t.Errorf("the client's own rewrite: %v", err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestContractOverTCP(t *testing.T) {
	// The default server listens on loopback TCP, as cmd tests and the demo use it.
	contractEach(t, func(t *testing.T, api string) {
		srv := twittertest.NewServer(twittertest.Options{})
		defer srv.Close()
		c := contractClient(t, api, srv, func(o *twitter.Options) { o.Transport = nil })
		me, err := c.Me(t.Context())
		if err != nil || me != srv.Account() {
			t.Errorf("Me = %+v, %v", me, err)
		}
	})
}

func TestNewRefuses(t *testing.T) {
	good := twitter.Credentials{ConsumerKey: "a", ConsumerSecret: "b", AccessToken: "c", AccessTokenSecret: "d"}
	for _, opt := range []twitter.Options{
		{API: "v3", Credentials: good},
		{BaseURL: "ftp://x", Credentials: good},
		{BaseURL: "://", Credentials: good},
		{Credentials: twitter.Credentials{ConsumerKey: "a"}},
	} {
		if _, err := twitter.New(opt); err == nil {
			t.Errorf("New(%+v) = nil error", opt.BaseURL)
		}
	}
}
