package twittertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// X's documented example ("Creating a signature").
var doc = struct {
	consumerKey, consumerSecret, token, tokenSecret, nonce, timestamp, status string
}{
	consumerKey:    "xvz1evFS4wEEPTGEFPHBog",
	consumerSecret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
	token:          "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
	tokenSecret:    "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
	nonce:          "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
	timestamp:      "1318622958",
	status:         "Hello Ladies + Gentlemen, a signed OAuth request!",
}

func docOAuth() map[string]string {
	return map[string]string{
		"oauth_consumer_key":     doc.consumerKey,
		"oauth_nonce":            doc.nonce,
		"oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp":        doc.timestamp,
		"oauth_token":            doc.token,
		"oauth_version":          "1.0",
	}
}

func TestSignatureVectors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://api.x.com/1.1/statuses/update.json", "Ls93hJiZbQ3akF3HF3x1Bz8/zU4="},
		{"https://api.twitter.com/1.1/statuses/update.json", "hCtSmYh+iHYCEqBWrE7C7hYmtUk="},
		{"HTTPS://API.X.COM:443/1.1/statuses/update.json", "Ls93hJiZbQ3akF3HF3x1Bz8/zU4="},
	} {
		t.Run(tc.url, func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			ps, err := collectParams("include_entities=true", []byte("status="+url.QueryEscape(doc.status)), docOAuth())
			if err != nil {
				t.Fatal(err)
			}
			got := sign(signatureBase("post", u, ps), doc.consumerSecret, doc.tokenSecret)
			if got != tc.want {
				t.Errorf("signature = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSignatureBaseString(t *testing.T) {
	// The base string of X's example, as its page prints it.
	const want = "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
	u, _ := url.Parse("https://api.twitter.com/1.1/statuses/update.json")
	ps, _ := collectParams("include_entities=true", []byte("status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21"), docOAuth())
	if got := signatureBase("POST", u, ps); got != want {
		t.Errorf("base string\n got %s\nwant %s", got, want)
	}
}

// authHeader writes params as an Authorization header, like a client.
func authHeader(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf(`%s="%s"`, percentEncode(k), percentEncode(params[k])))
	}
	return "OAuth " + strings.Join(parts, ", ")
}

// docServer is a server that knows the documented keys, with its clock at
// the example's timestamp.
func docServer(t *testing.T) *Server {
	s := NewServer(Options{Handle: "doc", Credentials: twitter.Credentials{
		ConsumerKey: doc.consumerKey, ConsumerSecret: doc.consumerSecret,
		AccessToken: doc.token, AccessTokenSecret: doc.tokenSecret,
	}, InMemory: true})
	t.Cleanup(s.Close)
	s.SetClock(func() time.Time { return time.Unix(1318622958, 0).Add(30 * time.Second) })
	return s
}

func docRequest(target, status, signature string) *http.Request {
	r := httptest.NewRequest("POST", target, strings.NewReader("status="+url.QueryEscape(status)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p := docOAuth()
	p["oauth_signature"] = signature
	r.Header.Set("Authorization", authHeader(p))
	return r
}

func TestAuthenticateDocumentedRequest(t *testing.T) {
	for _, tc := range []struct {
		name, url, status, sig string
		ok                     bool
	}{
		{"x.com", "https://api.x.com/1.1/statuses/update.json?include_entities=true", doc.status, "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=", true},
		{"twitter.com", "https://api.twitter.com/1.1/statuses/update.json?include_entities=true", doc.status, "hCtSmYh+iHYCEqBWrE7C7hYmtUk=", true},
		{"other host's signature", "https://api.x.com/1.1/statuses/update.json?include_entities=true", doc.status, "hCtSmYh+iHYCEqBWrE7C7hYmtUk=", false},
		{"tampered text", "https://api.x.com/1.1/statuses/update.json?include_entities=true", doc.status + " Tampered.", "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=", false},
		{"tampered query", "https://api.x.com/1.1/statuses/update.json?include_entities=false", doc.status, "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=", false},
		{"tampered path", "https://api.x.com/1.1/statuses/destroy.json?include_entities=true", doc.status, "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=", false},
		{"plain http", "http://api.x.com/1.1/statuses/update.json?include_entities=true", doc.status, "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := docServer(t)
			r := docRequest(tc.url, tc.status, tc.sig)
			body, _ := readBody(r)
			s.mu.Lock()
			why := s.authenticate(r, twitter.EndpointPost, body, s.clock())
			s.mu.Unlock()
			if (why == "") != tc.ok {
				t.Errorf("authenticate = %q, want ok=%v", why, tc.ok)
			}
		})
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	good := func() *http.Request {
		return docRequest("https://api.x.com/1.1/statuses/update.json?include_entities=true", doc.status, "Ls93hJiZbQ3akF3HF3x1Bz8/zU4=")
	}
	for _, tc := range []struct {
		name  string
		clock time.Time
		edit  func(r *http.Request)
		want  string
	}{
		{"clock 6m ahead", time.Unix(1318622958, 0).Add(6 * time.Minute), nil, whyTimestamp},
		{"clock 6m behind", time.Unix(1318622958, 0).Add(-6 * time.Minute), nil, whyTimestamp},
		{"no header", time.Unix(1318622958, 0), func(r *http.Request) { r.Header.Del("Authorization") }, "not an OAuth authorization"},
		{"wrong token", time.Unix(1318622958, 0), func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "370773112", "370773113", 1))
		}, "unknown access token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := docServer(t)
			s.SetClock(func() time.Time { return tc.clock })
			r := good()
			if tc.edit != nil {
				tc.edit(r)
			}
			body, _ := readBody(r)
			s.mu.Lock()
			got := s.authenticate(r, twitter.EndpointPost, body, tc.clock)
			s.mu.Unlock()
			if got != tc.want {
				t.Errorf("authenticate = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("replayed nonce", func(t *testing.T) {
		s := docServer(t)
		now := time.Unix(1318622958, 0)
		for i, want := range []string{"", "nonce used before"} {
			r := good()
			body, _ := readBody(r)
			s.mu.Lock()
			got := s.authenticate(r, twitter.EndpointPost, body, now)
			s.mu.Unlock()
			if got != want {
				t.Errorf("request %d: authenticate = %q, want %q", i, got, want)
			}
		}
	})
}

func TestParseAuthorization(t *testing.T) {
	got, err := parseAuthorization(`OAuth realm="x", oauth_consumer_key="a%2Bb", oauth_nonce="n",oauth_signature="s%3D"`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"oauth_consumer_key": "a+b", "oauth_nonce": "n", "oauth_signature": "s="}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "Basic abc", `OAuthx a="b"`, `OAuth a=b`, `OAuth a="b`, `OAuth a="%zz"`, `OAuth a="1", a="2"`, `OAuth ="x"`, `OAuth a="b"c"`} {
		if _, err := parseAuthorization(bad); err == nil {
			t.Errorf("parseAuthorization(%q) = nil error", bad)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(`OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", oauth_signature="tnnArxj06cWHq44gCs1OSKk%2FjLY%3D"`)
	f.Add(`OAuth realm="", a="%41"`)
	f.Add(`oauth a="b",,c="d"`)
	f.Fuzz(func(t *testing.T, h string) {
		m, err := parseAuthorization(h)
		if err != nil {
			return
		}
		// What parses writes back to an equal header.
		again, err := parseAuthorization(authHeader(m))
		if err != nil {
			t.Fatalf("re-encoded %q: %v", authHeader(m), err)
		}
		if fmt.Sprint(again) != fmt.Sprint(m) {
			t.Fatalf("round trip: %v != %v", again, m)
		}
	})
}

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"Ladies + Gentlemen": "Ladies%20%2B%20Gentlemen",
		"An encoded string!": "An%20encoded%20string%21",
		"Dogs, Cats & Mice":  "Dogs%2C%20Cats%20%26%20Mice",
		"☃":                  "%E2%98%83",
		"-._~":               "-._~",
	} {
		if got := percentEncode(in); got != want {
			t.Errorf("percentEncode(%q) = %q, want %q", in, got, want)
		}
		if back, err := percentDecode(percentEncode(in)); err != nil || back != in {
			t.Errorf("percentDecode(percentEncode(%q)) = %q, %v", in, back, err)
		}
	}
}
