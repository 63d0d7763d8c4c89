package twitter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dghubble/oauth1"
)

// DefaultBaseURL is where both API versions and the OAuth endpoints live.
const DefaultBaseURL = "https://api.x.com"

// DefaultTimeout bounds one request and its answer.
const DefaultTimeout = 15 * time.Second

// maxBody bounds how much of an answer is read (4 MiB).
const maxBody = 4 << 20

// Options configure a client.
type Options struct {
	// API is "v2" (the default when empty) or "v1.1".
	API string
	// BaseURL replaces https://api.x.com; the API's own paths (/2/...,
	// /1.1/...) stay under it. "" is X itself.
	BaseURL string
	// Credentials are the four keys. Only the oauth1 signer sees them.
	Credentials Credentials
	// Timeout bounds each request and its answer; 0 is DefaultTimeout.
	Timeout time.Duration
	// Transport carries the signed requests; nil is a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// UserAgent is sent with every request when set.
	UserAgent string
	// Meter, when set, is told of every request and of what each answer
	// returned (the resources X bills).
	Meter Meter
}

// New returns the client for opt.API.
func New(opt Options) (Client, error) {
	switch opt.API {
	case "", "v2":
		return NewV2(opt)
	case "v1.1":
		return NewV11(opt)
	}
	return nil, fmt.Errorf("api %q: want v2 or v1.1", opt.API)
}

// conn is what both clients share: the signing http.Client's transport, the
// base URL, the timeout and the rate-limit state.
type conn struct {
	base      *url.URL
	signer    http.RoundTripper // oauth1's Transport: signs, then sends through the base transport
	timeout   time.Duration
	userAgent string
	limits    *limitState
	meter     Meter
}

func newConn(opt Options) (*conn, error) {
	raw := opt.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("api url %q: %w", raw, err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("api url %q: want http(s)://host[/path]", raw)
	}
	c := opt.Credentials
	if c.ConsumerKey == "" || c.ConsumerSecret == "" || c.AccessToken == "" || c.AccessTokenSecret == "" {
		return nil, errors.New("credentials: all four keys are needed (consumer key and secret, access token and secret)")
	}
	rt := opt.Transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	// The signer sends through the client found under oauth1.HTTPClient.
	ctx := context.WithValue(context.Background(), oauth1.HTTPClient, &http.Client{Transport: rt})
	signer := oauth1.NewConfig(c.ConsumerKey, c.ConsumerSecret).
		Client(ctx, oauth1.NewToken(c.AccessToken, c.AccessTokenSecret)).Transport
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &conn{base: base, signer: signer, timeout: timeout, userAgent: opt.UserAgent, limits: newLimitState(), meter: opt.Meter}, nil
}

// exchange is what came back for one request.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// callTransport sits above the signer for one call: it puts the call's
// context on the request, moves it to the base URL (so the signature covers
// the URL actually sent), and reads the answer with a size bound.
type callTransport struct {
	ctx     context.Context
	c       *conn
	rewrite bool // move the request's scheme and host to c.base
	ex      *exchange
	ep      string
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// A shallow copy: the signer clones the request before it adds its
	// header, so the header map is copied only when this one must change.
	r := req.WithContext(t.ctx)
	if t.rewrite {
		u := *r.URL
		u.Scheme, u.Host = t.c.base.Scheme, t.c.base.Host
		u.Path = t.c.base.Path + u.Path
		if u.RawPath != "" {
			u.RawPath = t.c.base.EscapedPath() + u.RawPath
		}
		r.URL, r.Host = &u, ""
	}
	if ua := t.c.userAgent; ua != "" && r.Header.Get("User-Agent") != ua {
		r.Header = r.Header.Clone()
		r.Header.Set("User-Agent", ua)
	}
	resp, err := t.c.signer.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	t.c.limits.observe(t.ep, resp.Header, time.Now())
	if err := keep(resp, t.ex); err != nil {
		return nil, err
	}
	return resp, nil
}

