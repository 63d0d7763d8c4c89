package twitter

//lint:file-ignore SA1019 go-twitter is no longer developed upstream, and it is the v1.1 client the design names

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	gotwitter "github.com/dghubble/go-twitter/twitter"
)

// V11 is the client for X API v1.1 over go-twitter, for compatible servers
// and older contracts (X closes v1.1 reads to self-serve accounts with 403
// code 453). Safe for concurrent use.
//
// go-twitter is used unchanged: it addresses https://api.twitter.com/1.1/,
// and each request is moved to the base URL before the oauth1 signer signs
// it, so the signature covers the URL actually sent.
type V11 struct {
	c *conn

	// go-twitter's clients, each built once (building one allocates ~40
	// objects) and lent to one call at a time, whose transport it uses:
	// calls run side by side (the replies beside the polls), none waits
	// for another's answer.
	free chan *v11Client
}

// v11Client is a go-twitter client and the transport of the call it
// serves.
type v11Client struct {
	api *gotwitter.Client
	cur http.RoundTripper
}

// v11Clients is how many idle go-twitter clients are kept for reuse: the
// loop's and the two senders' calls.
const v11Clients = 4

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

var _ Client = (*V11)(nil)

// NewV11 returns a v1.1 client. It sends nothing until called.
func NewV11(opt Options) (*V11, error) {
	c, err := newConn(opt)
	if err != nil {
		return nil, err
	}
	return &V11{c: c, free: make(chan *v11Client, v11Clients)}, nil
}

// client lends a go-twitter client; give it back with put.
func (v *V11) client() *v11Client {
	select {
	case gc := <-v.free:
		return gc
	default:
	}
	gc := &v11Client{}
	gc.api = gotwitter.NewClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return gc.cur.RoundTrip(r) // set by do for the call in progress
	})})
	return gc
}

func (v *V11) put(gc *v11Client) {
	gc.cur = nil
	select {
	case v.free <- gc:
	default: // enough idle ones
	}
}

// Version is "v1.1".
func (v *V11) Version() string { return "v1.1" }

// RateLimits is the latest state of every endpoint seen.
func (v *V11) RateLimits() map[string]RateLimit { return v.c.limits.snapshot() }

// ServerDate is the Date header of the latest answer.
func (v *V11) ServerDate() time.Time { return v.c.limits.date() }

// do runs one go-twitter call. go-twitter returns err == nil for some error
// bodies, so the status code decides, not its error.
func (v *V11) do(ctx context.Context, ep string, f func(api *gotwitter.Client) error) error {
	gc := v.client()
	defer v.put(gc)
	_, err := v.c.call(ctx, ep, true, func(hc *http.Client) error {
		gc.cur = hc.Transport
		return f(gc.api)
	})
	return err
}

// Me is the account the keys belong to (account/verify_credentials).
func (v *V11) Me(ctx context.Context) (User, error) {
	var u *gotwitter.User
	err := v.do(ctx, EndpointMe, func(api *gotwitter.Client) (err error) {
		u, _, err = api.Accounts.VerifyCredentials(&gotwitter.AccountVerifyParams{SkipStatus: gotwitter.Bool(true)})
		return err
	})
	me, err := userOf(EndpointMe, u, err)
	return v.billUser(EndpointMe, me, err)
}

// UserByUsername resolves a handle (users/show).
func (v *V11) UserByUsername(ctx context.Context, username string) (User, error) {
	name := strings.TrimPrefix(strings.TrimSpace(username), "@")
	if name == "" {
		return User{}, &APIError{Kind: KindNotFound, Endpoint: EndpointUserByName, Title: "empty username"}
	}
	var u *gotwitter.User
	err := v.do(ctx, EndpointUserByName, func(api *gotwitter.Client) (err error) {
		u, _, err = api.Users.Show(&gotwitter.UserShowParams{ScreenName: name})
		return err
	})
	found, err := userOf(EndpointUserByName, u, err)
	return v.billUser(EndpointUserByName, found, err)
}

