package twitter_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// activityFakeEnv, when set, makes TestActivityFakeProcess serve the fake.
const activityFakeEnv = "TWEETPI_ACTIVITY_FAKE"

type activityFakeInfo struct {
	URL         string
	Credentials twitter.Credentials
	Account     twitter.User
}

// TestActivityFakeProcess is not a test: it is the fake X API of
// BenchmarkIdleStreams, in a process of its own so that the memory
// measured is the client's. It prints an activityFakeInfo as JSON and
// serves until stdin ends.
func TestActivityFakeProcess(t *testing.T) {
	if os.Getenv(activityFakeEnv) == "" {
		t.Skip("the idle-stream benchmark's fake API process; not a test")
	}
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi", StreamLimit: 100_000})
	defer srv.Close()
	json.NewEncoder(os.Stdout).Encode(activityFakeInfo{URL: srv.URL, Credentials: srv.Credentials(), Account: srv.Account()})
	bufio.NewScanner(os.Stdin).Scan()
}

// BenchmarkIdleStreams measures the memory of one idle stream connection
// (heap and stacks: the Stream's goroutine and buffers, the transport's
// connection with its goroutines and buffers), over loopback TCP to a fake
// in another process, like a daemon's single stream to X.
//
//	go test -run='^$' -bench=IdleStreams ./twitter
func BenchmarkIdleStreams(b *testing.B) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestActivityFakeProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), activityFakeEnv+"=1")
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { in.Close(); cmd.Wait() }()
	var info activityFakeInfo
	if err := json.NewDecoder(out).Decode(&info); err != nil {
		b.Fatal(err)
	}
	newClient := func() *twitter.Activity {
		a, err := twitter.NewActivity(twitter.Options{BaseURL: info.URL, Credentials: info.Credentials})
		if err != nil {
			b.Fatal(err)
		}
		return a
	}
	if _, err := newClient().Subscribe(context.Background(), info.Account.ID, twitter.EventTypes(true, true)...); err != nil {
		b.Fatal(err)
	}
	const n = 200
	for b.Loop() {
		clients := make([]*twitter.Activity, n)
		for i := range clients {
			clients[i] = newClient()
			if _, err := clients[i].AppToken(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		before := memInUse()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, n)
		ch := make(chan twitter.StreamUpdate, n) // one receiver for all, as the bot is for its one
		for _, a := range clients {
			st := a.NewStream(twitter.StreamOptions{UserID: info.Account.ID})
			go func() { done <- st.Run(ctx, ch) }()
		}
		limit := time.After(time.Minute)
		for up := 0; up < n; {
			select {
			case u := <-ch:
				if u.Kind == twitter.StreamUp {
					up++
				}
			case <-limit:
				b.Fatal("the streams did not all connect within a minute")
			}
		}
		after := memInUse()
		b.ReportMetric(float64(after-before)/n, "B/conn")
		cancel()
		for range n {
			<-done
		}
		for len(ch) > 0 {
			<-ch
		}
	}
}

// memInUse is the heap and stack memory in use after a collection.
func memInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}
