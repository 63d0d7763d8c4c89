package twitter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dghubble/oauth1"
)

// The OAuth endpoints of the PIN flow, as APIError.Endpoint names them.
const (
	EndpointRequestToken = "oauth/request_token"
	EndpointAccessToken  = "oauth/access_token"
)

// pinTimeout bounds each request of the PIN flow when Options.Timeout is 0.
const pinTimeout = 30 * time.Second

// PINFlow is OAuth 1.0a's PIN-based (out-of-band) flow, which gets the
// access token and secret of any account for the app's consumer key and
// secret: Start returns the page where the person signs in as the account
// and authorizes the app, which shows a PIN; Finish trades the PIN for the
// account's token and secret. Failures are *APIError like the clients'
// (a refused consumer key or PIN is KindUnauthorized), so callers branch on
// KindOf, never on the error's text. It is for one person at a terminal:
// not safe for concurrent use.
type PINFlow struct {
	cfg      oauth1.Config
	rt       http.RoundTripper
	timeout  time.Duration
	ua       string
	token    string // the request token, once Start got one
	tokenSec string
}

// NewPINFlow returns the flow for opt's base URL (X's when empty) and
// consumer key and secret; the access token and secret in opt are not used.
// It sends nothing until Start.
func NewPINFlow(opt Options) (*PINFlow, error) {
	raw := opt.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("api url %q: want http(s)://host[/path]", raw)
	}
	c := opt.Credentials
	if c.ConsumerKey == "" || c.ConsumerSecret == "" {
		return nil, errors.New("credentials: the PIN flow needs the consumer key and secret")
	}
	f := &PINFlow{rt: opt.Transport, timeout: opt.Timeout, ua: opt.UserAgent}
	if f.rt == nil {
		f.rt = http.DefaultTransport
	}
	if f.timeout <= 0 {
		f.timeout = pinTimeout
	}
	b := base.String()
	f.cfg = oauth1.Config{
		ConsumerKey:    c.ConsumerKey,
		ConsumerSecret: c.ConsumerSecret,
		CallbackURL:    "oob",
		Endpoint: oauth1.Endpoint{
			RequestTokenURL: b + "/oauth/request_token",
			AuthorizeURL:    b + "/oauth/authorize",
			AccessTokenURL:  b + "/oauth/access_token",
		},
	}
	return f, nil
}

// Start gets a request token and returns the page where the person signs
// in as the account and authorizes the app; it shows the PIN for Finish.
func (f *PINFlow) Start(ctx context.Context) (authorizeURL string, err error) {
	err = f.do(ctx, EndpointRequestToken, func() (err error) {
		f.token, f.tokenSec, err = f.cfg.RequestToken()
		return err
	})
	if err != nil {
		return "", err
	}
	u, err := f.cfg.AuthorizationURL(f.token)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// Finish trades the PIN the authorize page showed for the account's access
// token and secret. A wrong or stale PIN is KindUnauthorized.
func (f *PINFlow) Finish(ctx context.Context, pin string) (token, secret string, err error) {
	if f.token == "" {
		return "", "", errors.New("PIN flow: Finish before Start")
	}
	err = f.do(ctx, EndpointAccessToken, func() (err error) {
		token, secret, err = f.cfg.AccessToken(f.token, f.tokenSec, strings.TrimSpace(pin))
		return err
	})
	return token, secret, err
}

// do runs one oauth1 call with ctx and the timeout on its requests, and
// turns its failure into an *APIError from the answer itself: oauth1
// returns only text.
func (f *PINFlow) do(ctx context.Context, ep string, call func() error) error {
	cctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	ex := &exchange{}
	f.cfg.HTTPClient = &http.Client{Transport: &pinTransport{ctx: cctx, next: f.rt, ua: f.ua, ex: ex}}
	err := call()
	f.cfg.HTTPClient = nil
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", ep, ctx.Err())
	}
	switch {
	case ex.status == 0:
		err = stripURL(err)
		if cctx.Err() != nil {
			err = errTimeout(f.timeout)
		}
		return &APIError{Kind: KindTransient, Endpoint: ep, Err: err}
	case ex.status < 200 || ex.status > 299:
		return errorFromAnswer(ep, ex.status, ex.header, ex.body)
	}
	return &APIError{Kind: KindTransient, Endpoint: ep, Status: ex.status, Title: "malformed answer", Err: err}
}

// pinTransport puts the call's context and user agent on each request and
// keeps the answer (bounded, like the clients') for do.
type pinTransport struct {
	ctx  context.Context
	next http.RoundTripper
	ua   string
	ex   *exchange
}

func (t *pinTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.WithContext(t.ctx)
	if t.ua != "" {
		r.Header = r.Header.Clone()
		r.Header.Set("User-Agent", t.ua)
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if err := keep(resp, t.ex); err != nil {
		return nil, err
	}
	return resp, nil
}
