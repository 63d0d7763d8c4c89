package bot_test

// Benchmarks of the stream: a post made in the fake (a process of its
// own, over loopback HTTP) to the handler, where the daemon sets the pin,
// with the state written to the disk before it runs.

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// streamBench is a bot reading the fake's stream, run by Run.
type streamBench struct {
	mu   sync.Mutex
	ran  []time.Time // when the handler ran, in order
	stop func()
}

func (sb *streamBench) runs() int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return len(sb.ran)
}

// startStreamBot starts a bot with the stream (delivery auto, poll_interval
// 60s) on f, a fresh fake, in a fresh state directory, and returns once
// the stream is up and the polls its start causes are done.
func startStreamBot(tb testing.TB, f *fakeProc, reply bool) *streamBench {
	tb.Helper()
	opt := twitter.Options{BaseURL: f.URL, Credentials: f.Credentials}
	c, err := twitter.New(opt)
	if err != nil {
		tb.Fatal(err)
	}
	act, err := twitter.NewActivity(opt)
	if err != nil {
		tb.Fatal(err)
	}
	sb := &streamBench{}
	n := 0
	bt, err := bot.New(bot.Options{
		Client: c, StateDir: tb.TempDir(), Logger: benchLogger(), Allow: []string{"@alice"}, Reply: reply,
		PollInterval: time.Minute, Activity: act, Delivery: bot.DeliveryAuto,
		Handler: bot.HandlerFunc(func(context.Context, bot.Command) string {
			now := time.Now()
			sb.mu.Lock()
			sb.ran = append(sb.ran, now)
			n++
			sb.mu.Unlock()
			return "led is on #" + strconv.Itoa(n)
		}),
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := bt.Start(ctx, keyID(f.Credentials.AccessToken)); err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- bt.Run(ctx) }()
	var once sync.Once
	sb.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Error(err)
			}
		})
	}
	tb.Cleanup(sb.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		streams, _ := strconv.Atoi(f.do(tb, "streams"))
		polls, _ := strconv.Atoi(f.do(tb, "requests %s", twitter.EndpointMentions))
		if streams == 1 && polls >= 2 { // the starting point, the poll at the stream's start (a fresh fake)
			return sb
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the stream did not come up (%d connections, %d polls)", streams, polls)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkStreamCommand is one command from its post in the fake to the
// handler through the stream, with poll_interval 60s: the fake writes the
// event, the client reads and decodes it, the bot checks it, writes the
// state (fsync) and runs it; the reply follows. It reports the latency
// from the post to the handler, p50 and p99, as measure.sh's "post ->
// pin set" (a poll at 60 s waits 30 s on average for the same).
func BenchmarkStreamCommand(b *testing.B) {
	f := startFake(b)
	sb := startStreamBot(b, f, true)
	var lat []time.Duration
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		n := sb.runs()
		_, ns, _ := strings.Cut(f.do(b, "post 1 alice 0s"), " ")
		at, _ := strconv.ParseInt(ns, 10, 64)
		for sb.runs() == n {
			time.Sleep(50 * time.Microsecond)
		}
		sb.mu.Lock()
		lat = append(lat, sb.ran[n].Sub(time.Unix(0, at)))
		sb.mu.Unlock()
	}
	reportCPU(b, cpu)
	reportLatency(b, lat, "post-to-run")
}

// BenchmarkStreamBurst is 800 commands posted at once, delivered by the
// stream and run, each recorded in the state file on the disk before it
// runs (a write per batch of what has arrived, up to 64): from the first
// post to the 800th run. replies=off counts the commands alone; replies=on
// sends each answer too (in the loop, between the commands).
func BenchmarkStreamBurst(b *testing.B) {
	for _, reply := range []bool{false, true} {
		name := "replies=off"
		if reply {
			name = "replies=on"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				f := startFake(b)
				sb := startStreamBot(b, f, reply)
				b.StartTimer()
				start := time.Now()
				f.do(b, "post 800 alice 0s")
				for sb.runs() < 800 {
					time.Sleep(100 * time.Microsecond)
				}
				b.StopTimer()
				sb.mu.Lock()
				took := sb.ran[799].Sub(start)
				sb.mu.Unlock()
				b.ReportMetric(float64(took)/float64(time.Millisecond), "ms-to-800th-run")
				sb.stop()
				b.StartTimer()
			}
		})
	}
}
