package twittertest

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// The fake's Activity API as X documents it, spoken to by hand.

func tokenRequest(t *testing.T, s *Server, auth, ctype, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/oauth2/token", strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := s.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func basic(key, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(key)+":"+url.QueryEscape(secret)))
}

func TestAppTokenEndpoint(t *testing.T) {
	s := NewServer(Options{Credentials: twitter.Credentials{ConsumerKey: "key+/=", ConsumerSecret: "sec:ret"}})
	defer s.Close()
	c := s.Credentials()
	const form = "application/x-www-form-urlencoded;charset=UTF-8"
	status, body := tokenRequest(t, s, basic(c.ConsumerKey, c.ConsumerSecret), form, "grant_type=client_credentials")
	want, _ := json.Marshal(map[string]string{"access_token": s.AppToken(), "token_type": "bearer"})
	if status != 200 || body != string(want) {
		t.Errorf("token: %d %s, want 200 %s", status, body, want)
	}
	if !strings.Contains(s.AppToken(), "%2B") {
		t.Errorf("token %q is not URL-encoded like X's", s.AppToken())
	}
	const refused = `{"errors":[{"code":99,"label":"authenticity_token_error","message":"Unable to verify your credentials"}]}`
	raw := "Basic " + base64.StdEncoding.EncodeToString([]byte(c.ConsumerKey+":"+c.ConsumerSecret))
	for name, tc := range map[string][3]string{
		"no auth":                  {"", form, "grant_type=client_credentials"},
		"wrong secret":             {basic(c.ConsumerKey, "x"), form, "grant_type=client_credentials"},
		"not URL-encoded":          {raw, form, "grant_type=client_credentials"},
		"bearer instead of basic":  {"Bearer " + s.AppToken(), form, "grant_type=client_credentials"},
		"no grant_type":            {basic(c.ConsumerKey, c.ConsumerSecret), form, ""},
		"another grant":            {basic(c.ConsumerKey, c.ConsumerSecret), form, "grant_type=password"},
		"JSON instead of the form": {basic(c.ConsumerKey, c.ConsumerSecret), "application/json", `{"grant_type":"client_credentials"}`},
	} {
		if status, body := tokenRequest(t, s, tc[0], tc[1], tc[2]); status != 403 || body != refused {
			t.Errorf("%s: %d %s, want 403 %s", name, status, body, refused)
		}
	}
	if n := s.Requests(twitter.EndpointAppToken); n != 8 {
		t.Errorf("%d token requests counted, want 8", n)
	}
}

func streamRequest(ctx context.Context, t *testing.T, s *Server, auth string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/2/activity/stream", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestStreamBearerChecked(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	const want = `{"detail":"Unauthorized","status":401,"title":"Unauthorized","type":"about:blank"}`
	old := s.AppToken()
	s.InvalidateAppToken()
	for name, auth := range map[string]string{
		"none": "", "wrong": "Bearer AAAAwrong", "invalidated": "Bearer " + old,
		"basic": basic(s.Credentials().ConsumerKey, s.Credentials().ConsumerSecret),
	} {
		resp := streamRequest(t.Context(), t, s, auth)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || string(b) != want {
			t.Errorf("%s: %d %s, want 401 %s", name, resp.StatusCode, b, want)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, s.URL+"/2/connections/all", nil)
	req.Header.Set("Authorization", "Bearer "+old)
	resp, err := s.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("DELETE /2/connections/all with an old token: %d, want 401", resp.StatusCode)
	}
	if s.StreamConnections() != 0 {
		t.Error("a refused stream counts as connected")
	}
}

// Subscriptions are signed like the rest of the API.
func TestSubscriptionsUnsigned(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, s.URL+"/2/activity/subscriptions", strings.NewReader(`{"event_type":"dm.received","filter":{"user_id":"1"}}`))
		req.Header.Set("Authorization", "Bearer "+s.AppToken()) // app-only: this fake wants the user's signature
		resp, err := s.Transport().RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s unsigned: %d, want 401", method, resp.StatusCode)
		}
	}
	if len(s.Subscriptions()) != 0 {
		t.Error("an unsigned request made a subscription")
	}
}

// subscribe adds a subscription as the client would have.
func (s *Server) subscribe(eventType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextSub++
	s.subs = append(s.subs, &subscription{id: "x", eventType: eventType, userID: s.account.ID, tag: "tweetpi", created: s.clock()})
}

