package twitter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// The Activity API client against the fake: the app token, the
// subscriptions and the stream.

func activityClient(t *testing.T, srv *twittertest.Server, edit ...func(*twitter.Options)) *twitter.Activity {
	t.Helper()
	opt := twitter.Options{BaseURL: srv.URL, Credentials: srv.Credentials(), Transport: srv.Transport(), Timeout: 5 * time.Second, UserAgent: "tweetpi/test"}
	for _, e := range edit {
		e(&opt)
	}
	a, err := twitter.NewActivity(opt)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// inBubble runs f in a synctest bubble on a real date, with an in-memory fake.
func inBubble(t *testing.T, opt twittertest.Options, f func(t *testing.T, srv *twittertest.Server)) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
		opt.InMemory = true
		srv := twittertest.NewServer(opt)
		defer srv.Close()
		f(t, srv)
	})
}

// runner runs a Stream and collects its updates.
type runner struct {
	st     *twitter.Stream
	ch     chan twitter.StreamUpdate
	done   chan error
	cancel context.CancelFunc
	seen   []twitter.StreamUpdate
	limit  time.Duration // how long next waits before it fails the test
}

// startStream runs st over loopback, where next waits 20 s at most.
func startStream(t *testing.T, st *twitter.Stream) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &runner{st: st, ch: make(chan twitter.StreamUpdate, 16), done: make(chan error, 1), cancel: cancel, limit: 20 * time.Second}
	go func() { r.done <- st.Run(ctx, r.ch) }()
	return r
}

// bubbleStream runs st in a synctest bubble, where time is fake and next
// waits up to two (fake) hours: the longest backoff is 16 minutes.
func bubbleStream(t *testing.T, st *twitter.Stream) *runner {
	r := startStream(t, st)
	r.limit = 2 * time.Hour
	return r
}

// next is the next update of one of kinds; the others are kept in seen.
func (r *runner) next(t *testing.T, kinds ...twitter.StreamUpdateKind) twitter.StreamUpdate {
	t.Helper()
	limit := time.NewTimer(r.limit)
	defer limit.Stop()
	for {
		select {
		case u := <-r.ch:
			r.seen = append(r.seen, u)
			if slices.Contains(kinds, u.Kind) {
				return u
			}
		case err := <-r.done:
			r.done <- err
			t.Fatalf("Run returned %v while waiting for %v; updates: %v", err, kinds, describe(r.seen))
		case <-limit.C:
			t.Fatalf("no %v update; updates: %v", kinds, describe(r.seen))
		}
	}
}

// stop ends Run and returns its error.
func (r *runner) stop() error {
	r.cancel()
	for {
		select {
		case u := <-r.ch:
			r.seen = append(r.seen, u)
		case err := <-r.done:
			return err
		}
	}
}

func describe(us []twitter.StreamUpdate) string {
	var b strings.Builder
	for _, u := range us {
		fmt.Fprintf(&b, "\n  %s %s", u.At.Format("15:04:05.000"), u.Kind)
		if u.Err != nil {
			fmt.Fprintf(&b, " (%v)", u.Err)
		}
		if u.Kind == twitter.StreamDown {
			fmt.Fprintf(&b, " retry %s %s", u.Retry, u.Backoff)
		}
	}
	return b.String()
}

// subscribed makes the subscriptions for mentions and DMs.
func subscribed(t *testing.T, a *twitter.Activity, srv *twittertest.Server) {
	t.Helper()
	if _, err := a.Subscribe(t.Context(), srv.Account().ID, twitter.EventTypes(true, true)...); err != nil {
		t.Fatal(err)
	}
}

