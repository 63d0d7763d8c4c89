package main

import (
	"os"
	"strings"
	"testing"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

func TestAuthWritesKeys(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
	defer srv.Close()
	c := srv.Credentials()
	c.AccessToken, c.AccessTokenSecret = "", ""
	path := writeAPIConfig(t, srv, "v2", c, "# the end\n")

	out, _, err := runAPICmd(t, srv.PIN()+"\n", "auth", "-config", path)
	if err != nil {
		t.Fatalf("auth: %v\n%s", err, out)
	}
	if !strings.Contains(out, srv.URL+"/oauth/authorize?oauth_token=") {
		t.Errorf("output lacks the authorize URL:\n%s", out)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{"# tweetpi test configuration", "# the app's API key", "# the end", "access_token: \"" + srv.Account().ID + "-"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("file lacks %q:\n%s", want, data)
		}
	}

	// The new keys work.
	out, _, err = runAPICmd(t, "", "verify", "-config", path)
	if err != nil || !strings.Contains(out, "@mypi") {
		t.Errorf("verify with the new keys: %v\n%s", err, out)
	}
}

func TestAuthPrint(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	path := writeAPIConfig(t, srv, "v1.1", srv.Credentials(), "")
	before, _ := os.ReadFile(path)
	out, _, err := runAPICmd(t, srv.PIN()+"\n", "auth", "-print", "-config", path)
	if err != nil {
		t.Fatalf("auth -print: %v", err)
	}
	if !strings.Contains(out, "access_token: \""+srv.Account().ID+"-") || !strings.Contains(out, "access_token_secret: \"") {
		t.Errorf("output lacks the keys:\n%s", out)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("-print changed the file")
	}
}

func TestAuthWrongPIN(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	path := writeAPIConfig(t, srv, "v2", srv.Credentials(), "")
	before, _ := os.ReadFile(path)
	_, _, err := runAPICmd(t, "0000000x\n", "auth", "-config", path)
	if err == nil || !strings.Contains(err.Error(), "refused the PIN") {
		t.Errorf("wrong PIN: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("a failed auth changed the file")
	}
}

func TestAuthBadConsumerKeys(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	c := srv.Credentials()
	c.ConsumerSecret = "wrong"
	path := writeAPIConfig(t, srv, "v2", c, "")
	_, _, err := runAPICmd(t, srv.PIN()+"\n", "auth", "-config", path)
	if apiExitStatus(err) != exitConfig || !strings.Contains(err.Error(), "consumer key and secret") {
		t.Errorf("bad consumer secret: %v", err)
	}
	if srv.Requests(twittertest.EndpointAccessToken) != 0 {
		t.Error("went on after the request token was refused")
	}
	_ = twitter.EndpointMe
}
