package bot_test

// The fault matrix: the real v2 (and v1.1) client and the bot against
// twittertest in memory, under testing/synctest so hours pass in
// milliseconds. Each fault is injected while a command waits; the bot must
// keep running, read no more than the 4 MiB bound, cause no 429 of its own,
// and run and answer the command once the fault clears.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// tamper is a RoundTripper between the client and the fake that can break
// what the fake answers, and counts what came back.
type tamper struct {
	base http.RoundTripper

	mu       sync.Mutex
	mode     func(req *http.Request, resp *http.Response) (*http.Response, error) // nil: pass
	before   func(req *http.Request) error                                        // nil: pass
	status   map[string][]int                                                     // by path prefix: statuses seen
	read     int64                                                                // body bytes the client read
	injected int                                                                  // 429s the test made
}

func (t *tamper) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	before, mode := t.before, t.mode
	t.mu.Unlock()
	if before != nil {
		if err := before(req); err != nil {
			return nil, err
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if mode != nil {
		if resp, err = mode(req, resp); err != nil {
			return nil, err
		}
	}
	t.mu.Lock()
	key := req.Method + " " + req.URL.Path
	if t.status == nil {
		t.status = map[string][]int{}
	}
	t.status[key] = append(t.status[key], resp.StatusCode)
	t.mu.Unlock()
	resp.Body = &countBody{ReadCloser: resp.Body, t: t}
	return resp, nil
}

func (t *tamper) set(before func(*http.Request) error, mode func(*http.Request, *http.Response) (*http.Response, error)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.before, t.mode = before, mode
}

// tooMany is how many 429s came back that the test did not inject.
func (t *tamper) tooMany() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, ss := range t.status {
		for _, s := range ss {
			if s == http.StatusTooManyRequests {
				n++
			}
		}
	}
	return n - t.injected
}

type countBody struct {
	io.ReadCloser
	t *tamper
}

func (b *countBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.t.mu.Lock()
	b.t.read += int64(n)
	b.t.mu.Unlock()
	return n, err
}

// endless is a body that never ends: '[' forever, or one byte per tick.
type endless struct {
	ctx  context.Context // the request's: a transport's body ends with it
	tick time.Duration
}

func (e endless) Read(p []byte) (int, error) {
	if err := e.ctx.Err(); err != nil {
		return 0, err
	}
	if e.tick > 0 {
		time.Sleep(e.tick)
		p[0] = ' '
		return 1, nil
	}
	for i := range p {
		p[i] = '['
	}
	return len(p), nil
}

func (endless) Close() error { return nil }

// lockedBuffer is a log sink safe for the bot's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// count is how many JSON lines have msg.
func (l *lockedBuffer) count(msg string) int {
	n := 0
	for _, line := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			n++
		}
	}
	return n
}

// rig is a bot running against the fake inside a synctest bubble.
type rig struct {
	t      *testing.T
	srv    *twittertest.Server
	tamper *tamper
	bot    *bot.Bot
	log    *lockedBuffer
	alice  twitter.User
	done   chan error
	dir    string

	mu  sync.Mutex
	ran []string // post ids the handler ran
}

func (r *rig) runs(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.ran {
		if x == id {
			n++
		}
	}
	return n
}

// running fails the test when the bot's loop has returned.
func (r *rig) running() {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.t.Fatalf("the bot stopped: %v\n%s", err, r.log.String())
	default:
	}
}

// replied is how many replies answer post id.
// commands posts n commands from alice ("@mypi led 0", ...) and returns
// their ids, oldest first.
func (r *rig) commands(n int) []string {
	var ids []string
	for i := range n {
		ids = append(ids, r.srv.Post(r.alice, fmt.Sprintf("@mypi led %d", i), 0).ID)
	}
	return ids
}

// ranOnce fails for every command that did not run exactly once: replies
// may wait for a limit, commands do not.
func (r *rig) ranOnce(ids []string) {
	r.t.Helper()
	for _, id := range ids {
		if n := r.runs(id); n != 1 {
			r.t.Errorf("command %s ran %d times, want 1 (replies wait, commands do not)", id, n)
		}
	}
}

