package twittertest

import (
	"encoding/json"
	"fmt"
	"html"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// version says which error shape an endpoint speaks.
type version int

const (
	v2 version = iota
	v11
)

// answer is what a handler decided, written by the middleware.
type answer struct {
	status int
	body   any    // encoded as JSON unless raw is set
	raw    string // a body as is (form or HTML)
	ctype  string
	event  *Event         // sent to watchers after the answer
	reads  int            // posts or DM events returned: what X bills a read by
	billed []twitter.Item // what X bills for the answer, before its daily deduplication
	// serve, when set, writes the answer itself, after the lock is let go
	// (the Activity stream).
	serve func(w http.ResponseWriter, r *http.Request)
}

// handler answers one authenticated request; it runs with s.mu held.
type handler func(r *http.Request, body []byte, now time.Time) answer

func (s *Server) routes() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /2/users/me", s.api(twitter.EndpointMe, v2, s.v2Me))
	m.HandleFunc("GET /2/users/by/username/{username}", s.api(twitter.EndpointUserByName, v2, s.v2UserByName))
	m.HandleFunc("GET /2/users/{id}/mentions", s.api(twitter.EndpointMentions, v2, s.v2Mentions))
	m.HandleFunc("GET /2/dm_events", s.api(twitter.EndpointDMEvents, v2, s.v2DMEvents))
	m.HandleFunc("POST /2/tweets", s.api(twitter.EndpointPost, v2, s.v2Tweet))
	m.HandleFunc("POST /2/dm_conversations/with/{id}/messages", s.api(twitter.EndpointSendDM, v2, s.v2SendDM))

	m.HandleFunc("GET /1.1/account/verify_credentials.json", s.api(twitter.EndpointMe, v11, s.v11VerifyCredentials))
	m.HandleFunc("GET /1.1/users/show.json", s.api(twitter.EndpointUserByName, v11, s.v11UsersShow))
	m.HandleFunc("GET /1.1/statuses/mentions_timeline.json", s.api(twitter.EndpointMentions, v11, s.v11Mentions))
	m.HandleFunc("POST /1.1/statuses/update.json", s.api(twitter.EndpointPost, v11, s.v11Update))
	m.HandleFunc("GET /1.1/direct_messages/events/list.json", s.api(twitter.EndpointDMEvents, v11, s.v11DMList))
	m.HandleFunc("POST /1.1/direct_messages/events/new.json", s.api(twitter.EndpointSendDM, v11, s.v11DMNew))

	m.HandleFunc("POST /oauth2/token", s.api(twitter.EndpointAppToken, v11, s.issueToken))
	m.HandleFunc("GET /2/activity/subscriptions", s.api(twitter.EndpointSubscriptions, v2, s.listSubscriptions))
	m.HandleFunc("POST /2/activity/subscriptions", s.api(twitter.EndpointSubscribe, v2, s.createSubscription))
	m.HandleFunc("GET /2/activity/stream", s.api(twitter.EndpointStream, v2, s.stream))
	m.HandleFunc("DELETE /2/connections/all", s.api(twitter.EndpointConnections, v2, s.deleteConnections))

	m.HandleFunc("POST /oauth/request_token", s.api(EndpointRequestToken, v11, s.requestToken))
	m.HandleFunc("GET /oauth/authorize", s.api(EndpointAuthorize, v11, s.authorize))
	m.HandleFunc("POST /oauth/access_token", s.api(EndpointAccessToken, v11, s.accessToken))

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, problem(http.StatusNotFound, "Not Found", "Sorry, that page does not exist."))
	})
	return m
}

// api wraps a handler with what every request goes through: the request
// log, injected faults, the signature check, the rate limits and their
// headers, and the Date header.
func (s *Server) api(ep string, ver version, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		now := s.clock()
		s.log[ep] = append(s.log[ep], now)
		f := s.takeFault(ep)
		s.mu.Unlock()

		if f != nil {
			if f.Delay > 0 {
				t := time.NewTimer(f.Delay)
				select {
				case <-t.C:
				case <-r.Context().Done():
					t.Stop()
					return
				}
			}
			if f.Drop && !f.Lost {
				if hj, ok := w.(http.Hijacker); ok {
					if c, _, err := hj.Hijack(); err == nil {
						c.Close()
						return
					}
				}
				panic(http.ErrAbortHandler)
			}
			if f.Malformed || f.Status != 0 || f.Body != "" {
				s.writeFault(w, ep, ver, f)
				return
			}
		}

		body, err := readBody(r)
		if err != nil {
			return
		}
		s.mu.Lock()
		now = s.clock()
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		var a answer
		switch ep {
		case EndpointAuthorize:
			a = h(r, body, now) // a page for a person: not signed
		default:
			if refused, ok := s.check(r, ep, ver, body, now); !ok {
				a = refused
			} else if out, ok := s.outOfCredit(ep, ver); ok {
				a = out
			} else if !s.spend(ep, now) {
				a = tooMany(ver)
			} else {
				a = h(r, body, now)
			}
		}
		s.limitHeaders(w.Header(), ep, now)
		s.reads[ep] += a.reads
		s.bill(now, a.billed...)
		s.mu.Unlock()

		if f != nil && f.Lost {
			// It took effect; the answer never reaches the client.
			if a.event != nil {
				s.notify(*a.event)
			}
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		if a.serve != nil {
			a.serve(w, r)
			return
		}
		s.write(w, a)
		if a.event != nil {
			s.notify(*a.event)
		}
	}
}

