package twittertest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// A test of code that uses a twitter.Client: the real client, signed
// requests, the fake API.
func ExampleNewServer() {
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
	defer srv.Close()
	alice := srv.AddUser("alice")
	post := srv.Post(alice, "@mypi led on", time.Minute)
	srv.Watch(func(e twittertest.Event) {
		if e.Reply != nil {
			fmt.Printf("reply to %v: %s\n", e.Reply.InReplyTo == post.ID, e.Reply.Text)
		}
	})

	c, err := twitter.New(twitter.Options{BaseURL: srv.URL, Credentials: srv.Credentials(), Transport: srv.Transport()})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	mentions, err := c.Mentions(ctx, srv.Account().ID, twitter.MentionsParams{})
	if err != nil {
		panic(err)
	}
	for _, m := range mentions {
		fmt.Printf("from alice %t: %s\n", m.AuthorID == alice.ID, m.Text)
		if _, err := c.Reply(ctx, m.ID, "led is on"); err != nil {
			panic(err)
		}
	}
	_, err = c.Reply(ctx, post.ID, "led is on")
	fmt.Println(twitter.KindOf(err))
	// Output:
	// from alice true: @mypi led on
	// reply to true: led is on
	// duplicate
}