func (r *rig) replied(id string) int {
	n := 0
	for _, x := range r.srv.Replies() {
		if x.InReplyTo == id {
			n++
		}
	}
	return n
}

// newRig starts the fake with tier, a v2 or v1.1 client through a tamper,
// and a bot that polls mentions every minute; it returns once the bot has
// its starting point. Call inside synctest.Test.
func newRig(t *testing.T, api string, tier twittertest.Tier) *rig {
	t.Helper()
	return newRigWith(t, api, tier, nil)
}

// newRigWith is newRig with the bot's options changed by opt first.
func newRigWith(t *testing.T, api string, tier twittertest.Tier, opt func(*bot.Options)) *rig {
	t.Helper()
	srv := twittertest.NewServer(twittertest.Options{InMemory: true, Tier: tier})
	t.Cleanup(srv.Close)
	tp := &tamper{base: srv.Transport()}
	c, err := twitter.New(twitter.Options{API: api, BaseURL: srv.URL, Credentials: srv.Credentials(), Transport: tp})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, srv: srv, tamper: tp, log: &lockedBuffer{}, alice: srv.AddUser("alice"), done: make(chan error, 1), dir: t.TempDir()}
	o := bot.Options{
		Client: c,
		Handler: bot.HandlerFunc(func(ctx context.Context, c bot.Command) string {
			r.mu.Lock()
			r.ran = append(r.ran, c.ID)
			r.mu.Unlock()
			return "ok " + c.Text
		}),
		StateDir:     r.dir,
		Logger:       slog.New(slog.NewJSONHandler(r.log, nil)),
		PollInterval: time.Minute,
		Allow:        []string{"@alice"},
		MaxAge:       48 * time.Hour, // the faults here last hours; nothing is too old
		Reply:        true,
		ClockFloor:   time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), // synctest's clock starts in 2000
	}
	if opt != nil {
		opt(&o)
	}
	bt, err := bot.New(o)
	if err != nil {
		t.Fatal(err)
	}
	r.bot = bt
	ctx, cancel := context.WithCancel(context.Background())
	if err := bt.Start(ctx, strings.SplitN(srv.Credentials().AccessToken, "-", 2)[0]); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- bt.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	time.Sleep(time.Second)
	synctest.Wait()
	if !bt.State().MentionsStarted {
		t.Fatalf("no starting point after the first poll\n%s", r.log.String())
	}
	return r
}

// faultCase is one row of the matrix.
type faultCase struct {
	name string
	api  string // default v2
	// inject breaks the fake or the tamper; clear mends it (nil: the
	// fault runs out by itself).
	inject, clear func(r *rig)
	lasts         time.Duration // how long the fault is left in place
	maxPolls      int           // most mention requests allowed while it lasts
	recover       time.Duration // time allowed to recover once it clears
	check         func(t *testing.T, r *rig)
}

func failAll(ep string, f twittertest.Fault) func(r *rig) {
	return func(r *rig) { f.Count = -1; r.srv.Fail(ep, f) }
}

func clearAll(r *rig) { r.srv.ClearFaults(); r.tamper.set(nil, nil) }

func onMentions(req *http.Request) bool {
	return strings.Contains(req.URL.Path, "/mentions")
}

// transientPolls bounds the mention requests in the 30 minutes of a
// transient fault: the waits double from 2 s to the cap, max(poll_interval,
// 30s) = 1m here, with jitter in [cap/2, cap): at most one request per 30 s
// once capped, and the few of the climb.
const transientPolls = int(30*time.Minute/(30*time.Second)) + 6

