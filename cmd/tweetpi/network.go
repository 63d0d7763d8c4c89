package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
)

// netProblem says in plain words why host could not be reached, with what
// to check, when err is a failure of the network rather than an answer:
//
//	cannot reach api.x.com: DNS lookup failed (no such host); check the Pi's network and DNS (lookup api.x.com on 127.0.0.53:53: no such host)
//
// It returns nil for any other error. The words come from the error's
// types (net, syscall, x509), never from its text.
func netProblem(host string, err error) error {
	var (
		dns     *net.DNSError
		op      *net.OpError
		unknown x509.UnknownAuthorityError
		invalid x509.CertificateInvalidError
		name    x509.HostnameError
		verify  *tls.CertificateVerificationError
		ne      net.Error
	)
	what, fix := "", ""
	switch {
	case err == nil || errors.Is(err, context.Canceled):
		return nil
	case errors.As(err, &dns):
		what, fix = "DNS lookup failed (no such host)", "check the Pi's network and DNS"
		if !dns.IsNotFound {
			what = "DNS lookup failed"
		}
		if dns.IsTimeout {
			what = "DNS lookup timed out"
		}
		err = dns
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		what, fix = "its certificate is expired or not yet valid", "check the Pi's clock (date; a Pi without a clock battery needs the network time: timedatectl)"
	case errors.As(err, &unknown), errors.As(err, &name), errors.As(err, &invalid), errors.As(err, &verify):
		what, fix = "its certificate is not trusted", "check the Pi's clock and its CA certificates (package ca-certificates), and whether a proxy intercepts HTTPS"
	case errors.Is(err, syscall.ECONNREFUSED):
		what, fix = "the connection was refused", "check api_url, and that nothing on the way (a firewall, a proxy) blocks it"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EADDRNOTAVAIL):
		what, fix = "the network is unreachable", "check that the Pi is connected (ip route shows a default route)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		what, fix = "the connection was cut", "check the Pi's network; try again"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		what, fix = "no answer in time", "check the Pi's network (is it online? is the Wi-Fi weak?)"
	default:
		return nil
	}
	if errors.As(err, &op) {
		err = op
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("cannot reach %s: %s; %s (%v)", host, what, fix, err)
}

// hostOf is the host[:port] of a base URL, for netProblem.
func hostOf(base string) string {
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return u.Host
	}
	return base
}
