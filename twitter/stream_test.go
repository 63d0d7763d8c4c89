package twitter_test

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// The stream's timing, in synctest bubbles: keep-alives, the silence
// timeout, and the wait X documents for each kind of failure.

// within checks a wait: at least want (X's figure), at most a tenth more
// (the jitter).
func within(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if got < want || got > want+want/10 {
		t.Errorf("%s: %s, want %s to %s", what, got, want, want+want/10)
	}
}

func TestStreamKeepAlives(t *testing.T) {
	inBubble(t, twittertest.Options{}, func(t *testing.T, srv *twittertest.Server) {
		a := activityClient(t, srv)
		subscribed(t, a, srv)
		st := a.NewStream(twitter.StreamOptions{UserID: srv.Account().ID})
		r := bubbleStream(t, st)
		defer r.stop()
		up := r.next(t, twitter.StreamUp)
		for i := 1; i <= 3; i++ {
			k := r.next(t, twitter.StreamKeepAlive, twitter.StreamDown)
			if k.Kind != twitter.StreamKeepAlive || k.At.Sub(up.At) != time.Duration(i)*20*time.Second {
				t.Fatalf("update %d: %v at +%s, want a keep-alive at +%ds", i, k.Kind, k.At.Sub(up.At), 20*i)
			}
		}
		s := st.Status()
		if !s.Up || s.KeepAlives != 3 || s.Connects != 1 || s.Err != nil || !s.LastData.Equal(up.At.Add(time.Minute)) {
			t.Errorf("status %+v", s)
		}
		if n := srv.Requests(twitter.EndpointStream); n != 1 {
			t.Errorf("%d connections, want 1", n)
		}
	})
}

// Nothing at all for 30 s: the stream is made again, at once when it had
// delivered, after the network wait when it had not.
func TestStreamSilence(t *testing.T) {
	inBubble(t, twittertest.Options{}, func(t *testing.T, srv *twittertest.Server) {
		a := activityClient(t, srv)
		subscribed(t, a, srv)
		r := bubbleStream(t, a.NewStream(twitter.StreamOptions{}))
		defer r.stop()
		r.next(t, twitter.StreamUp)
		ka := r.next(t, twitter.StreamKeepAlive)
		srv.StallStreams()
		down := r.next(t, twitter.StreamDown)
		if got := down.At.Sub(ka.At); got != twitter.DefaultStreamIdle {
			t.Errorf("down %s after the last keep-alive, want %s", got, twitter.DefaultStreamIdle)
		}
		if down.Retry != 0 || down.Backoff != twitter.BackoffNone || !strings.Contains(down.Err.Error(), "not even a keep-alive, for 30s") {
			t.Errorf("down: %v, retry %s %s; want at once", down.Err, down.Retry, down.Backoff)
		}
		up := r.next(t, twitter.StreamUp)
		if !up.At.Equal(down.At) {
			t.Errorf("reconnected %s after the silence, want at once", up.At.Sub(down.At))
		}

		// Silent from the start: it had not delivered, so the network wait.
		srv.StallStreams()
		down = r.next(t, twitter.StreamDown)
		if got := down.At.Sub(up.At); got != twitter.DefaultStreamIdle {
			t.Errorf("down %s after connecting, want %s", got, twitter.DefaultStreamIdle)
		}
		if down.Backoff != twitter.BackoffNetwork {
			t.Errorf("backoff %s, want network", down.Backoff)
		}
		within(t, "wait after a silent connection", down.Retry, 250*time.Millisecond)
		up = r.next(t, twitter.StreamUp)
		if got := up.At.Sub(down.At); got != down.Retry {
			t.Errorf("reconnected after %s, want %s", got, down.Retry)
		}
		// A reconnect can reach the fake before it has seen the silent
		// connection closed (X too counts a connection for a while): that
		// one is refused with TooManyConnections, and the client clears the
		// app's connections and connects again at once.
		if n, cleared := srv.Requests(twitter.EndpointStream), srv.Requests(twitter.EndpointConnections); n != 3+cleared || cleared > 1 {
			t.Errorf("%d connections with %d clears, want 3 and a refused one for each clear (at most one)", n, cleared)
		}
	})
}

