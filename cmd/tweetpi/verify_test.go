package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// writeAPIConfig writes a configuration for srv with the given keys.
func writeAPIConfig(t *testing.T, srv *twittertest.Server, api string, c twitter.Credentials, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	data := fmt.Sprintf(`# tweetpi test configuration
twitter:
  consumer_key: %q       # the app's API key
  consumer_secret: %q
  access_token: %q
  access_token_secret: %q
  api: %s
  api_url: %s
  allow: ["@alice"]
%s`, c.ConsumerKey, c.ConsumerSecret, c.AccessToken, c.AccessTokenSecret, api, srv.URL, extra)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runAPICmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(string) string { return "" }
	err = run(t.Context(), args, getenv, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func apiExitStatus(err error) int {
	var b bytes.Buffer
	return exitCode(err, &b)
}

func TestVerify(t *testing.T) {
	for _, api := range []string{"v2", "v1.1"} {
		t.Run(api, func(t *testing.T) {
			srv := twittertest.NewServer(twittertest.Options{Handle: "mypi", Tier: twittertest.TierFree})
			defer srv.Close()
			path := writeAPIConfig(t, srv, api, srv.Credentials(), "")
			out, _, err := runAPICmd(t, "", "verify", "-config", path)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			acct := srv.Account()
			for _, want := range []string{
				"@mypi (id " + acct.ID + ")",
				"api: " + api + " at " + srv.URL,
				"users/me",
				"limit 25, remaining 24",
				"local clock is in step",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if c := srv.Credentials(); strings.Contains(out, c.ConsumerSecret) || strings.Contains(out, c.AccessTokenSecret) {
				t.Errorf("output shows a secret:\n%s", out)
			}
			if n := srv.Requests(twitter.EndpointMe); n != 1 {
				t.Errorf("%d users/me requests, want 1", n)
			}
		})
	}
}

func TestVerifyBadKeys(t *testing.T) {
	for _, api := range []string{"v2", "v1.1"} {
		t.Run(api, func(t *testing.T) {
			srv := twittertest.NewServer(twittertest.Options{})
			defer srv.Close()
			c := srv.Credentials()
			c.AccessTokenSecret = "not-the-secret"
			path := writeAPIConfig(t, srv, api, c, "")
			_, _, err := runAPICmd(t, "", "verify", "-config", path)
			if got := apiExitStatus(err); got != exitConfig {
				t.Errorf("exit status %d, want %d: %v", got, exitConfig, err)
			}
			for _, want := range []string{"refused the keys", "all four", "regenerate"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
			if err != nil && strings.Contains(err.Error(), "not-the-secret") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestVerifyNotEnrolled(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	srv.Fail(twitter.EndpointMe, twittertest.Fault{Status: 403, Body: `{"title":"Client Forbidden","detail":"When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.","reason":"client-not-enrolled","type":"https://api.twitter.com/2/problems/client-forbidden"}`})
	path := writeAPIConfig(t, srv, "v2", srv.Credentials(), "")
	_, _, err := runAPICmd(t, "", "verify", "-config", path)
	if got := apiExitStatus(err); got != exitConfig {
		t.Errorf("exit status %d, want %d: %v", got, exitConfig, err)
	}
	for _, want := range []string{"Client Forbidden", "attached to a Project", "developer portal", "Read and write and Direct messages"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

func TestVerifyMissingKeys(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	c := srv.Credentials()
	c.AccessToken = ""
	path := writeAPIConfig(t, srv, "v2", c, "")
	_, _, err := runAPICmd(t, "", "verify", "-config", path)
	if got := apiExitStatus(err); got != exitConfig {
		t.Errorf("exit status %d, want %d: %v", got, exitConfig, err)
	}
	if srv.Requests(twitter.EndpointMe) != 0 {
		t.Error("verify called the API without all four keys")
	}
}

func TestVerifyTransient(t *testing.T) {
	srv := twittertest.NewServer(twittertest.Options{})
	defer srv.Close()
	srv.Fail(twitter.EndpointMe, twittertest.Fault{Status: 503})
	path := writeAPIConfig(t, srv, "v2", srv.Credentials(), "")
	_, _, err := runAPICmd(t, "", "verify", "-config", path)
	if got := apiExitStatus(err); got != exitFail {
		t.Errorf("exit status %d, want %d: %v", got, exitFail, err)
	}
	var ae *twitter.APIError
	if !errors.As(err, &ae) || ae.Kind != twitter.KindTransient {
		t.Errorf("error %v, want a transient API error", err)
	}
}

// TestVerifyNoCredits: verify says plainly that the credits are used up
// (402) or the app's spending cap is reached, with the fix, and that the
// keys themselves are good (exit 1, not 78: nothing in the config is wrong).
func TestVerifyNoCredits(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*twittertest.Server)
		want []string
	}{
		{"402", func(s *twittertest.Server) { s.UseUpCredits(true) }, []string{"the keys are good", "402", "your X API credits are used up: top up in the developer console"}},
		{"usage capped", func(s *twittertest.Server) { s.CapUsage(true) }, []string{"the keys are good", "usage-capped", "spending cap set in the developer console"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := twittertest.NewServer(twittertest.Options{})
			defer srv.Close()
			tc.set(srv)
			path := writeAPIConfig(t, srv, "v2", srv.Credentials(), "")
			_, _, err := runAPICmd(t, "", "verify", "-config", path)
			if got := apiExitStatus(err); got != exitFail {
				t.Errorf("exit status %d, want %d: %v", got, exitFail, err)
			}
			for _, want := range tc.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
		})
	}
}