func userOf(ep string, u *gotwitter.User, err error) (User, error) {
	if err != nil {
		return User{}, err
	}
	if u == nil || u.IDStr == "" {
		return User{}, &APIError{Kind: KindTransient, Endpoint: ep, Title: "malformed answer", Detail: "user without id"}
	}
	return User{ID: u.IDStr, Username: u.ScreenName}, nil
}

// billUser tells the meter of the user an answer returned.
func (v *V11) billUser(ep string, u User, err error) (User, error) {
	if err == nil {
		v.c.bill(ep, items(ChargeUserRead, u.ID))
	}
	return u, err
}

// Mentions of the account (statuses/mentions_timeline; v1.1 has no other
// user's mentions, so userID is not sent), max_id paging, oldest first.
func (v *V11) Mentions(ctx context.Context, userID string, p MentionsParams) ([]Post, error) {
	q := &gotwitter.MentionTimelineParams{
		Count:           clamp(p.MaxResults, 1, 200, 200),
		TweetMode:       "extended",
		IncludeEntities: gotwitter.Bool(false),
	}
	if p.SinceID != "" {
		id, err := strconv.ParseInt(p.SinceID, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: since_id %q is not a post id", EndpointMentions, p.SinceID)
		}
		q.SinceID = id
	}
	// max_id paging: the next page is the posts below the oldest so far.
	return pages(p.MaxPages, postID, func(token string) ([]Post, string, error) {
		q.MaxID = 0
		if token != "" {
			q.MaxID, _ = strconv.ParseInt(token, 10, 64)
		}
		var tweets []gotwitter.Tweet
		err := v.do(ctx, EndpointMentions, func(api *gotwitter.Client) (err error) {
			tweets, _, err = api.Timelines.MentionTimeline(q)
			return err
		})
		if err != nil {
			return nil, "", err
		}
		v.c.bill(EndpointMentions, billedTweets(tweets))
		var oldest int64
		posts := make([]Post, 0, len(tweets))
		for _, t := range tweets {
			if t.ID != 0 && (oldest == 0 || t.ID < oldest) {
				oldest = t.ID
			}
			id := t.IDStr
			if id == "" && t.ID != 0 {
				id = strconv.FormatInt(t.ID, 10)
			}
			text := t.FullText
			if text == "" {
				text = t.Text
			}
			post := Post{ID: id, Text: decodeEntities(text)}
			post.CreatedAt, _ = t.CreatedAtTime()
			if t.User != nil {
				post.AuthorID, post.AuthorUsername = t.User.IDStr, t.User.ScreenName
			}
			posts = append(posts, post)
		}
		if len(tweets) < q.Count || oldest <= 1 || oldest-1 <= q.SinceID {
			return posts, "", nil
		}
		return posts, strconv.FormatInt(oldest-1, 10), nil
	})
}

// billedTweets is what a v1.1 page of mentions bills: each post (owned
// reads) and each author, whose user object v1.1 embeds in every post.
func billedTweets(tweets []gotwitter.Tweet) []Item {
	out := make([]Item, 0, 2*len(tweets))
	for _, t := range tweets {
		id := t.IDStr
		if id == "" && t.ID != 0 {
			id = strconv.FormatInt(t.ID, 10)
		}
		out = append(out, items(ChargeOwnedRead, id)...)
		if t.User != nil {
			out = append(out, items(ChargeUserRead, t.User.IDStr)...)
		}
	}
	return out
}

// entities are the only HTML entities X puts in v1.1 text.
var entities = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

func decodeEntities(s string) string { return entities.Replace(s) }

