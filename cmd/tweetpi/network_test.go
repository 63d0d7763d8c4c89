package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNetProblem: each kind of network failure gets plain words and what
// to check; anything else is left alone.
func TestNetProblem(t *testing.T) {
	dial := func(err error) error {
		return &url.Error{Op: "Get", URL: "https://api.x.com/2/users/me", Err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
	}
	for _, tc := range []struct {
		err  error
		want string // "" when it is no network failure
	}{
		{dial(&net.DNSError{Err: "no such host", Name: "api.x.com", Server: "127.0.0.53:53", IsNotFound: true}),
			"cannot reach api.x.com: DNS lookup failed (no such host); check the Pi's network and DNS (lookup api.x.com on 127.0.0.53:53: no such host)"},
		{dial(&net.DNSError{Err: "i/o timeout", Name: "api.x.com", IsTimeout: true}), "cannot reach api.x.com: DNS lookup timed out; check the Pi's network and DNS"},
		{dial(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "cannot reach api.x.com: the connection was refused; check api_url"},
		{dial(os.NewSyscallError("connect", syscall.ENETUNREACH)), "cannot reach api.x.com: the network is unreachable; check that the Pi is connected"},
		{dial(os.NewSyscallError("read", syscall.ECONNRESET)), "cannot reach api.x.com: the connection was cut"},
		{dial(os.NewSyscallError("connect", syscall.ETIMEDOUT)), "cannot reach api.x.com: no answer in time"},
		{fmt.Errorf("users/me: %w", context.DeadlineExceeded), "cannot reach api.x.com: no answer in time"},
		{&url.Error{Op: "Get", URL: "https://api.x.com", Err: x509.CertificateInvalidError{Reason: x509.Expired}}, "cannot reach api.x.com: its certificate is expired or not yet valid; check the Pi's clock"},
		{&url.Error{Op: "Get", URL: "https://api.x.com", Err: x509.UnknownAuthorityError{}}, "cannot reach api.x.com: its certificate is not trusted; check the Pi's clock and its CA certificates"},
		{errors.New("invalid status 500"), ""},
		{context.Canceled, ""},
		{nil, ""},
	} {
		got := netProblem("api.x.com", tc.err)
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%v: %v, want it left alone", tc.err, got)
		case tc.want != "" && (got == nil || !strings.HasPrefix(got.Error(), tc.want)):
			t.Errorf("%v:\n got %v\nwant %s", tc.err, got, tc.want)
		}
	}
}

// TestVerifyAuthNetworkWords: verify and auth, with a host that does not
// resolve and a port nobody listens on, say so in plain words and exit 1.
func TestVerifyAuthNetworkWords(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, tc := range []struct {
		url, want string
	}{
		{"http://api.tweetpi.invalid", "cannot reach api.tweetpi.invalid: DNS lookup failed"},
		{"http://" + closed, "cannot reach " + closed + ": the connection was refused"},
	} {
		path := writeConfig(t, `twitter:
  consumer_key: "ck"
  consumer_secret: "cs"
  access_token: "1-at"
  access_token_secret: "ats"
  api_url: `+tc.url+"\n")
		for _, cmd := range []string{"verify", "auth"} {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			_, stderr, code := runCmd(ctx, cmd, "-config", path)
			cancel()
			if code != exitFail || !strings.HasPrefix(stderr, "tweetpi: "+tc.want) {
				t.Errorf("%s at %s: exit %d, stderr %q; want 1 and %q", cmd, tc.url, code, stderr, tc.want)
			}
		}
	}
}
