package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

func TestMemProbe(t *testing.T) {
	runtime.MemProfileRate = 1
	if os.Getenv("MEMPROBE") == "" {
		t.Skip()
	}
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
	defer srv.Close()
	alice := srv.AddUser("alice")
	dir := t.TempDir()
	k := srv.Credentials()
	text := fmt.Sprintf(demoConfig, k.ConsumerKey, k.ConsumerSecret, k.AccessToken, k.AccessTokenSecret, "v2", srv.URL, dir)
	cfg, err := config.Parse("demo.yaml", []byte(text), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	d, err := newDaemon(cfg, logger, daemonOptions{sim: device.NewSim(), pollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	time.Sleep(time.Second)
	prof := func(name string) {
		runtime.GC()
		runtime.GC()
		f, _ := os.Create(name)
		pprof.WriteHeapProfile(f)
		f.Close()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("%s: heap %d KiB, sys %d KiB, replies %d", name, ms.HeapAlloc>>10, ms.Sys>>10, len(srv.Replies()))
	}
	n := 0
	post := func(k int) {
		for range k {
			n++
			srv.Post(alice, fmt.Sprintf("@mypi led toggle"), 0)
			if n%2 == 0 {
				srv.SendDM(alice, "led toggle", 0)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	post(1000)
	prof("/tmp/heap1.pprof")
	post(3000)
	prof("/tmp/heap2.pprof")
	stop()
	<-done
	d.close()
}