// keep reads an answer's body (at most maxBody) into ex, with its status
// and header, and gives resp a body that reads it again for the API code.
func keep(resp *http.Response, ex *exchange) error {
	defer resp.Body.Close()
	body, err := readBody(resp)
	if err != nil {
		return fmt.Errorf("reading answer: %w", err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("answer longer than %d bytes", maxBody)
	}
	ex.status, ex.header, ex.body = resp.StatusCode, resp.Header, body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return nil
}

// readBody reads an answer's body, at most maxBody+1 bytes. A body of known
// length (most are) is read into a buffer of that size: an empty page of
// mentions is a few dozen bytes, not io.ReadAll's 512 and more.
func readBody(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= maxBody {
		body := make([]byte, n)
		_, err := io.ReadFull(resp.Body, body)
		return body, err
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
}

// errTimeout is a request that got no full answer within the client's timeout.
type errTimeout time.Duration

func (e errTimeout) Error() string { return fmt.Sprintf("no answer within %s", time.Duration(e)) }
func (e errTimeout) Timeout() bool { return true }

// call runs send with an http.Client for one request to endpoint ep and turns
// every failure into an *APIError, except the end of ctx, which comes back
// as ctx's own error. decodeErr is what send returned: for a 2xx answer it
// means the body did not decode.
func (c *conn) call(ctx context.Context, ep string, rewrite bool, send func(hc *http.Client) error) (*exchange, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", ep, err)
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ex := &exchange{}
	hc := &http.Client{Transport: &callTransport{ctx: cctx, c: c, rewrite: rewrite, ex: ex, ep: ep}}
	err := send(hc)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w", ep, ctx.Err())
	}
	if c.meter != nil {
		c.meter.Request(ep, ex.status)
	}
	if ex.status == 0 {
		if err == nil {
			err = errors.New("no answer")
		}
		if cctx.Err() != nil {
			err = errTimeout(c.timeout)
		}
		return nil, &APIError{Kind: KindTransient, Endpoint: ep, Err: stripURL(err)}
	}
	if ex.status < 200 || ex.status > 299 {
		return nil, errorFromAnswer(ep, ex.status, ex.header, ex.body)
	}
	if err != nil {
		return nil, &APIError{Kind: KindTransient, Endpoint: ep, Status: ex.status, Title: "malformed answer", Err: err}
	}
	return ex, nil
}

// stripURL drops the *url.Error wrapper: its text repeats the URL, which
// says nothing the endpoint does not.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// limitState is the rate-limit state of every endpoint seen, and the Date of
// the latest answer. Safe for concurrent use.
type limitState struct {
	mu     sync.Mutex
	byEP   map[string]RateLimit
	server time.Time
}

func newLimitState() *limitState { return &limitState{byEP: map[string]RateLimit{}} }

func (l *limitState) observe(ep string, h http.Header, now time.Time) {
	rl, ok := parseLimits(h)
	l.mu.Lock()
	defer l.mu.Unlock()
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		l.server = d
	}
	if ok {
		rl.Seen = now
		l.byEP[ep] = rl
	}
}

func (l *limitState) snapshot() map[string]RateLimit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.byEP)
}

func (l *limitState) date() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.server
}

// parseLimits reads the x-rate-limit-* and x-user-limit-24hour-* headers;
// ok is false when none was sent.
func parseLimits(h http.Header) (rl RateLimit, ok bool) {
	num := func(k string) (int, bool) {
		v := h.Get(k)
		if v == "" {
			return 0, false
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, false
		}
		ok = true
		return int(n), true
	}
	unix := func(k string) time.Time {
		if n, has := num(k); has && n > 0 {
			return time.Unix(int64(n), 0)
		}
		return time.Time{}
	}
	rl.Limit, _ = num("X-Rate-Limit-Limit")
	rl.Remaining, _ = num("X-Rate-Limit-Remaining")
	rl.Reset = unix("X-Rate-Limit-Reset")
	rl.DayLimit, _ = num("X-User-Limit-24hour-Limit")
	rl.DayRemaining, _ = num("X-User-Limit-24hour-Remaining")
	rl.DayReset = unix("X-User-Limit-24hour-Reset")
	return rl, ok
}

// IDLess reports whether decimal id a is less than b, numerically, without
// parsing them (ids are snowflakes: they grow with time, so a smaller id is
// an older post or event); "" is less than any id.
func IDLess(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
