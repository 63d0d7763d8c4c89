package twittertest

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

func TestSnowflakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A bubble starts in 2000, before the snowflake epoch (2010): move on.
		time.Sleep(time.Until(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)))
		s := NewServer(Options{InMemory: true})
		defer s.Close()
		a := s.AddUser("alice")
		var last int64
		for i := range 5 {
			p := s.Post(a, "post "+strconv.Itoa(i), time.Hour)
			id, _ := strconv.ParseInt(p.ID, 10, 64)
			if id <= last {
				t.Errorf("id %d after %d", id, last)
			}
			last = id
			if got, want := TimeOf(p.ID), time.Now().Add(-time.Hour).Truncate(time.Millisecond); !got.Equal(want) {
				t.Errorf("TimeOf(%s) = %v, want %v", p.ID, got, want)
			}
		}
	})
}

func TestMentionsWholeHandle(t *testing.T) {
	for text, want := range map[string]bool{
		"@mypi led on": true, "hey @MyPi": true, "@mypi, led on": true, "(@mypi)": true,
		"@mypizza": false, "mail@mypi": false, "@my_pi": false, "": false,
	} {
		if got := mentions(text, "mypi"); got != want {
			t.Errorf("mentions(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestMentionsCap(t *testing.T) {
	s := NewServer(Options{InMemory: true})
	defer s.Close()
	s.mentionsN = 3
	a := s.AddUser("alice")
	for i := range 5 {
		s.Post(a, "@mypi "+strconv.Itoa(i), time.Duration(5-i)*time.Minute)
	}
	s.mu.Lock()
	got := s.mentionsOf(s.account)
	s.mu.Unlock()
	if len(got) != 3 || got[0].text != "@mypi 4" || got[2].text != "@mypi 2" {
		t.Errorf("reachable mentions: %d, newest %q", len(got), got[0].text)
	}
}

func TestUnsignedRefused(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	for path, want := range map[string]string{
		"/2/users/me":                            `{"detail":"Unauthorized","status":401,"title":"Unauthorized","type":"about:blank"}`,
		"/1.1/account/verify_credentials.json":   `{"errors":[{"code":32,"message":"Could not authenticate you."}]}`,
		"/1.1/statuses/mentions_timeline.json?x": `{"errors":[{"code":32,"message":"Could not authenticate you."}]}`,
	} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || string(body) != want {
			t.Errorf("%s: %d %s, want 401 %s", path, resp.StatusCode, body, want)
		}
		if resp.Header.Get("x-rate-limit-limit") == "" || resp.Header.Get("Date") == "" {
			t.Errorf("%s: no rate-limit or Date headers: %v", path, resp.Header)
		}
	}
	if s.Requests(twitter.EndpointMe) != 2 { // v2 and v1.1
		t.Errorf("requests to users/me: %d", s.Requests(twitter.EndpointMe))
	}
}

func TestAuthorizePage(t *testing.T) {
	s := NewServer(Options{Handle: "mypi"})
	defer s.Close()
	s.mu.Lock()
	s.requests["rt"] = "rs"
	s.mu.Unlock()
	resp, err := http.Get(s.URL + "/oauth/authorize?oauth_token=rt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), s.PIN()) || !strings.Contains(string(body), "@mypi") {
		t.Errorf("authorize page: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(s.URL + "/oauth/authorize?oauth_token=other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unknown request token: %d", resp.StatusCode)
	}
}
