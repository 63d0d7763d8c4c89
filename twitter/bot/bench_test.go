package bot_test

// Benchmarks of the bot's poll cycle against the fake X API over loopback
// HTTP (no TLS), for both API versions.
//
// The fake runs in a process of its own (this test binary, started again as
// TestBenchFake), so -benchmem counts what tweetpi allocates, not what the
// fake does to answer. Run them with:
//
//	go test -run='^$' -bench=. -benchmem ./twitter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// benchFakeEnv, when set, makes TestBenchFake serve the fake API.
const benchFakeEnv = "TWEETPI_BENCH_FAKE"

// fakeInfo is what the fake process tells the benchmark first.
type fakeInfo struct {
	URL         string
	Credentials twitter.Credentials
	Account     twitter.User
	Alice       twitter.User
	Mallory     twitter.User
}

// TestBenchFake is not a test: it is the fake X API of the benchmarks, in a
// process of its own. It prints a fakeInfo as JSON, then obeys one command a
// line on stdin, answering each with one line, until stdin ends:
//
//	post N alice|mallory AGE  N mentions "@mypi led on", AGE old; answers
//	                           "ok LASTID NS", NS when the last was made (Unix ns)
//	limit ENDPOINT N WINDOW    a rate limit; answers "ok"
//	streams                    answers "ok N": Activity streams connected
//	requests ENDPOINT          answers "ok N": requests the endpoint had
func TestBenchFake(t *testing.T) {
	if os.Getenv(benchFakeEnv) == "" {
		t.Skip("the benchmarks' fake API process; not a test")
	}
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
	defer srv.Close()
	info := fakeInfo{URL: srv.URL, Credentials: srv.Credentials(), Account: srv.Account(),
		Alice: srv.AddUser("alice"), Mallory: srv.AddUser("mallory")}
	out := bufio.NewWriter(os.Stdout)
	json.NewEncoder(out).Encode(info)
	out.Flush()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		answer := "ok"
		switch {
		case len(f) == 4 && f[0] == "post":
			n, _ := strconv.Atoi(f[1])
			age, _ := time.ParseDuration(f[3])
			who := info.Alice
			if f[2] == "mallory" {
				who = info.Mallory
			}
			var last twitter.Post
			for i := range n {
				last = srv.Post(who, fmt.Sprintf("@mypi led on #%d", i), age)
			}
			answer = "ok " + last.ID + " " + strconv.FormatInt(time.Now().UnixNano(), 10)
		case len(f) == 1 && f[0] == "streams":
			answer = "ok " + strconv.Itoa(srv.StreamConnections())
		case len(f) == 2 && f[0] == "requests":
			answer = "ok " + strconv.Itoa(srv.Requests(f[1]))
		case len(f) == 4 && f[0] == "limit":
			n, _ := strconv.Atoi(f[2])
			w, _ := time.ParseDuration(f[3])
			srv.SetLimit(f[1], n, w)
		default:
			answer = "bad command " + in.Text()
		}
		fmt.Fprintln(out, answer)
		out.Flush()
	}
}

// fakeProc is the fake API process.
type fakeProc struct {
	fakeInfo
	in  io.WriteCloser
	out *bufio.Reader
}