// A connection that hangs before its headers counts as a network failure.
func TestStreamNoAnswer(t *testing.T) {
	inBubble(t, twittertest.Options{}, func(t *testing.T, srv *twittertest.Server) {
		a := activityClient(t, srv) // Timeout 5s
		subscribed(t, a, srv)
		srv.Fail(twitter.EndpointStream, twittertest.Fault{Delay: time.Hour})
		start := time.Now()
		r := bubbleStream(t, a.NewStream(twitter.StreamOptions{}))
		defer r.stop()
		down := r.next(t, twitter.StreamDown)
		if got := down.At.Sub(start); got != 5*time.Second {
			t.Errorf("gave up after %s, want the 5s timeout", got)
		}
		if down.Backoff != twitter.BackoffNetwork || !strings.Contains(down.Err.Error(), "no answer within 5s") {
			t.Errorf("down: %v %s", down.Err, down.Backoff)
		}
		r.next(t, twitter.StreamUp)
	})
}

func TestStreamBackoff(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault twittertest.Fault
		n     int
		kind  twitter.Backoff
		want  func(i int) time.Duration // the wait after failure i (from 1)
		words string
	}{
		{"network", twittertest.Fault{Drop: true}, 66, twitter.BackoffNetwork,
			func(i int) time.Duration { return min(time.Duration(i)*250*time.Millisecond, 16*time.Second) }, "EOF"},
		{"http", twittertest.Fault{Status: 503}, 9, twitter.BackoffHTTP,
			func(i int) time.Duration { return min(5*time.Second<<(i-1), 320*time.Second) }, "503"},
		{"rate limit", twittertest.Fault{Status: 429}, 6, twitter.BackoffRateLimit,
			func(i int) time.Duration { return min(time.Minute<<(i-1), 16*time.Minute) }, "429"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, twittertest.Options{}, func(t *testing.T, srv *twittertest.Server) {
				a := activityClient(t, srv)
				subscribed(t, a, srv)
				f := tc.fault
				f.Count = tc.n
				srv.Fail(twitter.EndpointStream, f)
				st := a.NewStream(twitter.StreamOptions{})
				r := bubbleStream(t, st)
				defer r.stop()
				var downs []twitter.StreamUpdate
				for i := 1; i <= tc.n; i++ {
					d := r.next(t, twitter.StreamDown, twitter.StreamUp)
					if d.Kind != twitter.StreamDown {
						t.Fatalf("attempt %d: %v", i, d.Kind)
					}
					if d.Backoff != tc.kind || d.Failures != i || !strings.Contains(d.Err.Error(), tc.words) {
						t.Fatalf("failure %d: %v, %s, failures %d; want %s", i, d.Err, d.Backoff, d.Failures, tc.kind)
					}
					within(t, "wait "+strconv.Itoa(i), d.Retry, tc.want(i))
					if s := st.Status(); s.Up || s.Failures != i || s.Backoff != tc.kind || !s.Retry.Equal(d.At.Add(d.Retry)) {
						t.Fatalf("status after failure %d: %+v", i, s)
					}
					downs = append(downs, d)
				}
				r.next(t, twitter.StreamUp)
				times := srv.RequestTimes(twitter.EndpointStream)
				if len(times) != tc.n+1 {
					t.Fatalf("%d attempts, want %d", len(times), tc.n+1)
				}
				for i, d := range downs {
					if gap := times[i+1].Sub(times[i]); gap != d.Retry {
						t.Errorf("attempt %d came %s after attempt %d, want %s", i+2, gap, i+1, d.Retry)
					}
				}

				// Once a connection delivered, the counts start again: a
				// drop reconnects at once, and the next failure waits the
				// first step.
				r.next(t, twitter.StreamKeepAlive)
				srv.Fail(twitter.EndpointStream, tc.fault)
				srv.DropStreams()
				if d := r.next(t, twitter.StreamDown); d.Retry != 0 || d.Failures != 0 {
					t.Errorf("after a drop: retry %s, failures %d; want at once", d.Retry, d.Failures)
				}
				d := r.next(t, twitter.StreamDown)
				within(t, "first wait again", d.Retry, tc.want(1))
				r.next(t, twitter.StreamUp)
			})
		})
	}
}