func (s *Server) write(w http.ResponseWriter, a answer) {
	if a.raw != "" || a.ctype != "" {
		w.Header().Set("Content-Type", a.ctype)
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.raw)
		return
	}
	writeJSON(w, a.status, a.body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"title":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Server) writeFault(w http.ResponseWriter, ep string, ver version, f *Fault) {
	s.mu.Lock()
	now := s.clock()
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	s.limitHeaders(w.Header(), ep, now)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if f.Malformed {
		w.WriteHeader(http.StatusOK)
		if ver == v2 {
			fmt.Fprint(w, `{"data":[{"id":"14`)
		} else {
			fmt.Fprint(w, `[{"id":14,"id_str":"14`)
		}
		return
	}
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	if f.Body != "" {
		fmt.Fprint(w, f.Body)
		return
	}
	b, _ := json.Marshal(errorShape(ver, status, http.StatusText(status), http.StatusText(status), 0))
	w.Write(b)
}

// problem is v2's error shape (RFC 7807 problem JSON).
func problem(status int, title, detail string) map[string]any {
	return map[string]any{"title": title, "detail": detail, "type": "about:blank", "status": status}
}

// v1Errors is v1.1's error shape.
func v1Errors(code int, msg string) map[string]any {
	e := map[string]any{"message": msg}
	if code != 0 {
		e["code"] = code
	}
	return map[string]any{"errors": []any{e}}
}

func errorShape(ver version, status int, title, detail string, code int) any {
	if ver == v2 {
		return problem(status, title, detail)
	}
	if code == 0 && status >= 500 {
		code = 131
	}
	return v1Errors(code, detail)
}

func unauthorized(ver version, why string) answer {
	if ver == v2 {
		return answer{status: http.StatusUnauthorized, body: problem(http.StatusUnauthorized, "Unauthorized", "Unauthorized")}
	}
	if why == whyTimestamp {
		return answer{status: http.StatusUnauthorized, body: v1Errors(135, "Timestamp out of bounds.")}
	}
	return answer{status: http.StatusUnauthorized, body: v1Errors(32, "Could not authenticate you.")}
}

func tooMany(ver version) answer {
	if ver == v2 {
		return answer{status: http.StatusTooManyRequests, body: problem(http.StatusTooManyRequests, "Too Many Requests", "Too Many Requests")}
	}
	return answer{status: http.StatusTooManyRequests, body: v1Errors(88, "Rate limit exceeded")}
}

// Problem types X answers when an app may spend no more.
const (
	ProblemUsageCapped = "https://api.twitter.com/2/problems/usage-capped"
)

// outOfCredit is the answer while the app's credits are used up (402) or
// its spending cap is reached (429 usage-capped), for every API request
// (not the PIN flow's). Call with s.mu held.
func (s *Server) outOfCredit(ep string, ver version) (answer, bool) {
	if !s.noCredits && !s.capped || ep == EndpointRequestToken || ep == EndpointAccessToken {
		return answer{}, false
	}
	if s.noCredits {
		return answer{status: http.StatusPaymentRequired, body: errorShape(ver, http.StatusPaymentRequired, "Payment Required",
			"Your enrolled account does not have any credits to fulfill this request.", 0)}, true
	}
	b := problem(http.StatusTooManyRequests, "Usage Capped", "Your app has reached its usage cap for this billing cycle.")
	b["type"] = ProblemUsageCapped
	return answer{status: http.StatusTooManyRequests, body: b}, true
}

const (
	whyTimestamp = "timestamp out of bounds"
	maxSkew      = 5 * time.Minute
)

// check authenticates a request the way its endpoint wants: HTTP Basic
// with the consumer key and secret for the app token, the bearer token for
// the stream and the connections, an OAuth 1.0a signature for the rest. It
// returns the refusal X answers, or ok. Call with s.mu held.
func (s *Server) check(r *http.Request, ep string, ver version, body []byte, now time.Time) (answer, bool) {
	switch ep {
	case twitter.EndpointAppToken:
		if !s.basicOK(r, body) {
			return tokenRefused(), false
		}
	case twitter.EndpointStream, twitter.EndpointConnections:
		if !s.bearerOK(r) {
			return unauthorized(v2, "bad bearer token"), false
		}
	default:
		if msg := s.authenticate(r, ep, body, now); msg != "" {
			return unauthorized(ver, msg), false
		}
	}
	return answer{}, true
}