// TestFaultMatrix: for each fault, the bot keeps running, reads at most
// the 4 MiB bound per answer, causes no 429 itself, keeps its state small,
// and once the fault clears runs the waiting command once and answers it.
func TestFaultMatrix(t *testing.T) {
	const mib = 1 << 20
	cases := []faultCase{
		{name: "429 with reset", inject: func(r *rig) {
			r.tamper.mu.Lock()
			r.tamper.injected++
			r.tamper.mu.Unlock()
			r.srv.Fail(twitter.EndpointMentions, twittertest.Fault{Status: 429})
		}, lasts: 20 * time.Minute, maxPolls: 6, recover: 20 * time.Minute},
		{name: "429 without reset headers", inject: func(r *rig) {
			r.tamper.mu.Lock()
			r.tamper.injected++
			r.tamper.mu.Unlock()
			r.srv.Fail(twitter.EndpointMentions, twittertest.Fault{Status: 429})
			r.tamper.set(nil, func(req *http.Request, resp *http.Response) (*http.Response, error) {
				if resp.StatusCode != http.StatusTooManyRequests {
					return resp, nil
				}
				for k := range resp.Header {
					if strings.HasPrefix(strings.ToLower(k), "x-rate-limit") || strings.HasPrefix(strings.ToLower(k), "x-user-limit") {
						resp.Header.Del(k)
					}
				}
				return resp, nil
			})
		}, lasts: 14 * time.Minute, maxPolls: 11, recover: 5 * time.Minute}, // no reset named: a minute, then paced as the other answers say
		{name: "500", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Status: 500}), lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute},
		{name: "502", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Status: 502, Body: "<html>Bad Gateway</html>"}), lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute},
		{name: "503", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Status: 503, Body: `{"title":"Service Unavailable","status":503}`}), lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute},
		{name: "504", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Status: 504, Body: ""}), lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute},
		{name: "timeout", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Delay: time.Hour}), lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute},
		{name: "connection reset", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Drop: true}), lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute},
		{name: "malformed JSON", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Malformed: true}), lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute},
		{name: "truncated JSON", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Status: 200, Body: `{"data":[{"id":"1`}), lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute},
		{name: "HTML 200", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Status: 200, Body: "<html><body>captive portal</body></html>"}), lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute},
		{name: "huge body", inject: func(r *rig) {
			r.tamper.set(nil, func(req *http.Request, resp *http.Response) (*http.Response, error) {
				if onMentions(req) {
					resp.Body.Close()
					resp.Body, resp.ContentLength = endless{ctx: req.Context()}, -1
				}
				return resp, nil
			})
		}, lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute,
			check: func(t *testing.T, r *rig) {
				polls := int64(r.srv.Requests(twitter.EndpointMentions))
				if n := r.tamper.read; n > polls*(4*mib+64<<10) {
					t.Errorf("read %d bytes in %d answers, want at most 4 MiB (and a buffer) each", n, polls)
				}
			}},
		{name: "slow drip", inject: func(r *rig) {
			r.tamper.set(nil, func(req *http.Request, resp *http.Response) (*http.Response, error) {
				if onMentions(req) {
					resp.Body.Close()
					resp.Body, resp.ContentLength = endless{ctx: req.Context(), tick: time.Second}, -1
				}
				return resp, nil
			})
		}, lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute},
		{name: "DNS failure", inject: func(r *rig) {
			r.tamper.set(func(req *http.Request) error {
				return &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "api.x.invalid", IsNotFound: true}}
			}, nil)
		}, lasts: 30 * time.Minute, maxPolls: transientPolls, recover: 11 * time.Minute},
		{name: "clock far off", inject: func(r *rig) {
			// The server's clock (Date, resets, post times) three hours
			// behind: as when the Pi's own clock is three hours ahead (a
			// wrong real-time clock) until NTP steps it back. (The other
			// way round, the fake's clock stepping back would leave the
			// post's time ahead of its clock, which X's never is: the bot
			// does not believe such a time; TestMaxAgeFromTheID.)
			r.srv.SetClock(func() time.Time { return time.Now().Add(-3 * time.Hour) })
		}, clear: func(r *rig) { r.srv.SetClock(time.Now) },
			lasts: 30 * time.Minute, maxPolls: 31, recover: 11 * time.Minute,
			check: func(t *testing.T, r *rig) {
				if n := r.log.count("the clock is far from the API's: nothing runs or is sent until it is set"); n < 1 {
					t.Errorf("no error line about the clock")
				}
			}},
		{name: "401 keys revoked", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Status: 401,
			Body: `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`}),
			lasts: 60 * time.Minute, maxPolls: 13, recover: 11 * time.Minute,
			check: func(t *testing.T, r *rig) {
				if n := r.log.count("the API refused the keys; outputs stay as they are, retrying slowly"); n < 1 {
					t.Errorf("no loud line about the keys")
				}
			}},
		{name: "403 client-not-enrolled", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Status: 403, Body: clientNotEnrolled}),
			lasts: 60 * time.Minute, maxPolls: 13, recover: 11 * time.Minute,
			check: func(t *testing.T, r *rig) { checkFix(t, r, "Project") }},
		{name: "453 v1.1", api: "v1.1", inject: failAll(twitter.EndpointMentions, twittertest.Fault{Status: 403, Body: code453}),
			lasts: 60 * time.Minute, maxPolls: 13, recover: 11 * time.Minute,
			check: func(t *testing.T, r *rig) { checkFix(t, r, "api: v2") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := c.api
				if api == "" {
					api = "v2"
				}
				r := newRig(t, api, twittertest.TierBasic)
				polls0 := r.srv.Requests(twitter.EndpointMentions)
				c.inject(r)
				p := r.srv.Post(r.alice, "@mypi led on", 0)
				time.Sleep(c.lasts)
				synctest.Wait()
				r.running()
				if n := r.srv.Requests(twitter.EndpointMentions) - polls0; n > c.maxPolls {
					t.Errorf("%d mention requests in %s of the fault, want at most %d", n, c.lasts, c.maxPolls)
				}
				if c.name != "429 with reset" && c.name != "429 without reset headers" && r.runs(p.ID) != 0 {
					t.Errorf("the command ran during the fault")
				}
				if c.check != nil {
					c.check(t, r)
				}
				clearAll(r)
				if c.clear != nil {
					c.clear(r)
				}
				time.Sleep(c.recover)
				synctest.Wait()
				r.running()
				if n := r.runs(p.ID); n != 1 {
					t.Errorf("the command ran %d times after the fault cleared, want 1\n%s", n, r.log.String())
				}
				if n := r.replied(p.ID); n != 1 {
					t.Errorf("%d replies to the command, want 1", n)
				}
				if n := r.tamper.tooMany(); n != 0 {
					t.Errorf("the bot caused %d 429s", n)
				}
				st := r.bot.State()
				if len(st.Outbox) != 0 || len(st.SeenDMs) > 500 {
					t.Errorf("state holds %d replies and %d DM ids", len(st.Outbox), len(st.SeenDMs))
				}
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > 64<<20 {
					t.Errorf("heap %d MiB after the fault", ms.HeapAlloc>>20)
				}
				checkNoSecretIn(t, r.srv.Credentials(), r.log.String())
			})
		})
	}
}

