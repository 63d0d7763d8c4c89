package bot_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// faultKinds are the ways an answer fails, as the golden log shows them.
var faultKinds = []struct {
	name  string
	fault twittertest.Fault
}{
	{"5xx", twittertest.Fault{Status: 503, Body: `{"title":"Service Unavailable","status":503}`}},
	{"timeout", twittertest.Fault{Delay: 20 * time.Second}}, // past the client's 15s
	{"bad JSON", twittertest.Fault{Malformed: true}},
	{"401", twittertest.Fault{Status: 401, Body: `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`}},
	{"429", twittertest.Fault{Status: 429}},
}

// TestFaultLogGolden runs each fault kind through both clients and the bot,
// on each inbox's poll and on each kind of reply, and compares the lines
// the daemon logs (its text form, the clock's parts made stable) with
// testdata/faultlog.golden: each error names its context once, and a
// change of what the log says shows up here. go test -run FaultLog -update
// rewrites the file.
func TestFaultLogGolden(t *testing.T) {
	var got strings.Builder
	for _, api := range []string{"v2", "v1.1"} {
		for _, where := range []string{twitter.EndpointMentions, twitter.EndpointDMEvents, twitter.EndpointPost, twitter.EndpointSendDM} {
			for _, k := range faultKinds {
				lines := faultLog(t, api, where, k.fault)
				if len(lines) == 0 {
					t.Errorf("%s %s %s: nothing logged", api, where, k.name)
				}
				for _, l := range lines {
					fmt.Fprintf(&got, "%s %s %s: %s\n", api, where, k.name, l)
					checkContextOnce(t, l)
				}
			}
		}
	}
	const golden = "testdata/faultlog.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run FaultLog -update writes it)", err)
	}
	if got.String() != string(want) {
		t.Errorf("the log differs from %s (go test -run FaultLog -update rewrites it):\n%s", golden, lineDiff(string(want), got.String()))
	}
}

// faultLog starts the bot on the fake (a command waiting in the inbox for
// the reply faults), breaks endpoint ep once with f, and returns the
// warnings and errors logged meanwhile.
func faultLog(t *testing.T, api, ep string, f twittertest.Fault) []string {
	var lines []string
	synctest.Test(t, func(t *testing.T) {
		// A bubble starts in 2000, before the snowflake epoch: move to a real date.
		time.Sleep(time.Until(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)))
		srv := twittertest.NewServer(twittertest.Options{Handle: "mypi", InMemory: true, Tier: twittertest.TierPro})
		defer srv.Close()
		alice := srv.AddUser("alice")
		c, err := twitter.New(twitter.Options{API: api, BaseURL: srv.URL, Credentials: srv.Credentials(), Transport: srv.Transport()})
		if err != nil {
			t.Fatal(err)
		}
		inbox := bot.InboxMentions
		if ep == twitter.EndpointDMEvents || ep == twitter.EndpointSendDM {
			inbox = bot.InboxDMs
		}
		var log lockedBuffer
		b, err := bot.New(bot.Options{
			Client: c, StateDir: t.TempDir(), Listen: []string{inbox}, PollInterval: time.Second,
			Allow: []string{"@alice"}, Reply: true, MaxAge: time.Hour,
			Handler: bot.HandlerFunc(func(context.Context, bot.Command) string { return "done" }),
			Logger:  slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: dropTime})),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		if err := b.Start(ctx, twitter.KeyID(srv.Credentials().AccessToken)); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		time.Sleep(2 * time.Second) // past the first poll: the starting point
		synctest.Wait()
		srv.Fail(ep, f)
		switch ep {
		case twitter.EndpointPost:
			srv.Post(alice, "@mypi led on", 0)
		case twitter.EndpointSendDM:
			srv.SendDM(alice, "led on", 0)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
			if l != "" {
				lines = append(lines, stable(l))
			}
		}
	})
	return lines
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

var (
	stamp = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	clock = regexp.MustCompile(`\(\d\d:\d\d:\d\d\)`)
	ids   = regexp.MustCompile(`\b\d{6,}\b`)
)

// stable is a log line without what changes from run to run: times, ids.
func stable(l string) string {
	l = stamp.ReplaceAllString(l, "TIME")
	l = clock.ReplaceAllString(l, "(HH:MM:SS)")
	return ids.ReplaceAllString(l, "ID")
}

// contexts are what an error may name at most once.
var contexts = regexp.MustCompile(`\b(mentions|dm_events|post|send_dm|users/me|direct messages)(: | since )|\b(reply|dm) to \S+: `)

// checkContextOnce fails for a line whose err names a context twice, as
// "mentions since : mentions since \"\": mentions: 503" did.
func checkContextOnce(t *testing.T, line string) {
	t.Helper()
	_, errText, ok := strings.Cut(line, " err=")
	if !ok {
		return
	}
	if n := len(contexts.FindAllString(errText, -1)); n > 1 {
		t.Errorf("the error names its context %d times: %s", n, line)
	}
}

// lineDiff shows the lines of want missing from got (-) and the new ones (+).
func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}