// A 429 whose headers say when the connection limit resets waits for it.
func TestStreamRateLimitReset(t *testing.T) {
	inBubble(t, twittertest.Options{}, func(t *testing.T, srv *twittertest.Server) {
		a := activityClient(t, srv)
		subscribed(t, a, srv)
		srv.SetLimit(twitter.EndpointStream, 2, 15*time.Minute)
		start := time.Now()
		r := bubbleStream(t, a.NewStream(twitter.StreamOptions{}))
		defer r.stop()
		r.next(t, twitter.StreamUp)
		r.next(t, twitter.StreamKeepAlive)
		srv.DropStreams()
		r.next(t, twitter.StreamUp)
		r.next(t, twitter.StreamKeepAlive)
		srv.DropStreams()
		r.next(t, twitter.StreamDown)
		d := r.next(t, twitter.StreamDown)
		if d.Backoff != twitter.BackoffRateLimit {
			t.Fatalf("down: %v %s", d.Err, d.Backoff)
		}
		reset := start.Add(15 * time.Minute).Sub(d.At)
		within(t, "wait for the limit's reset", d.Retry, reset.Truncate(time.Second))
		r.next(t, twitter.StreamUp)
	})
}

func TestStreamOperationalDisconnect(t *testing.T) {
	inBubble(t, twittertest.Options{}, func(t *testing.T, srv *twittertest.Server) {
		a := activityClient(t, srv)
		subscribed(t, a, srv)
		r := bubbleStream(t, a.NewStream(twitter.StreamOptions{}))
		defer r.stop()
		r.next(t, twitter.StreamUp)
		r.next(t, twitter.StreamKeepAlive)
		srv.DisconnectStreams()
		d := r.next(t, twitter.StreamDown)
		if d.Retry != 0 || !strings.Contains(d.Err.Error(), "disconnected upstream for operational reasons") {
			t.Errorf("down: %v, retry %s; want X's words and at once", d.Err, d.Retry)
		}
		up := r.next(t, twitter.StreamUp)
		if !up.At.Equal(d.At) {
			t.Errorf("reconnected after %s, want at once", up.At.Sub(d.At))
		}
		// Right after connecting, again: at once still; a third time with
		// nothing between waits, as an HTTP error.
		srv.DisconnectStreams()
		if d := r.next(t, twitter.StreamDown); d.Retry != 0 {
			t.Errorf("second disconnect: retry %s, want at once", d.Retry)
		}
		r.next(t, twitter.StreamUp)
		srv.DisconnectStreams()
		d = r.next(t, twitter.StreamDown)
		if d.Backoff != twitter.BackoffHTTP {
			t.Errorf("third disconnect with nothing between: %s, want the http wait", d.Backoff)
		}
		within(t, "wait", d.Retry, 5*time.Second)
		r.next(t, twitter.StreamUp)
	})
}

// TooManyConnections clears the app's stale connections once per start.
func TestStreamTooManyConnections(t *testing.T) {
	inBubble(t, twittertest.Options{StreamLimit: 1}, func(t *testing.T, srv *twittertest.Server) {
		a := activityClient(t, srv)
		subscribed(t, a, srv)
		srv.AddStaleConnections(1) // a daemon killed with its connection open
		st := a.NewStream(twitter.StreamOptions{})
		r := bubbleStream(t, st)
		d := r.next(t, twitter.StreamDown)
		if d.Retry != 0 || !strings.Contains(d.Err.Error(), "maximum allowed connection limit") || !strings.Contains(d.Err.Error(), "cleared 1 stale") {
			t.Errorf("down: %v, retry %s", d.Err, d.Retry)
		}
		up := r.next(t, twitter.StreamUp)
		if !up.At.Equal(d.At) || !st.Status().Cleared {
			t.Errorf("up %s after clearing, status %+v", up.At.Sub(d.At), st.Status())
		}
		if n := srv.Requests(twitter.EndpointConnections); n != 1 {
			t.Errorf("%d DELETE /2/connections/all, want 1", n)
		}

		// Over the limit again in the same start: no second DELETE; it
		// waits as for a 429.
		r.next(t, twitter.StreamKeepAlive)
		srv.AddStaleConnections(1)
		srv.DropStreams()
		r.next(t, twitter.StreamDown)
		d = r.next(t, twitter.StreamDown)
		if d.Backoff != twitter.BackoffRateLimit || !strings.Contains(d.Err.Error(), "TooManyConnections") && !strings.Contains(d.Err.Error(), "connection limit") {
			t.Errorf("down: %v %s", d.Err, d.Backoff)
		}
		within(t, "wait", d.Retry, time.Minute)
		if n := srv.Requests(twitter.EndpointConnections); n != 1 {
			t.Errorf("%d DELETE /2/connections/all in one start, want 1", n)
		}
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}

		// A new start clears them again, once.
		r = bubbleStream(t, a.NewStream(twitter.StreamOptions{}))
		defer r.stop()
		r.next(t, twitter.StreamUp)
		if n := srv.Requests(twitter.EndpointConnections); n != 2 {
			t.Errorf("%d DELETE /2/connections/all after a restart, want 2", n)
		}
	})
}