// The answers X gives an app outside a Project, and v1.1 reads on a
// self-serve account (the texts as X sends them).
const (
	clientNotEnrolled = `{"client_id":"12345","detail":"When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project. You can create a project via the developer portal.","registration_url":"https://developer.twitter.com/en/docs/projects/overview","title":"Client Forbidden","required_enrollment":"Appropriate Level of API Access","reason":"client-not-enrolled","type":"https://api.twitter.com/2/problems/client-forbidden"}`
	code453           = `{"errors":[{"message":"You currently have access to a subset of X API V2 endpoints and limited v1.1 endpoints (e.g. media post, oauth) only. If you need access to this endpoint, you may need a different access level. You can learn more here: https://developer.x.com/en/portal/product","code":453}]}`
)

// checkFix: the bot said, as an error, what to change in the portal.
func checkFix(t *testing.T, r *rig, want string) {
	t.Helper()
	for _, line := range strings.Split(r.log.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "the API refused the request" {
			continue
		}
		if fix, _ := m["fix"].(string); m["level"] == "ERROR" && strings.Contains(fix, "developer portal") && strings.Contains(fix, want) {
			return
		}
		t.Errorf("the fix does not say what to change in the developer portal (%q): %s", want, line)
		return
	}
	t.Errorf("no error line for the 403\n%s", r.log.String())
}