// DirectMessages lists DM events, received and sent
// (direct_messages/events/list, cursor paging), oldest first.
func (v *V11) DirectMessages(ctx context.Context, p DMParams) ([]DM, error) {
	q := &gotwitter.DirectMessageEventsListParams{Count: clamp(p.MaxResults, 1, 50, 50)}
	page := 0
	return pages(p.MaxPages, dmID, func(token string) ([]DM, string, error) {
		q.Cursor = token
		q.Count = p.pageSize(page, 1, 50)
		page++
		var evs *gotwitter.DirectMessageEvents
		err := v.do(ctx, EndpointDMEvents, func(api *gotwitter.Client) (err error) {
			evs, _, err = api.DirectMessages.EventsList(q)
			return err
		})
		if err != nil || evs == nil {
			return nil, "", err
		}
		bill := make([]Item, 0, len(evs.Events))
		for _, e := range evs.Events {
			bill = append(bill, items(ChargeDMRead, e.ID)...)
		}
		v.c.bill(EndpointDMEvents, bill)
		next := evs.NextCursor
		dms := make([]DM, 0, len(evs.Events))
		for _, e := range evs.Events {
			if e.ID == "" || e.Type != "message_create" || e.Message == nil {
				continue
			}
			if p.Seen != nil && p.Seen(e.ID) {
				next = "" // older pages were read before
			}
			dm := DM{ID: e.ID, SenderID: e.Message.SenderID}
			if e.Message.Data != nil {
				dm.Text = decodeEntities(e.Message.Data.Text)
			}
			if ms, err := strconv.ParseInt(e.CreatedAt, 10, 64); err == nil {
				dm.CreatedAt = time.UnixMilli(ms).UTC()
			}
			if e.Message.Target != nil {
				dm.ConversationID = conversationID(dm.SenderID, e.Message.Target.RecipientID)
			}
			dms = append(dms, dm)
		}
		return dms, next, nil
	})
}

// conversationID is v2's id of a one-to-one conversation: both user ids,
// the smaller first, joined by "-". v1.1 sends none.
func conversationID(a, b string) string {
	if a == "" || b == "" {
		return ""
	}
	if IDLess(b, a) {
		a, b = b, a
	}
	return a + "-" + b
}

// Reply posts text as a threaded reply (statuses/update with
// in_reply_to_status_id and auto_populate_reply_metadata).
func (v *V11) Reply(ctx context.Context, inReplyTo, text string) (string, error) {
	id, err := strconv.ParseInt(inReplyTo, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%s: in_reply_to %q is not a post id", EndpointPost, inReplyTo)
	}
	var t *gotwitter.Tweet
	err = v.do(ctx, EndpointPost, func(api *gotwitter.Client) (err error) {
		t, _, err = api.Statuses.Update(text, &gotwitter.StatusUpdateParams{
			InReplyToStatusID:         id,
			AutoPopulateReplyMetadata: gotwitter.Bool(true),
		})
		return err
	})
	if err != nil {
		return "", err
	}
	if t == nil || t.IDStr == "" {
		return "", &APIError{Kind: KindTransient, Endpoint: EndpointPost, Title: "malformed answer", Detail: "post without id"}
	}
	charge := ChargeReply
	if t.InReplyToStatusIDStr == "" {
		charge = ChargePost // v1.1 posts it alone when it cannot see the post answered
	}
	v.c.bill(EndpointPost, items(charge, t.IDStr))
	return t.IDStr, nil
}

// SendDM sends text to a user (direct_messages/events/new).
func (v *V11) SendDM(ctx context.Context, toUserID, text string) (string, error) {
	var e *gotwitter.DirectMessageEvent
	err := v.do(ctx, EndpointSendDM, func(api *gotwitter.Client) (err error) {
		e, _, err = api.DirectMessages.EventsNew(&gotwitter.DirectMessageEventsNewParams{
			Event: &gotwitter.DirectMessageEvent{
				Type: "message_create",
				Message: &gotwitter.DirectMessageEventMessage{
					Target: &gotwitter.DirectMessageTarget{RecipientID: toUserID},
					Data:   &gotwitter.DirectMessageData{Text: text},
				},
			},
		})
		return err
	})
	if err != nil {
		return "", err
	}
	if e == nil || e.ID == "" {
		return "", &APIError{Kind: KindTransient, Endpoint: EndpointSendDM, Title: "malformed answer", Detail: "event without id"}
	}
	v.c.bill(EndpointSendDM, items(ChargeDMSend, e.ID))
	return e.ID, nil
}