// authenticate checks the request's OAuth 1.0a signature and returns why
// it is refused, or "" when it is good. Call with s.mu held.
func (s *Server) authenticate(r *http.Request, ep string, body []byte, now time.Time) string {
	oauth, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return err.Error()
	}
	switch {
	case oauth["oauth_consumer_key"] != s.consumer.ConsumerKey:
		return "unknown consumer key"
	case oauth["oauth_signature_method"] != "HMAC-SHA1":
		return "signature method is not HMAC-SHA1"
	case oauth["oauth_version"] != "" && oauth["oauth_version"] != "1.0":
		return "oauth_version is not 1.0"
	case oauth["oauth_nonce"] == "" || oauth["oauth_signature"] == "":
		return "no nonce or signature"
	}
	ts, err := strconv.ParseInt(oauth["oauth_timestamp"], 10, 64)
	if err != nil {
		return "bad timestamp"
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return whyTimestamp
	}
	var tokenSecret string
	switch ep {
	case EndpointRequestToken:
		if oauth["oauth_callback"] == "" {
			return "no oauth_callback"
		}
	case EndpointAccessToken:
		sec, ok := s.requests[oauth["oauth_token"]]
		if !ok {
			return "unknown request token"
		}
		tokenSecret = sec
	default:
		sec, ok := s.tokens[oauth["oauth_token"]]
		if !ok {
			return "unknown access token"
		}
		tokenSecret = sec
	}
	var form []byte
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		form = body
	}
	params, err := collectParams(r.URL.RawQuery, form, oauth)
	if err != nil {
		return err.Error()
	}
	base := signatureBase(r.Method, addressed(r), params)
	if !signatureMatches(oauth["oauth_signature"], base, s.consumer.ConsumerSecret, tokenSecret) {
		return "signature does not match"
	}
	// A nonce is good once per timestamp window.
	for n, t := range s.nonces {
		if now.Sub(t) > 2*maxSkew {
			delete(s.nonces, n)
		}
	}
	key := oauth["oauth_nonce"] + "/" + oauth["oauth_timestamp"]
	if _, used := s.nonces[key]; used {
		return "nonce used before"
	}
	s.nonces[key] = now
	return ""
}

// addressed is the URL the client addressed: the scheme of the connection,
// the Host header and the path as sent.
func addressed(r *http.Request) *url.URL {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
}

// The PIN-based (oob) flow.

func (s *Server) requestToken(r *http.Request, body []byte, now time.Time) answer {
	tok, sec := randomString(27), randomString(32)
	s.requests[tok] = sec
	return answer{status: http.StatusOK, ctype: "application/x-www-form-urlencoded",
		raw: url.Values{"oauth_token": {tok}, "oauth_token_secret": {sec}, "oauth_callback_confirmed": {"true"}}.Encode()}
}

func (s *Server) authorize(r *http.Request, body []byte, now time.Time) answer {
	tok := r.URL.Query().Get("oauth_token")
	if _, ok := s.requests[tok]; !ok {
		return answer{status: http.StatusBadRequest, ctype: "text/html; charset=utf-8",
			raw: "<!doctype html><title>X</title><p>This page is no longer valid. Start the authorization again.</p>\n"}
	}
	page := fmt.Sprintf("<!doctype html><title>Authorize app</title>\n<p>Signed in as @%s. You have authorized the app.</p>\n<p>Enter this PIN to complete the authorization process: <code id=\"oauth_pin\">%s</code></p>\n",
		html.EscapeString(s.account.Username), s.pin)
	return answer{status: http.StatusOK, ctype: "text/html; charset=utf-8", raw: page}
}

func (s *Server) accessToken(r *http.Request, body []byte, now time.Time) answer {
	oauth, _ := parseAuthorization(r.Header.Get("Authorization"))
	if oauth["oauth_verifier"] != s.pin {
		return answer{status: http.StatusUnauthorized, body: v1Errors(0, "Invalid oauth_verifier parameter")}
	}
	delete(s.requests, oauth["oauth_token"])
	tok, sec := s.account.ID+"-"+randomString(40), randomString(45)
	s.tokens[tok] = sec
	return answer{status: http.StatusOK, ctype: "application/x-www-form-urlencoded",
		raw: url.Values{"oauth_token": {tok}, "oauth_token_secret": {sec}, "user_id": {s.account.ID}, "screen_name": {s.account.Username}}.Encode()}
}
