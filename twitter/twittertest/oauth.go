package twittertest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// This file is the fake's own RFC 5849 (OAuth 1.0a, HMAC-SHA1)
// implementation. It shares no code with the client's signer on purpose:
// a bug in one is caught by the other.

// percentEncode encodes s per RFC 3986 2.1 as RFC 5849 3.6 asks: every
// byte but the unreserved ALPHA, DIGIT, "-", ".", "_", "~" becomes %XX
// with upper-case hex.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// percentDecode undoes percentEncode; "+" stays "+" (RFC 3986, not forms).
func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("truncated percent escape")
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("bad percent escape %q", s[i:i+3])
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseAuthorization reads an `Authorization: OAuth k="v", ...` header
// (RFC 5849 3.5.1) into its decoded parameters. The realm is dropped.
func parseAuthorization(h string) (map[string]string, error) {
	const scheme = "oauth"
	h = strings.TrimSpace(h)
	if len(h) < len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return nil, errors.New("not an OAuth authorization")
	}
	rest := h[len(scheme):]
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return nil, errors.New("not an OAuth authorization")
	}
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("parameter %q without a value", part)
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, fmt.Errorf("parameter %q: value not quoted", k)
		}
		v = v[1 : len(v)-1]
		if strings.ContainsRune(v, '"') {
			return nil, fmt.Errorf("parameter %q: stray quote", k)
		}
		dk, err := percentDecode(k)
		if err != nil {
			return nil, fmt.Errorf("parameter name %q: %w", k, err)
		}
		dv, err := percentDecode(v)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", dk, err)
		}
		if dk == "" {
			return nil, errors.New("empty parameter name")
		}
		if _, dup := params[dk]; dup {
			return nil, fmt.Errorf("parameter %q given twice", dk)
		}
		if dk == "realm" {
			continue
		}
		params[dk] = dv
	}
	return params, nil
}

// param is one request parameter, decoded.
type param struct{ k, v string }

// baseStringURI is RFC 5849 3.4.1.2: scheme and host in lower case, the
// default port dropped, the path as sent, no query.
func baseStringURI(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if h, port, ok := strings.Cut(host, ":"); ok && !strings.Contains(port, ":") {
		if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
			host = h
		}
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// signatureBase is RFC 5849 3.4.1: method, base string URI and the
// normalized parameters (3.4.1.3.2: encoded, sorted by name then value,
// joined), each percent-encoded and joined by "&". params must not hold
// oauth_signature or realm.
func signatureBase(method string, u *url.URL, params []param) string {
	enc := make([]param, len(params))
	for i, p := range params {
		enc[i] = param{percentEncode(p.k), percentEncode(p.v)}
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i].k != enc[j].k {
			return enc[i].k < enc[j].k
		}
		return enc[i].v < enc[j].v
	})
	pairs := make([]string, len(enc))
	for i, p := range enc {
		pairs[i] = p.k + "=" + p.v
	}
	return strings.ToUpper(method) + "&" + percentEncode(baseStringURI(u)) + "&" + percentEncode(strings.Join(pairs, "&"))
}

// hmacSHA1 is RFC 5849 3.4.2: the key is the encoded consumer secret and
// token secret joined by "&"; the result is base64.
func hmacSHA1(base, consumerSecret, tokenSecret string) []byte {
	m := hmac.New(sha1.New, []byte(percentEncode(consumerSecret)+"&"+percentEncode(tokenSecret)))
	m.Write([]byte(base))
	return m.Sum(nil)
}

// sign returns the base64 HMAC-SHA1 signature of base.
func sign(base, consumerSecret, tokenSecret string) string {
	return base64.StdEncoding.EncodeToString(hmacSHA1(base, consumerSecret, tokenSecret))
}

// signatureMatches compares a received base64 signature with the expected
// one in constant time.
func signatureMatches(got, base, consumerSecret, tokenSecret string) bool {
	raw, err := base64.StdEncoding.DecodeString(got)
	if err != nil {
		return false
	}
	return hmac.Equal(raw, hmacSHA1(base, consumerSecret, tokenSecret))
}

// collectParams is RFC 5849 3.4.1.3.1: the query, a form body, and the
// oauth_* parameters of the header but oauth_signature.
func collectParams(query string, form []byte, oauth map[string]string) ([]param, error) {
	var ps []param
	for _, raw := range []string{query, string(form)} {
		if raw == "" {
			continue
		}
		vals, err := url.ParseQuery(raw)
		if err != nil {
			return nil, fmt.Errorf("parameters: %w", err)
		}
		for k, vs := range vals {
			for _, v := range vs {
				ps = append(ps, param{k, v})
			}
		}
	}
	for k, v := range oauth {
		if k == "oauth_signature" || k == "realm" {
			continue
		}
		ps = append(ps, param{k, v})
	}
	return ps, nil
}