// A stream in a bubble: keep-alives at the set interval, events in X's
// documented envelope, and the ways it ends.
func TestStreamWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(time.Until(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
		s := NewServer(Options{InMemory: true, KeepAlive: 7 * time.Second, Handle: "mypi"})
		defer s.Close()
		for _, typ := range []string{twitter.EventMention, twitter.EventReply, twitter.EventDM, "post.create"} {
			s.subscribe(typ)
		}
		alice := s.AddUser("alice")
		resp := streamRequest(t.Context(), t, s, "Bearer "+s.AppToken())
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("stream: %d", resp.StatusCode)
		}
		lines := make(chan string, 100)
		go func() {
			defer close(lines)
			br := bufio.NewReader(resp.Body)
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				lines <- l
			}
		}()
		start := time.Now()
		for i := 1; i <= 3; i++ {
			if l := <-lines; l != "\r\n" || time.Since(start) != time.Duration(i)*7*time.Second {
				t.Errorf("line %q at +%s, want a keep-alive at +%ds", l, time.Since(start), 7*i)
			}
		}

		type envelope struct {
			Data struct {
				EventUUID string `json:"event_uuid"`
				EventType string `json:"event_type"`
				Tag       string `json:"tag"`
				Filter    struct {
					UserID string `json:"user_id"`
				} `json:"filter"`
				Payload struct {
					ID, Text, AuthorID string
					InReplyToUserID    string `json:"in_reply_to_user_id"`
					DMs                []struct {
						Type          string `json:"type"`
						ID            string `json:"id"`
						MessageCreate struct {
							SenderID    string                `json:"sender_id"`
							MessageData struct{ Text string } `json:"message_data"`
						} `json:"message_create"`
					} `json:"direct_message_events"`
				} `json:"payload"`
				Includes struct {
					Users []struct{ ID, Username string } `json:"users"`
				} `json:"includes"`
			} `json:"data"`
		}
		read := func() envelope {
			t.Helper()
			synctest.Wait()
			l := <-lines
			var e envelope
			if !strings.HasSuffix(l, "\r\n") || json.Unmarshal([]byte(l), &e) != nil || e.Data.EventUUID == "" || e.Data.Tag != "tweetpi" || e.Data.Filter.UserID != s.Account().ID {
				t.Fatalf("line %q", l)
			}
			return e
		}

		p := s.Post(alice, "@mypi led on & off", 0)
		e := read()
		if e.Data.EventType != twitter.EventMention || e.Data.Payload.ID != p.ID || e.Data.Payload.Text != p.Text || len(e.Data.Includes.Users) != 1 || e.Data.Includes.Users[0].Username != "alice" {
			t.Errorf("mention event %+v", e)
		}
		// The account's own post (through API v1.1 or v2 alike) is no
		// event: it is added the same way.
		s.mu.Lock()
		mine, _ := s.accountPost("@alice led is on", p.ID, time.Now())
		s.mu.Unlock()
		rp := s.ReplyTo(alice, strconv.FormatInt(mine.id, 10), "@mypi @alice led off", 0)
		if e := read(); e.Data.EventType != twitter.EventReply || e.Data.Payload.ID != rp.ID || e.Data.Payload.InReplyToUserID != s.Account().ID {
			t.Errorf("event %+v, want the reply %s only", e, rp.ID)
		}
		dm := s.SendDM(alice, "fan <50%>", 0)
		e = read()
		if d := e.Data.Payload.DMs; e.Data.EventType != twitter.EventDM || len(d) != 1 || d[0].ID != dm.ID || d[0].Type != "message_create" ||
			d[0].MessageCreate.SenderID != alice.ID || d[0].MessageCreate.MessageData.Text != "fan &lt;50%&gt;" {
			t.Errorf("DM event %+v", e)
		}
		if n := s.Reads(twitter.EndpointStream); n != 3 {
			t.Errorf("%d deliveries billed, want 3", n)
		}

		s.DisconnectStreams()
		synctest.Wait()
		if l := <-lines; !strings.Contains(l, `"operational-disconnect"`) || !strings.Contains(l, "UpstreamOperationalDisconnect") {
			t.Errorf("line %q, want X's operational-disconnect", l)
		}
		if _, open := <-lines; open {
			t.Error("the stream went on after the disconnect message")
		}
		if s.StreamConnections() != 0 {
			t.Errorf("%d connections after the end", s.StreamConnections())
		}
	})
}

// The connection limit: TooManyConnections, cleared by DELETE /2/connections/all.
func TestStreamConnectionLimit(t *testing.T) {
	s := NewServer(Options{StreamLimit: 1})
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	first := streamRequest(ctx, t, s, "Bearer "+s.AppToken())
	defer first.Body.Close()
	if first.StatusCode != 200 {
		t.Fatalf("first: %d", first.StatusCode)
	}
	second := streamRequest(ctx, t, s, "Bearer "+s.AppToken())
	b, _ := io.ReadAll(second.Body)
	second.Body.Close()
	if second.StatusCode != 429 || !strings.Contains(string(b), `"connection_issue":"TooManyConnections"`) {
		t.Errorf("second: %d %s", second.StatusCode, b)
	}
	s.AddStaleConnections(2)
	req, _ := http.NewRequest(http.MethodDelete, s.URL+"/2/connections/all", nil)
	req.Header.Set("Authorization", "Bearer "+s.AppToken())
	resp, err := s.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var ans struct {
		Data struct {
			Killed  int `json:"successful_kills"`
			Failed  int `json:"failed_kills"`
			Results []struct {
				UUID    string
				Success bool
			}
		}
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &ans) != nil || ans.Data.Killed != 3 || len(ans.Data.Results) != 3 {
		t.Errorf("DELETE: %d %s", resp.StatusCode, b)
	}
	if _, err := io.ReadAll(first.Body); err != nil {
		t.Errorf("the killed stream ended with %v, want its end", err)
	}
	third := streamRequest(ctx, t, s, "Bearer "+s.AppToken())
	third.Body.Close()
	if third.StatusCode != 200 {
		t.Errorf("after DELETE: %d", third.StatusCode)
	}
}

// Close ends connected streams instead of waiting for them.
func TestCloseEndsStreams(t *testing.T) {
	s := NewServer(Options{})
	resp := streamRequest(t.Context(), t, s, "Bearer "+s.AppToken())
	defer resp.Body.Close()
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	io.ReadAll(resp.Body)
	<-done
}
