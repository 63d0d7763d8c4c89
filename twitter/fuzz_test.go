package twitter_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/tweetpi/tweetpi/twitter"
)

// fuzzClient is a client whose every answer is status and body.
func fuzzClient(t *testing.T, api string, status int, body []byte) twitter.Client {
	c, err := twitter.New(twitter.Options{
		API:         api,
		Credentials: twitter.Credentials{ConsumerKey: "k", ConsumerSecret: "s", AccessToken: "1-t", AccessTokenSecret: "ts"},
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			h := http.Header{"Content-Type": {"application/json"}, "X-Rate-Limit-Remaining": {"0"}, "X-Rate-Limit-Reset": {"1700000000"}}
			return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkFuzzAnswer: a decoded answer never panics, and a failure is always
// an *APIError (nothing here cancels the context).
func checkFuzzAnswer(t *testing.T, c twitter.Client) {
	ctx := context.Background()
	var errs []error
	posts, err := c.Mentions(ctx, "1", twitter.MentionsParams{MaxPages: 2})
	errs = append(errs, err)
	for i := 1; i < len(posts); i++ {
		if posts[i-1].ID == posts[i].ID {
			t.Fatalf("duplicate post %s", posts[i].ID)
		}
	}
	_, err = c.DirectMessages(ctx, twitter.DMParams{MaxPages: 2})
	errs = append(errs, err)
	_, err = c.Me(ctx)
	errs = append(errs, err)
	_, err = c.Reply(ctx, "12", "hi")
	errs = append(errs, err)
	_, err = c.SendDM(ctx, "12", "hi")
	errs = append(errs, err)
	for _, err := range errs {
		var ae *twitter.APIError
		if err != nil && !errors.As(err, &ae) {
			t.Fatalf("error %v is not an *APIError", err)
		}
	}
}

func fuzzSeeds(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"data":[{"id":"2","text":"@mypi led on","author_id":"9","created_at":"2025-01-01T00:00:00.000Z"},{"id":"1","text":"x"}],"includes":{"users":[{"id":"9","username":"alice"}]},"meta":{"result_count":2,"next_token":"t"}}`},
		{200, `{"meta":{"result_count":0}}`},
		{200, `{"data":{"id":"1","username":"mypi"}}`},
		{200, `{"errors":[{"title":"Not Found Error","type":"https://api.twitter.com/2/problems/resource-not-found"}]}`},
		{201, `{"data":{"dm_conversation_id":"1-2","dm_event_id":"3"}}`},
		{200, `[{"id":2,"id_str":"2","full_text":"a &amp; b","created_at":"Wed Jan 01 00:00:00 +0000 2025","user":{"id_str":"9","screen_name":"alice"}}]`},
		{200, `{"events":[{"type":"message_create","id":"5","created_timestamp":"1700000000000","message_create":{"sender_id":"9","target":{"recipient_id":"1"},"message_data":{"text":"hi"}}}],"next_cursor":"x"}`},
		{200, `{"id":1,"id_str":"1","screen_name":"mypi"}`},
		{403, `{"errors":[{"code":187,"message":"Status is a duplicate."}]}`},
		{429, `{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`},
		{200, `{"data":[{"id":"14`},
		{500, `<html>`},
	} {
		f.Add(s.status, []byte(s.body))
	}
}

func FuzzDecodeV2(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		checkFuzzAnswer(t, fuzzClient(t, "v2", status, body))
	})
}

func FuzzDecodeV11(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		checkFuzzAnswer(t, fuzzClient(t, "v1.1", status, body))
	})
}