// A refused token is fetched again once; refused again, Run returns.
func TestStreamUnauthorized(t *testing.T) {
	inBubble(t, twittertest.Options{}, func(t *testing.T, srv *twittertest.Server) {
		a := activityClient(t, srv)
		subscribed(t, a, srv)
		r := bubbleStream(t, a.NewStream(twitter.StreamOptions{}))
		r.next(t, twitter.StreamUp)
		r.next(t, twitter.StreamKeepAlive)
		srv.InvalidateAppToken()
		srv.DropStreams()
		r.next(t, twitter.StreamDown) // the drop
		if d := r.next(t, twitter.StreamDown); d.Retry != 0 || twitter.KindOf(d.Err) != twitter.KindUnauthorized {
			t.Errorf("down: %v, retry %s; want a 401 and at once", d.Err, d.Retry)
		}
		r.next(t, twitter.StreamUp)
		if n := srv.Requests(twitter.EndpointAppToken); n != 2 {
			t.Errorf("%d token requests, want 2", n)
		}

		r.next(t, twitter.StreamKeepAlive)
		srv.Fail(twitter.EndpointStream, twittertest.Fault{Status: 401, Count: -1})
		srv.DropStreams()
		r.next(t, twitter.StreamDown) // the drop
		r.next(t, twitter.StreamDown) // 401: a fresh token
		d := r.next(t, twitter.StreamDown)
		err := <-r.done
		var re *twitter.RefusedError
		if !errors.As(err, &re) || re.Op != "the stream" || d.Err != err {
			t.Fatalf("Run returned %v (last update %v), want the stream refused", err, d.Err)
		}
		if !strings.Contains(re.Fix(), "bearer token") {
			t.Errorf("Fix = %q", re.Fix())
		}
	})
}

func TestStreamRefused(t *testing.T) {
	inBubble(t, twittertest.Options{}, func(t *testing.T, srv *twittertest.Server) {
		a := activityClient(t, srv)
		subscribed(t, a, srv)
		srv.Fail(twitter.EndpointStream, twittertest.Fault{Status: 403, Body: `{"title":"Client Forbidden","detail":"This request must be made using an approved developer account that is enrolled in the requested endpoint.","reason":"client-not-enrolled","type":"https://api.x.com/2/problems/client-forbidden"}`})
		st := a.NewStream(twitter.StreamOptions{})
		r := bubbleStream(t, st)
		d := r.next(t, twitter.StreamDown)
		err := <-r.done
		var re *twitter.RefusedError
		if !errors.As(err, &re) || d.Err != err || !strings.Contains(err.Error(), "enrolled in the requested endpoint") {
			t.Fatalf("Run: %v, want the stream refused with X's words", err)
		}
		if !strings.Contains(re.Fix(), "Project") {
			t.Errorf("Fix = %q", re.Fix())
		}
		if s := st.Status(); s.Up || s.Err != err || !s.Retry.IsZero() {
			t.Errorf("status %+v", s)
		}

		// Tried again later (the bot's hourly retry), the same Stream runs.
		time.Sleep(time.Hour)
		r = bubbleStream(t, st)
		defer r.stop()
		r.next(t, twitter.StreamUp)
		if s := st.Status(); !s.Up || s.Connects != 1 || s.Err != nil {
			t.Errorf("status after a second Run %+v", s)
		}
	})
}

