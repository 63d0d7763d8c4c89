package main

import (
	"strings"
	"testing"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// verify says which delivery the keys get: the stream, with the
// subscriptions that exist, or polls with X's words and the fix.
func TestVerifyDelivery(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
		defer srv.Close()
		a, err := twitter.NewActivity(twitter.Options{BaseURL: srv.URL, Credentials: srv.Credentials(), Transport: srv.Transport()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Subscribe(t.Context(), srv.Account().ID, twitter.EventMention); err != nil {
			t.Fatal(err)
		}
		path := writeAPIConfig(t, srv, "v2", srv.Credentials(), "  listen: [mentions, dms]\n")
		out, _, err := runAPICmd(t, "", "verify", "-config", path)
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		for _, want := range []string{
			"delivery: the stream (X Activity API)",
			"subscribed: post.mention.create for id " + srv.Account().ID,
			`tag "tweetpi"`,
			"to subscribe at start: post.reply.create, dm.received",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, srv.AppToken()) {
			t.Errorf("output shows the bearer token:\n%s", out)
		}
		if n := srv.Requests(twitter.EndpointSubscribe); n != 1 {
			t.Errorf("verify made subscriptions: %d creates, want only the test's 1", n)
		}
		if n := srv.Requests(twitter.EndpointStream); n != 0 {
			t.Errorf("verify connected to the stream %d times", n)
		}
	})
	t.Run("refused", func(t *testing.T) {
		srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
		defer srv.Close()
		srv.Fail(twitter.EndpointSubscriptions, twittertest.Fault{Status: 403,
			Body: `{"title":"Forbidden","detail":"Your app does not have access to the X Activity API.","type":"about:blank","status":403}`})
		path := writeAPIConfig(t, srv, "v2", srv.Credentials(), "")
		out, _, err := runAPICmd(t, "", "verify", "-config", path)
		if err != nil {
			t.Fatalf("verify exits with %v; the polls still work", err)
		}
		for _, want := range []string{
			"delivery: polls, not the stream",
			"does not have access to the X Activity API",
			"to get the stream: ",
			"developer portal",
			"delivery: poll",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}
