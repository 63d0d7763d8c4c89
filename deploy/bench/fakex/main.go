// Command fakex is the fake X API of deploy/bench/measure.sh, in a process
// of its own: twittertest's server over loopback HTTP, a configuration for
// `tweetpi run` that points at it, a systemd notify socket that stamps READY,
// and a user who posts a command at a steady pace. It prints one event a
// line on stdout, each stamped in Unix nanoseconds:
//
//	config PATH          the configuration it wrote (before the daemon starts)
//	ready NS             the daemon said READY=1 on the notify socket
//	poll NS ENDPOINT     a request to mentions or dm_events reached the fake
//	post NS ID           a command became visible in the mentions (-every:
//	                     a random wait, -every on average; -burst: N at once)
//	dm NS ID             a command sent as a DM (-dms: every other one)
//	stream NS up         the daemon's stream connected (-delivery auto, stream)
//	burst NS N           the -burst's N posts are all made
//
// On SIGTERM or SIGINT it reads the daemon's JSON log (-log), pairs each
// "pin set" with the post whose "run" came before it, and prints
//
//	latency_ms N P50 P90 P99 MAX   post visible -> pin set, milliseconds
//	span_ms N MS                   first post -> last pin set of those N
//	polls N                        mentions requests in all
//	replies N                      replies the daemon posted
//
// It is a benchmark tool, not part of tweetpi; it never talks to X.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