// Over loopback TCP: a dropped connection is made again and events flow.
func TestStreamDropped(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{KeepAlive: 20 * time.Millisecond})
	defer srv.Close()
	a := activityClient(t, srv)
	subscribed(t, a, srv)
	alice := srv.AddUser("alice")
	r := startStream(t, a.NewStream(twitter.StreamOptions{}))
	defer r.stop()
	r.next(t, twitter.StreamUp)
	r.next(t, twitter.StreamKeepAlive)
	srv.DropStreams()
	d := r.next(t, twitter.StreamDown)
	if d.Backoff != twitter.BackoffNone || twitter.KindOf(d.Err) != twitter.KindTransient {
		t.Errorf("down: %v %s", d.Err, d.Backoff)
	}
	r.next(t, twitter.StreamUp)
	p := srv.Post(alice, "@mypi led on", 0)
	if u := r.next(t, twitter.StreamEvent); u.Event.ID() != p.ID {
		t.Errorf("event %+v, want %s", u.Event, p.ID)
	}
}

// A line without end, or a 10 MB one, ends the connection after MaxLine
// bytes: memory does not grow with it.
func TestStreamLineBound(t *testing.T) {
	for name, body := range map[string]func() io.Reader{
		"endless": func() io.Reader { return repeated('a') },
		"10 MB": func() io.Reader {
			return io.MultiReader(io.LimitReader(repeated('x'), 10<<20), strings.NewReader("\n"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			var read atomic.Int64
			a, err := twitter.NewActivity(twitter.Options{
				Credentials: twitter.Credentials{ConsumerKey: "k", ConsumerSecret: "s", AccessToken: "1-t", AccessTokenSecret: "ts"},
				Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
					if r.URL.Path == "/oauth2/token" {
						return answer(200, `{"token_type":"bearer","access_token":"AAAA"}`), nil
					}
					return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(&counting{r: body(), n: &read}), ContentLength: -1, Request: r}, nil
				}),
			})
			if err != nil {
				t.Fatal(err)
			}
			const max = 64 << 10
			r := startStream(t, a.NewStream(twitter.StreamOptions{MaxLine: max}))
			defer r.stop()
			r.next(t, twitter.StreamUp)
			d := r.next(t, twitter.StreamDown)
			if !strings.Contains(d.Err.Error(), "a line longer than 65536 bytes") || d.Backoff != twitter.BackoffHTTP {
				t.Errorf("down: %v %s", d.Err, d.Backoff)
			}
			if n := read.Load(); n > max+8<<10 {
				t.Errorf("read %d bytes of the line, want at most %d", n, max+8<<10)
			}
		})
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func answer(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: -1}
}

// repeated is a reader of one byte, forever.
type repeated byte

func (e repeated) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

type counting struct {
	r io.Reader
	n *atomic.Int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// A line longer than the read buffer but within MaxLine is read whole.
func TestStreamLongLine(t *testing.T) {
	pad := strings.Repeat("x", 200<<10)
	line := `{"data":{"event_uuid":"1","event_type":"post.mention.create","filter":{"user_id":"1"},"payload":{"id":"7","text":"@mypi led on","author_id":"2"},` +
		`"includes":{"users":[{"id":"2","username":"alice","description":"` + pad + `"}]}}}` + "\r\n"
	a, err := twitter.NewActivity(twitter.Options{
		Credentials: twitter.Credentials{ConsumerKey: "k", ConsumerSecret: "s", AccessToken: "1-t", AccessTokenSecret: "ts"},
		Transport: rtFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/oauth2/token" {
				return answer(200, `{"token_type":"bearer","access_token":"AAAA"}`), nil
			}
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(line)), ContentLength: -1, Request: r}, nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := startStream(t, a.NewStream(twitter.StreamOptions{}))
	defer r.stop()
	u := r.next(t, twitter.StreamEvent, twitter.StreamDown)
	if u.Kind != twitter.StreamEvent || u.Event.Post.AuthorUsername != "alice" || u.Event.Post.Text != "@mypi led on" {
		t.Errorf("update %v %+v %v", u.Kind, u.Event.Post, u.Err)
	}
}