func TestAppTokenBasicAuth(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	a := activityClient(t, srv)
	tok, err := a.AppToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok.IsZero() {
		t.Fatal("no token")
	}
	if _, err := a.AppToken(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests(twitter.EndpointAppToken); n != 1 {
		t.Errorf("%d token requests for two AppToken calls, want 1 (kept in memory)", n)
	}

	for name, c := range map[string]twitter.Credentials{
		"secret": {ConsumerSecret: "not-the-secret"},
		"key":    {ConsumerKey: "not-the-key"},
	} {
		t.Run("wrong "+name, func(t *testing.T) {
			bad := activityClient(t, srv, func(o *twitter.Options) {
				if c.ConsumerSecret != "" {
					o.Credentials.ConsumerSecret = c.ConsumerSecret
				}
				if c.ConsumerKey != "" {
					o.Credentials.ConsumerKey = c.ConsumerKey
				}
			})
			_, err := bad.AppToken(t.Context())
			var re *twitter.RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("AppToken with a wrong consumer %s: %v, want a *RefusedError", name, err)
			}
			ae := wantKind(t, err, twitter.KindForbidden)
			if ae.Code != 99 || !strings.Contains(err.Error(), "Unable to verify your credentials") {
				t.Errorf("error %v: want X's code 99 and its words", err)
			}
			if fix := re.Fix(); !strings.Contains(fix, "API key and secret") {
				t.Errorf("Fix = %q", fix)
			}
			if strings.Contains(err.Error(), "not-the-") {
				t.Errorf("error shows the credential: %v", err)
			}
		})
	}
}

// The bearer token is in no output: not in fmt's verbs, JSON, slog, the
// status, an error, nor in a struct that holds it.
func TestAppTokenNeverShown(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	// The transport behind a func: printing the client must not read the
	// live transport's counters (a data race fmt would make, not tweetpi).
	tr := srv.Transport()
	a := activityClient(t, srv, func(o *twitter.Options) { o.Transport = rtFunc(tr.RoundTrip) })
	subscribed(t, a, srv)
	tok, err := a.AppToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st := a.NewStream(twitter.StreamOptions{UserID: srv.Account().ID})
	r := startStream(t, st)
	r.next(t, twitter.StreamUp)
	old := srv.AppToken()
	srv.InvalidateAppToken()
	srv.DropStreams()
	r.next(t, twitter.StreamUp) // after a 401 and a fresh token
	status := st.Status()
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %[1]v"} {
		fmt.Fprintf(&out, verb+"\n", tok)
		fmt.Fprintf(&out, verb+"\n", a)
		fmt.Fprintf(&out, verb+"\n", st)
		fmt.Fprintf(&out, verb+"\n", status)
		fmt.Fprintf(&out, verb+"\n", struct{ T twitter.Token }{tok})
		fmt.Fprintf(&out, verb+"\n", struct{ t twitter.Token }{tok})
		fmt.Fprintf(&out, verb+"\n", []twitter.Token{tok})
	}
	for _, u := range r.seen {
		fmt.Fprintf(&out, "%+v %v\n", u, u.Err)
	}
	b, _ := json.Marshal(map[string]any{"token": tok, "status": status})
	out.Write(b)
	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		l := slog.New(h)
		l.Info("token", "token", tok, "activity", a, "stream", st, "status", status)
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Fatal("the token is not shown as [redacted]")
	}
	c := srv.Credentials()
	for name, secret := range map[string]string{"old token": old, "token": srv.AppToken(), "consumer secret": c.ConsumerSecret, "access token secret": c.AccessTokenSecret} {
		if secret == "" {
			continue
		}
		if strings.Contains(out.String(), secret) {
			t.Errorf("the %s shows in the output:\n%s", name, out.String())
		}
	}
}

func TestSubscribeOnceAcrossRestarts(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	acct := srv.Account()
	types := twitter.EventTypes(true, true)
	if want := []string{twitter.EventMention, twitter.EventReply, twitter.EventDM}; !slices.Equal(types, want) {
		t.Fatalf("EventTypes(true, true) = %v, want %v", types, want)
	}

	first, err := activityClient(t, srv).Subscribe(t.Context(), acct.ID, types...)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range first {
		if !s.New || s.EventType != types[i] || s.UserID != acct.ID || s.Tag != twitter.SubscriptionTag || s.ID == "" {
			t.Errorf("first start, subscription %d: %+v", i, s)
		}
	}
	// A restart: a new client, the same app.
	again, err := activityClient(t, srv).Subscribe(t.Context(), acct.ID, types...)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range again {
		if s.New || s.ID != first[i].ID {
			t.Errorf("after a restart, subscription %d: %+v, want the first start's %s reused", i, s, first[i].ID)
		}
	}
	if n := srv.Requests(twitter.EndpointSubscribe); n != 3 {
		t.Errorf("%d create requests over two starts, want 3", n)
	}
	held := srv.Subscriptions()
	if len(held) != 3 {
		t.Fatalf("the app holds %d subscriptions, want 3: %+v", len(held), held)
	}
	for _, s := range held {
		if s.Tag != twitter.SubscriptionTag || s.UserID != acct.ID {
			t.Errorf("held: %+v", s)
		}
	}
	// Listening to DMs only later: nothing new to make.
	dms, err := activityClient(t, srv).Subscribe(t.Context(), acct.ID, twitter.EventTypes(false, true)...)
	if err != nil || len(dms) != 1 || dms[0].New || dms[0].EventType != twitter.EventDM {
		t.Errorf("DMs only: %+v, %v", dms, err)
	}
	if n := srv.Requests(twitter.EndpointSubscribe); n != 3 {
		t.Errorf("%d create requests, want still 3", n)
	}

	list, err := activityClient(t, srv).Subscriptions(t.Context())
	if err != nil || len(list) != 3 {
		t.Fatalf("Subscriptions: %+v, %v", list, err)
	}
	if list[0].CreatedAt.IsZero() {
		t.Errorf("no created_at: %+v", list[0])
	}
}