// checkNoSecretIn fails when any of the four keys is in text. The access
// token's public part (the account id before the dash) may appear.
func checkNoSecretIn(t *testing.T, c twitter.Credentials, text string) {
	t.Helper()
	_, tokenSecretPart, _ := strings.Cut(c.AccessToken, "-")
	for _, s := range []string{c.ConsumerKey, c.ConsumerSecret, tokenSecretPart, c.AccessTokenSecret} {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("a secret (%.4s...) is in the output", s)
		}
	}
}

// TestDayLimitOnPosts: with a 24-hour limit of 3 posts and 6 commands, 3
// replies go out, the others wait in the outbox without a single 429, and
// go out after the day resets; every command runs at once, once.
func TestDayLimitOnPosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "v2", twittertest.TierBasic)
		r.srv.SetDayLimit(twitter.EndpointPost, 3)
		ids := r.commands(6)
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		r.ranOnce(ids)
		if n := len(r.srv.Replies()); n != 3 {
			t.Errorf("%d replies within the day, want 3", n)
		}
		if n := r.srv.Requests(twitter.EndpointPost); n > 3 {
			t.Errorf("%d post requests within the day, want 3: the bot must not ask past the limit", n)
		}
		if n := len(r.bot.State().Outbox); n != 3 {
			t.Errorf("outbox %d, want 3 waiting", n)
		}
		time.Sleep(23 * time.Hour)
		synctest.Wait()
		r.running()
		for _, id := range ids {
			if n := r.replied(id); n != 1 {
				t.Errorf("command %s answered %d times after the reset, want 1", id, n)
			}
		}
		if n := r.tamper.tooMany(); n != 0 {
			t.Errorf("the bot caused %d 429s", n)
		}
	})
}

// TestOutboxFullDropsOldest: the replies waiting for the post limit are
// bounded (50). With a 24-hour limit of 1 post and 56 commands, every
// command runs at once; the first reply goes out, the next 55 wait, and the
// 5 oldest of them give way, each with a log line; after the reset (the
// limit then lifted) the 50 newest go out in the order of their commands,
// without a 429.
func TestOutboxFullDropsOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "v2", twittertest.TierBasic)
		r.srv.SetDayLimit(twitter.EndpointPost, 1)
		ids := r.commands(56)
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		r.ranOnce(ids)
		if n := len(r.bot.State().Outbox); n != 50 {
			t.Errorf("outbox %d, want 50 (its bound)", n)
		}
		if n := strings.Count(r.log.String(), "outbox full: dropping the oldest reply"); n != 5 {
			t.Errorf("%d \"outbox full\" log lines, want 5", n)
		}
		r.srv.SetDayLimit(twitter.EndpointPost, 0) // from the reset on, posts are not limited
		time.Sleep(23 * time.Hour)
		synctest.Wait()
		r.running()
		var got []string
		for _, rep := range r.srv.Replies() {
			got = append(got, rep.InReplyTo)
		}
		want := append([]string{ids[0]}, ids[6:]...)
		if !slices.Equal(got, want) {
			t.Errorf("replies to %d commands %v,\nwant the first and the 50 newest in order %v", len(got), got, want)
		}
		if n := r.tamper.tooMany(); n != 0 {
			t.Errorf("the bot caused %d 429s", n)
		}
	})
}

// TestRateLimitTiers: on the Free tier (mentions 1 per 15 minutes) the bot
// polls no more than the window allows over six hours, with faults.
func TestRateLimitTiers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "v2", twittertest.TierFree)
		r.srv.Fail(twitter.EndpointMentions, twittertest.Fault{Status: 503, Count: 2})
		p := r.srv.Post(r.alice, "@mypi led on", 0)
		time.Sleep(6 * time.Hour)
		synctest.Wait()
		r.running()
		// 24 windows, and the two failed requests retried.
		if n := r.srv.Requests(twitter.EndpointMentions); n > 24+2+2 {
			t.Errorf("%d mention requests in 6h on the Free tier", n)
		}
		if n := r.tamper.tooMany(); n != 0 {
			t.Errorf("the bot caused %d 429s", n)
		}
		if n := r.runs(p.ID); n != 1 {
			t.Errorf("the command ran %d times, want 1", n)
		}
	})
}

