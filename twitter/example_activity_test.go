package twitter_test

import (
	"context"
	"fmt"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// The stream of an account's mentions and DMs: subscribe (a restart reuses
// the subscriptions), then read the updates as they come.
func ExampleActivity() {
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
	defer srv.Close()
	alice := srv.AddUser("alice")
	account := srv.Account()

	act, err := twitter.NewActivity(twitter.Options{BaseURL: srv.URL, Credentials: srv.Credentials(), Transport: srv.Transport()})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subs, err := act.Subscribe(ctx, account.ID, twitter.EventTypes(true, true)...)
	if err != nil {
		panic(err) // a *twitter.RefusedError says why and how to fix it
	}
	for _, s := range subs {
		fmt.Printf("subscribed to %s (new: %v)\n", s.EventType, s.New)
	}

	stream := act.NewStream(twitter.StreamOptions{UserID: account.ID})
	updates := make(chan twitter.StreamUpdate, 16)
	go stream.Run(ctx, updates)
	for u := range updates {
		switch u.Kind {
		case twitter.StreamUp:
			fmt.Println("up: poll each inbox once for what came meanwhile")
			srv.Post(alice, "@mypi led on", 0)
			srv.SendDM(alice, "fan 40%", 0)
		case twitter.StreamDown:
			fmt.Printf("down (%v): poll until up again; next try in %s\n", u.Err, u.Retry)
		case twitter.StreamEvent:
			if p := u.Event.Post; p != nil {
				fmt.Printf("%s from @%s: %s\n", u.Event.Type, p.AuthorUsername, p.Text)
				continue
			}
			names := map[string]string{alice.ID: "alice"} // DMs carry the sender's id
			fmt.Printf("%s from %s: %s\n", u.Event.Type, names[u.Event.DM.SenderID], u.Event.DM.Text)
			return
		}
	}
	// Output:
	// subscribed to post.mention.create (new: true)
	// subscribed to post.reply.create (new: true)
	// subscribed to dm.received (new: true)
	// up: poll each inbox once for what came meanwhile
	// post.mention.create from @alice: @mypi led on
	// dm.received from alice: fan 40%
}
