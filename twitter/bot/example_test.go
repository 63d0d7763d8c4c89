package bot_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// The bot as cmd wires it: a client, a Handler (the daemon's runs the
// command on the pins), a state directory, who may command it. A command
// from an allowed person runs once and is answered in its thread; a
// stranger's is not run.
func Example() {
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"}) // the fake X API
	defer srv.Close()
	alice, mallory := srv.AddUser("alice"), srv.AddUser("mallory")
	replies := make(chan string, 4)
	srv.Watch(func(e twittertest.Event) {
		if e.Reply != nil {
			replies <- e.Reply.Text
		}
	})
	c, err := twitter.New(twitter.Options{BaseURL: srv.URL, Credentials: srv.Credentials()})
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "tweetpi-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	b, err := bot.New(bot.Options{
		Client:   c,
		StateDir: dir, // state.json and the lock
		Allow:    []string{"@alice"},
		Reply:    true,
		Handler: bot.HandlerFunc(func(ctx context.Context, cmd bot.Command) string {
			fmt.Printf("run %q from @%s\n", cmd.Text, cmd.AuthorUsername)
			return "led is on"
		}),
		PollInterval: 50 * time.Millisecond, // the config allows 1s at the least
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.Start(ctx, twitter.KeyID(srv.Credentials().AccessToken)); err != nil {
		fmt.Println(err)
		b.Close()
		return
	}
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	// The first poll is the starting point (nothing older runs): wait for
	// the second to begin.
	for srv.Requests(twitter.EndpointMentions) < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	srv.Post(mallory, "@mypi led off", 0)
	srv.Post(alice, "@mypi led on", 0)
	text := <-replies
	cancel()
	if err := <-done; err != nil {
		fmt.Println(err)
	}
	fmt.Println("reply:", text[:strings.LastIndex(text, " (")]) // without its time stamp
	// Output:
	// run "@mypi led on" from @alice
	// reply: led is on
}