// Subscriptions are signed with the four keys: the fake checks the OAuth
// 1.0a signature, so a wrong access token secret is refused.
func TestSubscriptionsSigned(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	bad := activityClient(t, srv, func(o *twitter.Options) { o.Credentials.AccessTokenSecret = "not-the-secret" })
	_, err := bad.Subscribe(t.Context(), srv.Account().ID, twitter.EventDM)
	var re *twitter.RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("Subscribe with a wrong access token secret: %v, want a *RefusedError", err)
	}
	wantKind(t, err, twitter.KindUnauthorized)
	if !strings.Contains(re.Fix(), "four keys") {
		t.Errorf("Fix = %q, want the keys' advice", re.Fix())
	}
	if len(srv.Subscriptions()) != 0 {
		t.Error("a subscription was made with wrong keys")
	}
}

func TestSubscriptionsRefused(t *testing.T) {
	const notEnrolled = `{"title":"Client Forbidden","detail":"When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.","reason":"client-not-enrolled","type":"https://api.x.com/2/problems/client-forbidden"}`
	const noAccess = `{"title":"Forbidden","detail":"Your app does not have access to the X Activity API.","type":"about:blank","status":403}`
	const partial = `{"errors":[{"title":"Not Authorized","detail":"You are not authorized to list the subscriptions of this app.","type":"https://api.x.com/2/problems/not-authorized-for-resource"}]}`
	for _, tc := range []struct {
		name   string
		fault  twittertest.Fault
		kind   twitter.ErrorKind
		words  string // X's words, in the error
		advice string // in Fix
	}{
		{"not in a project", twittertest.Fault{Status: 403, Body: notEnrolled}, twitter.KindForbidden, "attached to a Project", "attach the app to a Project"},
		{"no access", twittertest.Fault{Status: 403, Body: noAccess}, twitter.KindForbidden, "does not have access to the X Activity API", "plan that includes the X Activity API"},
		{"not found", twittertest.Fault{Status: 404, Body: `{"title":"Not Found Error","detail":"Could not find the resource.","type":"about:blank","status":404}`}, twitter.KindNotFound, "Could not find the resource", "plan that includes"},
		{"problem JSON with 200", twittertest.Fault{Status: 200, Body: partial}, twitter.KindForbidden, "not authorized to list", "Read and write and Direct messages"},
		{"unauthorized", twittertest.Fault{Status: 401}, twitter.KindUnauthorized, "Unauthorized", "four keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := twittertest.NewServer(twittertest.Options{})
			defer srv.Close()
			srv.Fail(twitter.EndpointSubscriptions, tc.fault)
			subs, err := activityClient(t, srv).Subscribe(t.Context(), srv.Account().ID, twitter.EventTypes(true, true)...)
			var re *twitter.RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("Subscribe: %v, %v; want a *RefusedError", subs, err)
			}
			wantKind(t, err, tc.kind)
			if !strings.Contains(err.Error(), tc.words) || !strings.Contains(err.Error(), "refused the list of subscriptions") {
				t.Errorf("error %q lacks %q", err, tc.words)
			}
			if !strings.Contains(re.Fix(), tc.advice) || !strings.Contains(re.Fix(), "delivery: poll") {
				t.Errorf("Fix = %q, want %q and the way to poll only", re.Fix(), tc.advice)
			}
			if got := twitter.Fix(err); got != re.Fix() {
				t.Errorf("twitter.Fix = %q, want the refusal's own advice %q", got, re.Fix())
			}
			if n := srv.Requests(twitter.EndpointSubscribe); n != 0 {
				t.Errorf("%d subscriptions made after the list was refused", n)
			}
		})
	}

	t.Run("transient", func(t *testing.T) {
		srv := twittertest.NewServer(twittertest.Options{})
		defer srv.Close()
		srv.Fail(twitter.EndpointSubscriptions, twittertest.Fault{Status: 503})
		_, err := activityClient(t, srv).Subscribe(t.Context(), srv.Account().ID, twitter.EventDM)
		if errors.As(err, new(*twitter.RefusedError)) {
			t.Fatalf("a 503 is a refusal: %v", err)
		}
		wantKind(t, err, twitter.KindTransient)
	})

	t.Run("one type refused", func(t *testing.T) {
		srv := twittertest.NewServer(twittertest.Options{})
		defer srv.Close()
		srv.Fail(twitter.EndpointSubscribe, twittertest.Fault{Status: 403, Body: `{"title":"Forbidden","detail":"The dm.read scope is required for dm.received.","type":"about:blank","status":403}`})
		subs, err := activityClient(t, srv).Subscribe(t.Context(), srv.Account().ID, twitter.EventDM, twitter.EventMention)
		var re *twitter.RefusedError
		if !errors.As(err, &re) || re.Op != "a subscription to dm.received" {
			t.Fatalf("Subscribe: %v, want dm.received refused", err)
		}
		if !strings.Contains(err.Error(), "dm.read scope is required") || !strings.Contains(re.Fix(), "Direct messages") {
			t.Errorf("error %q, Fix %q", err, re.Fix())
		}
		if len(subs) != 1 || subs[0].EventType != twitter.EventMention || !subs[0].New {
			t.Errorf("subscriptions %+v, want the mention one made", subs)
		}
	})

	t.Run("private event for another user", func(t *testing.T) {
		srv := twittertest.NewServer(twittertest.Options{})
		defer srv.Close()
		other := srv.AddUser("someone")
		_, err := activityClient(t, srv).Subscribe(t.Context(), other.ID, twitter.EventDM)
		if !errors.As(err, new(*twitter.RefusedError)) || !strings.Contains(err.Error(), "private event") {
			t.Errorf("Subscribe for another user's DMs: %v", err)
		}
	})
}