// TestReplyFaults: a reply whose post fails (5xx, dropped, timed out, 429)
// waits and goes out once when the fault clears; the command is not run
// again for it.
func TestReplyFaults(t *testing.T) {
	for name, f := range map[string]twittertest.Fault{
		"503":     {Status: 503, Count: 3},
		"dropped": {Drop: true, Count: 3},
		"timeout": {Delay: time.Hour, Count: 2},
		"429":     {Status: 429, Count: 1},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, "v2", twittertest.TierBasic)
				if f.Status == 429 {
					r.tamper.injected++
				}
				r.srv.Fail(twitter.EndpointPost, f)
				p := r.srv.Post(r.alice, "@mypi led on", 0)
				time.Sleep(25 * time.Hour) // a 429 on posts waits for the window named: 24h on Basic
				synctest.Wait()
				r.running()
				if n := r.runs(p.ID); n != 1 {
					t.Errorf("ran %d times, want 1", n)
				}
				if n := r.replied(p.ID); n != 1 {
					t.Errorf("%d replies, want 1\n%s", n, r.log.String())
				}
				if n := r.tamper.tooMany(); n != 0 {
					t.Errorf("the bot caused %d 429s", n)
				}
			})
		})
	}
}

// TestCursorRefused: the API refuses the mentions cursor (X answers 400 to
// a since_id it finds too old: a Pi switched off for weeks). The bot must
// not ask with it forever: it reads the newest page instead, runs the new
// command once, runs nothing it ran before, and polls on from a cursor the
// API takes.
func TestCursorRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "v2", twittertest.TierBasic)
		first := r.commands(1)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		r.ranOnce(first)
		old := r.bot.State().MentionsSince
		if old != first[0] {
			t.Fatalf("cursor %q, want the command's id %s", old, first[0])
		}
		refused := 0
		r.tamper.set(nil, func(req *http.Request, resp *http.Response) (*http.Response, error) {
			if !onMentions(req) || req.URL.Query().Get("since_id") != old {
				return resp, nil
			}
			resp.Body.Close()
			r.tamper.mu.Lock()
			refused++
			r.tamper.mu.Unlock()
			body := fmt.Sprintf(`{"errors":[{"parameters":{"since_id":["%s"]},"message":"Invalid 'since_id':'%s'. 'since_id' must be a tweet id created after 2026-01-01T00:00Z."}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}`, old, old)
			return &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
		})
		next := r.commands(2)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		r.running()
		r.ranOnce(append(first, next...))
		for _, id := range next {
			if n := r.replied(id); n != 1 {
				t.Errorf("%d replies to %s, want 1", n, id)
			}
		}
		if n := r.replied(first[0]); n != 1 {
			t.Errorf("%d replies to the command from before the refusal, want its one", n)
		}
		r.tamper.mu.Lock()
		n := refused
		r.tamper.mu.Unlock()
		if n != 1 {
			t.Errorf("the refused cursor was sent %d times, want once", n)
		}
		if st := r.bot.State(); st.MentionsSince == old || !twitter.ValidID(st.MentionsSince) {
			t.Errorf("cursor %q after the refusal, want a newer one", st.MentionsSince)
		}
	})
}

