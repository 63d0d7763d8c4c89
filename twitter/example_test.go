package twitter_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// The client as the daemon uses it: whose the keys are, the mentions, a
// threaded reply, and a failure a caller branches on by its kind, with the
// fix for the user.
func ExampleNew() {
	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi", Tier: twittertest.TierPro}) // the fake X API, with the Pro tier's limits
	defer srv.Close()
	alice := srv.AddUser("alice")
	srv.Post(alice, "@mypi led on", 0)

	c, err := twitter.New(twitter.Options{API: "v2", BaseURL: srv.URL, Credentials: srv.Credentials()})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	me, err := c.Me(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("the keys are @%s's\n", me.Username)
	posts, err := c.Mentions(ctx, me.ID, twitter.MentionsParams{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range posts {
		fmt.Printf("from alice %t: %s\n", p.AuthorID == alice.ID, p.Text) // v2 posts carry the author's id, not the handle
		if _, err := c.Reply(ctx, p.ID, "led is on"); err != nil {
			fmt.Println(err)
		}
	}
	if rl, ok := c.RateLimits()[twitter.EndpointMentions]; ok {
		fmt.Printf("mentions: %d of %d left in the window\n", rl.Remaining, rl.Limit)
	}

	srv.Fail(twitter.EndpointMentions, twittertest.Fault{Status: 401})
	_, err = c.Mentions(ctx, me.ID, twitter.MentionsParams{})
	var ae *twitter.APIError
	if errors.As(err, &ae) && ae.Kind == twitter.KindUnauthorized {
		fmt.Println(err)
		fmt.Println(twitter.Fix(err)[:40] + "…")
	}
	// Output:
	// the keys are @mypi's
	// from alice true: @mypi led on
	// mentions: 299 of 300 left in the window
	// mentions: 401 unauthorized: Unauthorized
	// check the four keys in the config: all f…
}