// A stream event decodes into the same Post or DM as a poll returns.
func TestStreamEventsAsPolled(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
	defer srv.Close()
	acct := srv.Account()
	alice, bob := srv.AddUser("alice"), srv.AddUser("bob")
	a := activityClient(t, srv)
	subscribed(t, a, srv)
	v2 := contractClient(t, "v2", srv)
	v11 := contractClient(t, "v1.1", srv)
	r := startStream(t, a.NewStream(twitter.StreamOptions{UserID: acct.ID}))
	defer func() {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	}()
	r.next(t, twitter.StreamUp)

	polled := func(id string) twitter.Post {
		t.Helper()
		ps, err := v2.Mentions(t.Context(), acct.ID, twitter.MentionsParams{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.ID == id {
				return p
			}
		}
		t.Fatalf("post %s not polled", id)
		return twitter.Post{}
	}

	// A mention.
	m := srv.Post(alice, "@mypi led on", 0)
	u := r.next(t, twitter.StreamEvent)
	if u.Event.Type != twitter.EventMention || u.Event.Post == nil || u.Event.Tag != twitter.SubscriptionTag || u.Event.UserID != acct.ID || u.Event.UUID == "" {
		t.Fatalf("event %+v", u.Event)
	}
	got, want := *u.Event.Post, polled(m.ID)
	got.AuthorUsername = "" // the stream's includes name the author; v2 polls do not ask (each user is billed)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mention from the stream\n %+v\nfrom a poll\n %+v", got, want)
	}

	// The account's reply makes no event; bob's reply to it does, as a
	// reply only: its leading @handles are no mention.
	rid, err := v2.Reply(t.Context(), m.ID, "@alice led is on")
	if err != nil {
		t.Fatal(err)
	}
	rp := srv.ReplyTo(bob, rid, "@mypi @alice led off", 0)
	u = r.next(t, twitter.StreamEvent)
	if u.Event.Type != twitter.EventReply || u.Event.ID() != rp.ID {
		t.Fatalf("event %+v, want bob's reply %s", u.Event, rp.ID)
	}
	got, want = *u.Event.Post, polled(rp.ID)
	got.AuthorUsername = ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reply from the stream\n %+v\nfrom a poll\n %+v", got, want)
	}

	// A reply that also mentions the account in its text: both events.
	both := srv.ReplyTo(bob, rid, "@mypi @alice thanks @mypi", 0)
	e1, e2 := r.next(t, twitter.StreamEvent).Event, r.next(t, twitter.StreamEvent).Event
	if e1.ID() != both.ID || e2.ID() != both.ID || e1.Type == e2.Type {
		t.Errorf("events %s %s, %s %s: want a mention and a reply of %s", e1.Type, e1.ID(), e2.Type, e2.ID(), both.ID)
	}

	// A DM, with what v1.1 escapes.
	dm := srv.SendDM(alice, "led on & fan <50%>", 0)
	u = r.next(t, twitter.StreamEvent)
	if u.Event.Type != twitter.EventDM || u.Event.DM == nil || u.Event.Post != nil {
		t.Fatalf("event %+v", u.Event)
	}
	for _, c := range []twitter.Client{v2, v11} {
		dms, err := c.DirectMessages(t.Context(), twitter.DMParams{})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(dms, func(d twitter.DM) bool { return d.ID == dm.ID })
		if i < 0 {
			t.Fatalf("%s: DM %s not polled", c.Version(), dm.ID)
		}
		if got := *u.Event.DM; got != dms[i] {
			t.Errorf("DM from the stream\n %+v\nfrom a %s poll\n %+v", got, c.Version(), dms[i])
		}
	}

	// A post that does not mention the account, and the account's own DM:
	// nothing. The next event is the next mention.
	srv.Post(alice, "hello world", 0)
	if _, err := v2.SendDM(t.Context(), alice.ID, "hi alice"); err != nil {
		t.Fatal(err)
	}
	last := srv.Post(bob, "@MyPi status", 0)
	if u := r.next(t, twitter.StreamEvent); u.Event.ID() != last.ID {
		t.Errorf("event %+v, want %s", u.Event, last.ID)
	}
	if got, want := srv.Reads(twitter.EndpointStream), 6; got != want {
		t.Errorf("%d stream events billed, want %d", got, want)
	}
}