const configText = `twitter:
  consumer_key: %q
  consumer_secret: %q
  access_token: %q
  access_token_secret: %q
  api: %s
  api_url: %s
  listen: [%s]
  poll_interval: %s
  allow: ["@alice"]
  delivery: %s
  reply: %t
state_dir: %s
gpio:
  backend: sim
devices:
  led: {pin: GPIO17, kind: output, initial: off}
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakex:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "`directory` for the configuration, the state and the notify socket")
	tierName := flag.String("tier", "unlimited", "rate limits: unlimited, free, basic or pro")
	api := flag.String("api", "v2", "API `version` the daemon uses: v2 or v1.1")
	poll := flag.Duration("poll", 60*time.Second, "the configuration's poll_interval")
	every := flag.Duration("every", 0, "post a command this often, from the first poll on (0: never)")
	dms := flag.Bool("dms", false, "listen to the DMs too, and send every other command as a DM")
	logPath := flag.String("log", "", "the daemon's JSON log, read at the end for the latencies")
	delivery := flag.String("delivery", "poll", "the configuration's twitter.delivery: poll, auto or stream")
	reply := flag.Bool("reply", true, "the configuration's twitter.reply: answer each command")
	burst := flag.Int("burst", 0, "post this many commands at once, when the daemon is reading (the stream up, with -delivery auto or stream)")
	broker := flag.String("mqtt", "", "an MQTT broker `URL` for an mqtt: section (\"\": none)")
	flag.Parse()
	if *dir == "" {
		return fmt.Errorf("-dir is needed")
	}
	tiers := map[string]twittertest.Tier{"unlimited": twittertest.TierUnlimited, "free": twittertest.TierFree,
		"basic": twittertest.TierBasic, "pro": twittertest.TierPro}
	tier, ok := tiers[*tierName]
	if !ok {
		return fmt.Errorf("-tier %q: use unlimited, free, basic or pro", *tierName)
	}

	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi", Tier: tier})
	defer srv.Close()
	alice := srv.AddUser("alice")
	out := &events{w: bufio.NewWriter(os.Stdout)}

	state := filepath.Join(*dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	k := srv.Credentials()
	cfg := filepath.Join(*dir, "config.yaml")
	listen := "mentions"
	if *dms {
		listen = "mentions, dms"
	}
	text := fmt.Sprintf(configText, k.ConsumerKey, k.ConsumerSecret, k.AccessToken, k.AccessTokenSecret, *api, srv.URL, listen, poll.String(), *delivery, *reply, state)
	if *broker != "" {
		text += fmt.Sprintf("mqtt:\n  broker: %s\n  node: bench\n", *broker)
	}
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return err
	}

	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(*dir, "notify.sock"), Net: "unixgram"})
	if err != nil {
		return err
	}
	defer sock.Close()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := sock.Read(buf)
			if err != nil {
				return
			}
			now := time.Now()
			for _, l := range strings.Split(string(buf[:n]), "\n") {
				if l == "READY=1" {
					out.print(now, "ready", "")
				}
			}
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out.print(time.Now(), "config", cfg)

	// Requests, as they reach the fake.
	firstPoll := make(chan struct{})
	go func() {
		seen := map[string]int{}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, ep := range []string{twitter.EndpointMentions, twitter.EndpointDMEvents} {
				ts := srv.RequestTimes(ep)
				for _, t := range ts[seen[ep]:] {
					out.print(t, "poll", ep)
				}
				if seen[ep] == 0 && len(ts) > 0 && ep == twitter.EndpointMentions {
					close(firstPoll)
				}
				seen[ep] = len(ts)
			}
		}
	}()

	// reading is closed once the daemon reads: its first poll, and the
	// stream connected when the delivery is not poll.
	reading := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-firstPoll:
		}
		for *delivery != "poll" && srv.StreamConnections() == 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
		if *delivery != "poll" {
			out.print(time.Now(), "stream", "up")
		}
		close(reading)
	}()
	if *burst > 0 {
		go func() {
			select {
			case <-ctx.Done():
				return
			case <-reading:
			}
			// After the polls the stream's start causes: the burst comes
			// by the stream alone.
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			for range *burst {
				p := srv.Post(alice, "@mypi led toggle", 0)
				out.print(time.Now(), "post", p.ID)
			}
			out.print(time.Now(), "burst", fmt.Sprint(*burst))
		}()
	}
	if *every > 0 {
		go func() {
			select {
			case <-ctx.Done():
				return
			case <-reading:
			}
			for n := 0; ; {
				// A random wait, every on average, so posts land at any
				// point between two polls, as people's do.
				t := time.NewTimer(*every/2 + rand.N(*every))
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				if n++; *dms && n%2 == 0 {
					d := srv.SendDM(alice, "led toggle", 0)
					out.print(time.Now(), "dm", d.ID)
					continue
				}
				p := srv.Post(alice, "@mypi led toggle", 0)
				out.print(time.Now(), "post", p.ID)
			}
		}()
	}

	<-ctx.Done()
	out.print(time.Now(), "polls", fmt.Sprint(srv.Requests(twitter.EndpointMentions)))
	out.print(time.Now(), "replies", fmt.Sprint(len(srv.Replies())))
	if *logPath != "" {
		if err := latencies(out, *logPath); err != nil {
			return err
		}
	}
	return nil
}

// events prints event lines; safe for concurrent use.
type events struct {
	mu    sync.Mutex
	w     *bufio.Writer
	posts map[string]time.Time // post id -> when it became visible
}

func (e *events) print(t time.Time, what, detail string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if what == "post" {
		if e.posts == nil {
			e.posts = map[string]time.Time{}
		}
		e.posts[detail] = t
	}
	fmt.Fprintf(e.w, "%s %d %s\n", what, t.UnixNano(), detail)
	e.w.Flush()
}

// latencies pairs the log's "pin set" lines with the posts that caused them.
func latencies(e *events, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var lat []float64
	var first, last time.Time
	post := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r struct {
			Time   time.Time `json:"time"`
			Msg    string    `json:"msg"`
			PostID string    `json:"post_id"`
			By     string    `json:"by"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		switch {
		case r.Msg == "run":
			post = r.PostID
		case r.Msg == "pin set" && r.By == "command" && post != "":
			e.mu.Lock()
			at, ok := e.posts[post]
			e.mu.Unlock()
			if ok {
				lat = append(lat, float64(r.Time.Sub(at))/float64(time.Millisecond))
				if first.IsZero() || at.Before(first) {
					first = at
				}
				if r.Time.After(last) {
					last = r.Time
				}
			}
			post = ""
		}
	}
	if len(lat) == 0 {
		e.print(time.Now(), "latency_ms", "0")
		return sc.Err()
	}
	e.print(time.Now(), "span_ms", fmt.Sprintf("%d %.1f", len(lat), float64(last.Sub(first))/float64(time.Millisecond)))
	slices.Sort(lat)
	q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	e.print(time.Now(), "latency_ms", fmt.Sprintf("%d %.1f %.1f %.1f %.1f", len(lat), q(0.5), q(0.9), q(0.99), lat[len(lat)-1]))
	return sc.Err()
}