func startFake(tb testing.TB) *fakeProc {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchFake$", "-test.count=1")
	cmd.Env = append(os.Environ(), benchFakeEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	f := &fakeProc{in: in, out: bufio.NewReader(out)}
	tb.Cleanup(func() {
		in.Close()
		io.Copy(io.Discard, f.out)
		cmd.Wait()
	})
	line, err := f.out.ReadBytes('\n')
	if err != nil {
		tb.Fatalf("fake API process: %v", err)
	}
	if err := json.Unmarshal(line, &f.fakeInfo); err != nil {
		tb.Fatalf("fake API process said %q: %v", line, err)
	}
	return f
}

// do sends the fake one command and returns its answer after "ok".
func (f *fakeProc) do(tb testing.TB, format string, args ...any) string {
	tb.Helper()
	fmt.Fprintf(f.in, format+"\n", args...)
	line, err := f.out.ReadString('\n')
	if err != nil {
		tb.Fatalf("fake API process: %v", err)
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "ok")
	if !ok {
		tb.Fatalf("fake API process: %s", line)
	}
	return strings.TrimSpace(rest)
}

// keyID is the public part of an access token, as cmd computes it.
func keyID(token string) string {
	id, _, _ := strings.Cut(token, "-")
	return id
}

// benchLogger formats every record as the daemon does (JSON), then drops it.
func benchLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// newBenchBot starts a bot on the fake in a fresh state directory, past its
// first poll (the starting point). The client is as the daemon builds it:
// a clone of http.DefaultTransport, so connections are kept alive.
func newBenchBot(tb testing.TB, f *fakeProc, api string, h bot.Handler, reply bool) *bot.Bot {
	tb.Helper()
	c, err := twitter.New(twitter.Options{API: api, BaseURL: f.URL, Credentials: f.Credentials})
	if err != nil {
		tb.Fatal(err)
	}
	bt, err := bot.New(bot.Options{
		Client: c, Handler: h, StateDir: tb.TempDir(), Logger: benchLogger(),
		Allow: []string{"@alice"}, Reply: reply,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := bt.Start(ctx, keyID(f.Credentials.AccessToken)); err != nil {
		tb.Fatal(err)
	}
	if err := bt.PollOnce(ctx, bot.InboxMentions); err != nil {
		tb.Fatal(err)
	}
	return bt
}

var apis = []string{"v2", "v1.1"}

// BenchmarkPollEmpty is one poll of the mentions with nothing new: a signed
// request, the answer's rate-limit headers and JSON, no state write.
func BenchmarkPollEmpty(b *testing.B) {
	f := startFake(b)
	for _, api := range apis {
		b.Run(api, func(b *testing.B) {
			bt := newBenchBot(b, f, api, bot.HandlerFunc(func(context.Context, bot.Command) string { return "" }), true)
			ctx := context.Background()
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				if err := bt.PollOnce(ctx, bot.InboxMentions); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkPollCommand is one poll that finds one command from an allowed
// user: fetch, filter, the state written (fsync) before the action, the
// handler, and the threaded reply queued (it goes out beside the loop, from
// Run's sender: not part of the poll). The fake posts the command between
// polls, with the timer stopped. It also reports how long from the start of
// the poll until the handler ran (where the daemon sets the pin), p50 and
// p99.
func BenchmarkPollCommand(b *testing.B) {
	f := startFake(b)
	for _, api := range apis {
		b.Run(api, func(b *testing.B) {
			var start, ran time.Time
			n := 0
			h := bot.HandlerFunc(func(context.Context, bot.Command) string {
				ran = time.Now()
				n++
				// Unlike texts, as commands a second or more apart get (the
				// time stamp differs): the bot need not count up to unique.
				return "led is on #" + strconv.Itoa(n)
			})
			bt := newBenchBot(b, f, api, h, true)
			ctx := context.Background()
			var lat []time.Duration
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				b.StopTimer()
				f.do(b, "post 1 alice 0s")
				ran = time.Time{}
				b.StartTimer()
				start = time.Now()
				if err := bt.PollOnce(ctx, bot.InboxMentions); err != nil {
					b.Fatal(err)
				}
				if ran.IsZero() {
					b.Fatal("the poll found no command")
				}
				lat = append(lat, ran.Sub(start))
			}
			reportCPU(b, cpu)
			reportLatency(b, lat, "to-run")
		})
	}
}

// cpuTime is the CPU time the process (not the fake) used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per operation since start, in
// microseconds: what the poll costs the board, whatever the fake's speed.
// It counts the setup between timed parts too (small next to a poll).
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// reportLatency reports the median and the 99th percentile in microseconds.
func reportLatency(b *testing.B, lat []time.Duration, what string) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.5), "p50-µs-"+what)
	b.ReportMetric(at(0.99), "p99-µs-"+what)
}

// BenchmarkBacklog is the first poll after a long downtime that finds the
// 800 mentions the API keeps at most (8 pages of 100), handled oldest first:
//
//	strangers: from people not on the allow list: logged, not answered
//	too_old:   from an allowed user, older than max_age: answered "too old",
//	           not run; the post limit is spent, so the answers wait in the
//	           outbox (at most 50), as they would on every tier
//	commands:  800 fresh commands from an allowed user, replies off: each one
//	           is recorded (state written, fsync) before it runs
func BenchmarkBacklog(b *testing.B) {
	for _, tc := range []struct {
		name, who, age string
		reply          bool
	}{
		{"strangers", "mallory", "30m", true},
		{"too_old", "alice", "30m", true},
		{"commands", "alice", "0s", false},
	} {
		for _, api := range apis {
			b.Run(tc.name+"/"+api, func(b *testing.B) {
				f := startFake(b)
				f.do(b, "limit %s 0 24h", twitter.EndpointPost)
				f.do(b, "post 800 %s %s", tc.who, tc.age)
				ran := 0
				h := bot.HandlerFunc(func(context.Context, bot.Command) string { ran++; return "led is on" })
				ctx := context.Background()
				c, err := twitter.New(twitter.Options{API: api, BaseURL: f.URL, Credentials: f.Credentials})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					// A bot that knows the account and its allow list, and
					// whose starting point is before the backlog.
					dir := b.TempDir()
					st := &bot.State{AccountID: f.Account.ID, AccountUsername: f.Account.Username,
						KeyID: keyID(f.Credentials.AccessToken), MentionsStarted: true,
						Handles: map[string]string{"alice": f.Alice.ID}}
					if err := st.Save(dir, time.Now()); err != nil {
						b.Fatal(err)
					}
					bt, err := bot.New(bot.Options{Client: c, Handler: h, StateDir: dir,
						Logger: benchLogger(), Allow: []string{"@alice"}, Reply: tc.reply})
					if err != nil {
						b.Fatal(err)
					}
					if err := bt.Start(ctx, keyID(f.Credentials.AccessToken)); err != nil {
						b.Fatal(err)
					}
					ran = 0
					b.StartTimer()
					if err := bt.PollOnce(ctx, bot.InboxMentions); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if tc.name == "commands" && ran != 800 {
						b.Fatalf("ran %d commands, want 800", ran)
					}
					if got := bt.State().MentionsSince; got == "" {
						b.Fatal("the cursor did not move")
					}
					b.StartTimer()
				}
			})
		}
	}
}

// BenchmarkStateSave is one atomic write of the state file: encode, temp
// file, fsync, rename, fsync of the directory. The directory is the test's
// temporary one: on an SD card the fsyncs cost more.
func BenchmarkStateSave(b *testing.B) {
	for _, n := range []int{0, 100, 500} {
		b.Run(fmt.Sprintf("seen_dms=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			st := &bot.State{AccountID: "1500000001", AccountUsername: "mypi", KeyID: "1500000001",
				MentionsSince: "1866000000000000001", MentionsTaken: "1866000000000000001", MentionsStarted: true,
				DMsStarted: true, Handles: map[string]string{"alice": "1500000002"}}
			for i := range n {
				st.SeenDMs = append(st.SeenDMs, strconv.FormatInt(1866000000000000000+int64(i), 10))
			}
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if err := st.Save(dir, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