// Events of another user or type on the app's stream are skipped.
func TestStreamSkipsOthers(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
	defer srv.Close()
	a := activityClient(t, srv)
	subscribed(t, a, srv)
	alice := srv.AddUser("alice")
	r := startStream(t, a.NewStream(twitter.StreamOptions{UserID: "12345"}))
	defer r.stop()
	r.next(t, twitter.StreamUp)
	srv.Post(alice, "@mypi led on", 0)
	u := r.next(t, twitter.StreamSkipped, twitter.StreamEvent)
	if u.Kind != twitter.StreamSkipped || !strings.Contains(u.Err.Error(), "not the account") {
		t.Errorf("update %v %v, want a skipped event of another user", u.Kind, u.Err)
	}
}

// X refusing a subscription that exists (the list missed it) is no
// refusal of the stream: it is listed again and reused.
func TestSubscribeExistsAfterAll(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	acct := srv.Account()
	made, err := activityClient(t, srv).Subscribe(t.Context(), acct.ID, twitter.EventDM)
	if err != nil {
		t.Fatal(err)
	}
	srv.Fail(twitter.EndpointSubscriptions, twittertest.Fault{Status: 200, Body: `{"meta":{"total_subscriptions":0}}`})
	subs, err := activityClient(t, srv).Subscribe(t.Context(), acct.ID, twitter.EventDM)
	if err != nil || len(subs) != 1 || subs[0].ID != made[0].ID || subs[0].New {
		t.Fatalf("Subscribe: %+v, %v; want %s reused", subs, err, made[0].ID)
	}
	if n := len(srv.Subscriptions()); n != 1 {
		t.Errorf("%d subscriptions, want 1", n)
	}
}

// An invalid request's words name what was wrong.
func TestSubscribeInvalidRequest(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	_, err := activityClient(t, srv).Subscribe(t.Context(), srv.Account().ID, "post.telepathy")
	var re *twitter.RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "[post.telepathy] is not one of the supported event types") {
		t.Errorf("Subscribe: %v", err)
	}
}