// TestEditsDoNotRunAgain: X gives an edited post a new id, with the ids of
// its versions in edit_history_tweet_ids. An edit of a post that ran does
// not run again, with the same text or another, and gets no second reply;
// a post edited before any poll saw it runs once, as its newest version.
func TestEditsDoNotRunAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "v2", twittertest.TierBasic)
		p := r.srv.Post(r.alice, "@mypi led on", 0)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		same := r.srv.Edit(p, "@mypi led on")
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		other := r.srv.Edit(same, "@mypi led off")
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		q := r.srv.Post(r.alice, "@mypi fan 10%", 0)
		qe := r.srv.Edit(q, "@mypi fan 20%") // before the next poll
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		r.running()
		for id, want := range map[string]int{p.ID: 1, same.ID: 0, other.ID: 0, q.ID: 0, qe.ID: 1} {
			if n := r.runs(id); n != want {
				t.Errorf("post %s ran %d times, want %d", id, n, want)
			}
		}
		if n := len(r.srv.Replies()); n != 2 {
			t.Errorf("%d replies, want 2 (the first post and the edited one)", n)
		}
	})
}

// TestMaxAgeFromTheID: a post's or a DM's age is the time in its id (a
// snowflake) when created_at is missing, not a time, or ahead of the
// server's clock: an 8 s old command is too old for max_age 3s whatever
// created_at says.
func TestMaxAgeFromTheID(t *testing.T) {
	for name, repl := range map[string]string{
		"missing": "",
		"garbage": `"created_at":"yesterday",`,
		"future":  `"created_at":"2099-01-01T00:00:00.000Z",`,
		"ahead":   "AHEAD", // an hour ahead of the server's Date
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Snowflakes start in 2010; synctest's clock in 2000.
				time.Sleep(time.Until(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
				r := newRigWith(t, "v2", twittertest.TierPro, func(o *bot.Options) {
					o.MaxAge = 3 * time.Second
					o.PollInterval = 10 * time.Second
					o.Listen = []string{bot.InboxMentions, bot.InboxDMs}
				})
				createdAt := regexp.MustCompile(`"created_at":"[^"]*",?`)
				r.tamper.set(nil, func(req *http.Request, resp *http.Response) (*http.Response, error) {
					if req.Method != http.MethodGet || !(onMentions(req) || strings.Contains(req.URL.Path, "/dm_events")) {
						return resp, nil
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						return nil, err
					}
					r := repl
					if r == "AHEAD" {
						r = `"created_at":"` + time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z") + `",`
					}
					body = createdAt.ReplaceAll(body, []byte(r))
					body = bytes.ReplaceAll(body, []byte(",}"), []byte("}"))
					resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
					resp.Header.Del("Content-Length")
					return resp, nil
				})
				m := r.srv.Post(r.alice, "@mypi led on", 8*time.Second)
				d := r.srv.SendDM(r.alice, "led on", 8*time.Second)
				time.Sleep(time.Minute)
				synctest.Wait()
				r.running()
				if n := r.runs(m.ID) + r.runs(d.ID); n != 0 {
					t.Errorf("an 8 s old command ran with max_age 3s (created_at %s)\n%s", name, r.log.String())
				}
				if n := r.log.count("command"); n != 2 {
					t.Errorf("%d command lines, want 2 too-old answers\n%s", n, r.log.String())
				}
				if !strings.Contains(r.log.String(), `"result":"too_old"`) {
					t.Errorf("no too_old result in the log")
				}
			})
		})
	}
}

// TestRecoveryAfterOutage: after five minutes of 500s from every endpoint,
// a command posted the moment X recovers is answered within max(poll_interval,
// 30s) (the backoff's cap) and a poll: the backoff does not climb to minutes.
func TestRecoveryAfterOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRigWith(t, "v2", twittertest.TierUnlimited, func(o *bot.Options) { o.PollInterval = time.Second })
		for _, ep := range []string{twitter.EndpointMentions, twitter.EndpointPost} {
			r.srv.Fail(ep, twittertest.Fault{Status: 500, Count: -1})
		}
		time.Sleep(5 * time.Minute)
		r.srv.ClearFaults()
		back := time.Now()
		p := r.srv.Post(r.alice, "@mypi led on", 0)
		for r.replied(p.ID) == 0 && time.Since(back) < time.Hour {
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(back)
		t.Logf("a command posted as X came back after a 5-minute outage was answered %s later", took.Round(time.Second))
		if took > 30*time.Second+2*time.Second {
			t.Errorf("answered %s after X came back, want within the 30s cap and a poll", took.Round(time.Second))
		}
		if n := r.log.count("reachable again"); n < 1 {
			t.Errorf("no \"reachable again\" line")
		}
	})
}

// TestSlowRepliesDoNotStopTheLoop: a reply endpoint that works but takes 5 s
// a post, with 20 replies queued, does not hold the loop: it goes round
// (the watchdog's progress) at least every 10 s, a command posted meanwhile
// runs at the next poll, and the replies go out once each, in order.
func TestSlowRepliesDoNotStopTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var turns []time.Time
		r := newRigWith(t, "v2", twittertest.TierUnlimited, func(o *bot.Options) {
			o.PollInterval = time.Second
			o.Progress = func() {
				mu.Lock()
				turns = append(turns, time.Now())
				mu.Unlock()
			}
		})
		r.srv.Fail(twitter.EndpointPost, twittertest.Fault{Delay: 5 * time.Second, Count: 21})
		ids := r.commands(20)
		time.Sleep(10 * time.Second)
		late := r.srv.Post(r.alice, "@mypi fan 1%", 0)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if n := r.runs(late.ID); n != 1 {
			t.Errorf("a command posted while 20 slow replies go out ran %d times within 3s, want 1: the loop waits on the sends", n)
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		r.running()
		var got []string
		for _, rep := range r.srv.Replies() {
			got = append(got, rep.InReplyTo)
		}
		if want := append(slices.Clone(ids), late.ID); !slices.Equal(got, want) {
			t.Errorf("replies to %v, want each command answered once, in order %v", got, want)
		}
		mu.Lock()
		defer mu.Unlock()
		var worst time.Duration
		for i := 1; i < len(turns); i++ {
			worst = max(worst, turns[i].Sub(turns[i-1]))
		}
		t.Logf("the loop went round %d times; the longest gap %s, while 21 replies took 5 s each", len(turns), worst)
		if worst > 11*time.Second {
			t.Errorf("the loop did not go round for %s: a watchdog of 60 s would not see progress for that long", worst)
		}
	})
}

// TestLostDMReplyNotSentTwice: a DM reply that X took but whose answer was
// lost (a timeout, a connection reset after the request went out) is not
// sent again: before a second try, the bot looks in dm_events, where the
// account's own sent DMs are listed, and finds it there. One whose request
// never took effect is sent again, once. A mention reply keeps its
// duplicate check (X refuses the same text twice).
func TestLostDMReplyNotSentTwice(t *testing.T) {
	for name, f := range map[string]twittertest.Fault{
		"lost after it took effect": {Lost: true},
		"dropped before":            {Drop: true},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRigWith(t, "v2", twittertest.TierBasic, func(o *bot.Options) {
					o.Listen = []string{bot.InboxMentions, bot.InboxDMs}
				})
				r.srv.Fail(twitter.EndpointSendDM, f)
				r.srv.Fail(twitter.EndpointPost, f)
				d := r.srv.SendDM(r.alice, "led on", 0)
				m := r.srv.Post(r.alice, "@mypi led off", 0)
				time.Sleep(30 * time.Minute)
				synctest.Wait()
				r.running()
				if n := r.runs(d.ID) + r.runs(m.ID); n != 2 {
					t.Errorf("%d runs, want the two commands once each", n)
				}
				var toAlice int
				for _, s := range r.srv.SentDMs() {
					if s.To == r.alice.ID {
						toAlice++
					}
				}
				if toAlice != 1 {
					t.Errorf("%d DMs to alice, want the reply once\n%s", toAlice, r.log.String())
				}
				if confirmed := strings.Contains(r.log.String(), `"confirmed":true`); confirmed != f.Lost {
					t.Errorf("confirmed in dm_events: %t, want %t", confirmed, f.Lost)
				}
				if n := r.replied(m.ID); n != 1 {
					t.Errorf("%d replies to the mention, want 1", n)
				}
				if st := r.bot.State(); len(st.Outbox) != 0 {
					t.Errorf("%d replies still queued", len(st.Outbox))
				}
			})
		})
	}
}
