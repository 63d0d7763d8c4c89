package twitter_test

import (
	"strings"
	"testing"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// TestPINFlow: the PIN flow against the fake: the authorize page, the PIN
// traded for the account's token, and typed refusals (no text to match).
func TestPINFlow(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
	defer srv.Close()
	k := srv.Credentials()
	consumer := twitter.Credentials{ConsumerKey: k.ConsumerKey, ConsumerSecret: k.ConsumerSecret}
	flow, err := twitter.NewPINFlow(twitter.Options{BaseURL: srv.URL, Credentials: consumer})
	if err != nil {
		t.Fatal(err)
	}
	page, err := flow.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(page, srv.URL+"/oauth/authorize?oauth_token=") {
		t.Errorf("authorize page %q", page)
	}
	_, _, err = flow.Finish(t.Context(), "0000000x")
	if ae := wantKind(t, err, twitter.KindUnauthorized); ae.Endpoint != twitter.EndpointAccessToken {
		t.Errorf("a wrong PIN: %v, want the access-token endpoint named", err)
	}
	token, secret, err := flow.Finish(t.Context(), " "+srv.PIN()+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if twitter.KeyID(token) != srv.Account().ID || secret == "" {
		t.Errorf("token %q: want the account's (%s-...) and a secret", twitter.KeyID(token), srv.Account().ID)
	}

	consumer.ConsumerSecret = "wrong"
	flow, err = twitter.NewPINFlow(twitter.Options{BaseURL: srv.URL, Credentials: consumer})
	if err != nil {
		t.Fatal(err)
	}
	_, err = flow.Start(t.Context())
	if ae := wantKind(t, err, twitter.KindUnauthorized); ae.Endpoint != twitter.EndpointRequestToken {
		t.Errorf("a wrong consumer secret: %v, want the request-token endpoint named", err)
	}
	if strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), k.ConsumerKey) {
		t.Errorf("the error shows a key: %v", err)
	}
	if _, err := twitter.NewPINFlow(twitter.Options{BaseURL: srv.URL}); err == nil {
		t.Error("a PIN flow without the consumer key: nil error")
	}
}

func TestKeyID(t *testing.T) {
	for tok, want := range map[string]string{"1500000001-AbCdEf": "1500000001", "nodash": "", "": ""} {
		if got := twitter.KeyID(tok); got != want {
			t.Errorf("KeyID(%q) = %q, want %q", tok, got, want)
		}
	}
}
