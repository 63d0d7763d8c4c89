package twitter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Token is a secret the Activity API needs besides the four keys: the app's
// bearer token (OAuth 2.0 app-only, from POST /oauth2/token), or the HTTP
// Basic credentials that fetch it. It lives in memory only. Every way of
// printing it (fmt's verbs, JSON, text, slog) shows "[redacted]", or
// "[unset]" when empty; only this package reads it, to put it in an
// Authorization header.
//
// The value sits behind a pointer: fmt prints an unexported field of a
// struct without calling its methods, and a pointer there prints as an
// address, so even %+v of a struct holding a Token cannot show it.
// (config.Secret is a string: fine as a config field, but a Secret in an
// unexported field would print in full, and anyone can convert it back.)
type Token struct{ v *string }

func newToken(s string) Token {
	if s == "" {
		return Token{}
	}
	return Token{v: &s}
}

// IsZero reports whether the token is unset.
func (t Token) IsZero() bool { return t.v == nil }

// reveal is the value, for an Authorization header.
func (t Token) reveal() string {
	if t.v == nil {
		return ""
	}
	return *t.v
}

func (t Token) mask() string {
	if t.v == nil {
		return "[unset]"
	}
	return "[redacted]"
}

// String implements fmt.Stringer.
func (t Token) String() string { return t.mask() }

// GoString implements fmt.GoStringer, for %#v.
func (t Token) GoString() string { return t.mask() }

// Format implements fmt.Formatter: no verb (%s, %v, %q, %x, %d...) prints
// the value.
func (t Token) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", t.mask())
		return
	}
	io.WriteString(f, t.mask())
}

// LogValue implements slog.LogValuer.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.mask()) }

// MarshalText implements encoding.TextMarshaler (JSON, YAML and the like).
func (t Token) MarshalText() ([]byte, error) { return []byte(t.mask()), nil }

// basicCredentials is the HTTP Basic value of POST /oauth2/token: the
// consumer key and secret, each URL-encoded (RFC 1738), joined by ":" and
// base64-encoded.
func basicCredentials(key, secret string) Token {
	raw := url.QueryEscape(key) + ":" + url.QueryEscape(secret)
	return newToken("Basic " + base64.StdEncoding.EncodeToString([]byte(raw)))
}

// AppToken is the app's bearer token, fetched once (POST /oauth2/token with
// the consumer key and secret) and kept in memory. X answers the same token
// until it is invalidated; the stream drops it and fetches it again when X
// refuses it.
func (a *Activity) AppToken(ctx context.Context) (Token, error) {
	a.tokMu.Lock()
	defer a.tokMu.Unlock()
	if !a.tok.IsZero() {
		return a.tok, nil
	}
	form := "grant_type=client_credentials"
	ex, err := a.appCall(ctx, EndpointAppToken, http.MethodPost, "/oauth2/token", a.basic, func(h http.Header) {
		h.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	}, form)
	if err != nil {
		return Token{}, refusal(opToken, err)
	}
	var ans struct {
		TokenType   string `json:"token_type"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(ex.body, &ans); err != nil {
		// The body may hold the token: the error says where, not what.
		return Token{}, &APIError{Kind: KindTransient, Endpoint: EndpointAppToken, Status: ex.status, Title: "malformed answer", Detail: "not JSON"}
	}
	if !strings.EqualFold(ans.TokenType, "bearer") || ans.AccessToken == "" {
		return Token{}, &APIError{Kind: KindTransient, Endpoint: EndpointAppToken, Status: ex.status, Title: "malformed answer",
			Detail: fmt.Sprintf("token_type %.20q, want bearer with an access_token", ans.TokenType)}
	}
	a.tok = newToken(ans.AccessToken)
	return a.tok, nil
}

// dropToken forgets t, after X refused it; a newer token stays.
func (a *Activity) dropToken(t Token) {
	a.tokMu.Lock()
	defer a.tokMu.Unlock()
	if a.tok.reveal() == t.reveal() {
		a.tok = Token{}
	}
}

// appCall sends one request that is not OAuth 1.0a signed (the token with
// Basic, the connections endpoint with the bearer token) and reads its
// answer with a size bound; a non-2xx answer becomes an *APIError, the end
// of ctx comes back as ctx's own error.
func (a *Activity) appCall(ctx context.Context, ep, method, path string, auth Token, header func(http.Header), body string) (*exchange, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", ep, err)
	}
	cctx, cancel := context.WithTimeout(ctx, a.c.timeout)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(cctx, method, a.root+path, rd)
	if err != nil {
		return nil, &APIError{Kind: KindOther, Endpoint: ep, Err: err}
	}
	a.setHeaders(req.Header, auth)
	if header != nil {
		header(req.Header)
	}
	resp, err := a.app.RoundTrip(req)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w", ep, ctx.Err())
	}
	if a.c.meter != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		a.c.meter.Request(ep, status)
	}
	if err != nil {
		if cctx.Err() != nil {
			err = errTimeout(a.c.timeout)
		}
		return nil, &APIError{Kind: KindTransient, Endpoint: ep, Err: stripURL(err)}
	}
	defer resp.Body.Close()
	b, err := readBody(resp)
	a.c.limits.observe(ep, resp.Header, time.Now())
	if err == nil && len(b) > maxBody {
		err = fmt.Errorf("answer longer than %d bytes", maxBody)
	}
	if err != nil {
		if cctx.Err() != nil {
			err = errTimeout(a.c.timeout)
		}
		return nil, &APIError{Kind: KindTransient, Endpoint: ep, Status: resp.StatusCode, Err: fmt.Errorf("reading answer: %w", stripURL(err))}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, errorFromAnswer(ep, resp.StatusCode, resp.Header, b)
	}
	return &exchange{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// setHeaders puts the Authorization (a Basic or Bearer value) and the
// User-Agent on an unsigned request.
func (a *Activity) setHeaders(h http.Header, auth Token) {
	if !auth.IsZero() {
		v := auth.reveal()
		if !strings.HasPrefix(v, "Basic ") {
			v = "Bearer " + v
		}
		h.Set("Authorization", v)
	}
	if a.c.userAgent != "" {
		h.Set("User-Agent", a.c.userAgent)
	}
}
