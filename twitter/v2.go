package twitter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dghubble/sling"
)

// V2 is the client for X API v2, the default. Safe for concurrent use.
type V2 struct {
	c    *conn
	base *sling.Sling
}

var _ Client = (*V2)(nil)

// NewV2 returns a v2 client. It sends nothing until called.
func NewV2(opt Options) (*V2, error) {
	c, err := newConn(opt)
	if err != nil {
		return nil, err
	}
	base := sling.New().Base(c.base.String() + "/2/")
	if c.userAgent != "" {
		base.Set("User-Agent", c.userAgent)
	}
	return &V2{c: c, base: base}, nil
}

// Version is "v2".
func (v *V2) Version() string { return "v2" }

// RateLimits is the latest state of every endpoint seen.
func (v *V2) RateLimits() map[string]RateLimit { return v.c.limits.snapshot() }

// ServerDate is the Date header of the latest answer.
func (v *V2) ServerDate() time.Time { return v.c.limits.date() }

// v2 answer shapes.
type (
	v2User struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Username string `json:"username"`
	}
	v2Tweet struct {
		ID             string   `json:"id"`
		Text           string   `json:"text"`
		AuthorID       string   `json:"author_id"`
		CreatedAt      string   `json:"created_at"`
		ConversationID string   `json:"conversation_id"`
		EditHistory    []string `json:"edit_history_tweet_ids"`
	}
	v2DMEvent struct {
		ID               string `json:"id"`
		Text             string `json:"text"`
		EventType        string `json:"event_type"`
		SenderID         string `json:"sender_id"`
		CreatedAt        string `json:"created_at"`
		DMConversationID string `json:"dm_conversation_id"`
	}
	v2Meta struct {
		ResultCount int    `json:"result_count"`
		NextToken   string `json:"next_token"`
	}
	v2UserAnswer struct {
		Data *v2User `json:"data"`
	}
	v2MentionsAnswer struct {
		Data     []v2Tweet `json:"data"`
		Includes struct {
			Users []v2User `json:"users"`
		} `json:"includes"`
		Meta   v2Meta            `json:"meta"`
		Errors []json.RawMessage `json:"errors"`
	}
	v2DMAnswer struct {
		Data   []v2DMEvent       `json:"data"`
		Meta   v2Meta            `json:"meta"`
		Errors []json.RawMessage `json:"errors"`
	}
	v2PostAnswer struct {
		Data *struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	v2SendDMAnswer struct {
		Data *struct {
			DMEventID string `json:"dm_event_id"`
		} `json:"data"`
	}
)

// v2MentionsQuery is the query of GET /2/users/:id/mentions. It is
// encoded by hand (query) rather than through sling's reflective
// QueryStruct: the mentions are polled all day, and every parameter is also
// percent-encoded and sorted again for the OAuth signature, so the query is
// kept to what the bot reads. It asks for no expansions: X bills each user
// an answer includes as a user read, ten times an owned mention read, and
// the bot matches authors by id (their handles come from resolving the
// configuration's, once).
type v2MentionsQuery struct {
	SinceID         string
	MaxResults      int
	PaginationToken string
}

// query is the encoded query, keys in order as url.Values.Encode sorts them.
func (q v2MentionsQuery) query() string {
	var b strings.Builder
	b.Grow(128)
	b.WriteString("max_results=")
	b.WriteString(strconv.Itoa(q.MaxResults))
	if q.PaginationToken != "" {
		b.WriteString("&pagination_token=")
		b.WriteString(url.QueryEscape(q.PaginationToken))
	}
	if q.SinceID != "" {
		b.WriteString("&since_id=")
		b.WriteString(url.QueryEscape(q.SinceID))
	}
	b.WriteString("&tweet.fields=author_id%2Ccreated_at%2Cconversation_id%2Cedit_history_tweet_ids")
	return b.String()
}

type v2DMQuery struct {
	DMEventFields   string `url:"dm_event.fields"`
	EventTypes      string `url:"event_types"`
	MaxResults      int    `url:"max_results,omitempty"`
	PaginationToken string `url:"pagination_token,omitempty"`
}

// do sends the request s builds and decodes a 2xx answer into out.
func (v *V2) do(ctx context.Context, ep string, s *sling.Sling, out any) (*exchange, error) {
	ex, err := v.c.call(ctx, ep, false, func(hc *http.Client) error {
		req, err := s.Request()
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		return resp.Body.Close() // callTransport kept the body
	})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(ex.body, out); err != nil {
		return nil, &APIError{Kind: KindTransient, Endpoint: ep, Status: ex.status, Title: "malformed answer", Err: err}
	}
	return ex, nil
}

// Me is the account the keys belong to (GET /2/users/me).
func (v *V2) Me(ctx context.Context) (User, error) {
	return v.user(ctx, EndpointMe, v.base.New().Get("users/me"))
}

// UserByUsername resolves a handle (GET /2/users/by/username/:u).
func (v *V2) UserByUsername(ctx context.Context, username string) (User, error) {
	name := strings.TrimPrefix(strings.TrimSpace(username), "@")
	if name == "" {
		return User{}, &APIError{Kind: KindNotFound, Endpoint: EndpointUserByName, Title: "empty username"}
	}
	return v.user(ctx, EndpointUserByName, v.base.New().Get("users/by/username/"+url.PathEscape(name)))
}

func (v *V2) user(ctx context.Context, ep string, s *sling.Sling) (User, error) {
	var a v2UserAnswer
	ex, err := v.do(ctx, ep, s, &a)
	if err != nil {
		return User{}, err
	}
	if a.Data == nil {
		return User{}, partialError(ep, ex.status, ex.body)
	}
	if a.Data.ID == "" {
		return User{}, &APIError{Kind: KindTransient, Endpoint: ep, Status: ex.status, Title: "malformed answer", Detail: "user without id"}
	}
	v.c.bill(ep, items(ChargeUserRead, a.Data.ID))
	return User{ID: a.Data.ID, Username: a.Data.Username}, nil
}

// Mentions of userID (GET /2/users/:id/mentions), every page up to
// p.MaxPages, oldest first. X keeps only the 800 most recent mentions.
func (v *V2) Mentions(ctx context.Context, userID string, p MentionsParams) ([]Post, error) {
	q := v2MentionsQuery{SinceID: p.SinceID, MaxResults: clamp(p.MaxResults, 5, 100, 100)}
	path := "users/" + url.PathEscape(userID) + "/mentions?"
	return pages(p.MaxPages, postID, func(token string) ([]Post, string, error) {
		q.PaginationToken = token
		var a v2MentionsAnswer
		ex, err := v.do(ctx, EndpointMentions, v.base.New().Get(path+q.query()), &a)
		if err != nil {
			return nil, "", err
		}
		if a.Data == nil && len(a.Errors) > 0 {
			return nil, "", partialError(EndpointMentions, ex.status, ex.body)
		}
		v.c.bill(EndpointMentions, a.billed())
		names := map[string]string{}
		for _, u := range a.Includes.Users {
			names[u.ID] = u.Username
		}
		posts := make([]Post, 0, len(a.Data))
		for _, t := range a.Data {
			posts = append(posts, Post{
				ID:             t.ID,
				AuthorID:       t.AuthorID,
				AuthorUsername: names[t.AuthorID],
				Text:           t.Text,
				CreatedAt:      parseV2Time(t.CreatedAt),
				ConversationID: t.ConversationID,
				EditOf:         editOf(t),
			})
		}
		return posts, a.Meta.NextToken, nil
	})
}

// DirectMessages lists the account's DM events, received and sent
// (GET /2/dm_events), oldest first.
func (v *V2) DirectMessages(ctx context.Context, p DMParams) ([]DM, error) {
	q := v2DMQuery{
		DMEventFields: "id,text,event_type,sender_id,created_at,dm_conversation_id",
		EventTypes:    "MessageCreate",
		MaxResults:    clamp(p.MaxResults, 1, 100, 100),
	}
	page := 0
	return pages(p.MaxPages, dmID, func(token string) ([]DM, string, error) {
		q.PaginationToken = token
		q.MaxResults = p.pageSize(page, 1, 100)
		page++
		var a v2DMAnswer
		ex, err := v.do(ctx, EndpointDMEvents, v.base.New().Get("dm_events").QueryStruct(q), &a)
		if err != nil {
			return nil, "", err
		}
		if a.Data == nil && len(a.Errors) > 0 {
			return nil, "", partialError(EndpointDMEvents, ex.status, ex.body)
		}
		bill := make([]Item, 0, len(a.Data))
		for _, d := range a.Data {
			bill = append(bill, items(ChargeDMRead, d.ID)...)
		}
		v.c.bill(EndpointDMEvents, bill)
		next := a.Meta.NextToken
		dms := make([]DM, 0, len(a.Data))
		for _, d := range a.Data {
			if d.ID == "" || (d.EventType != "" && d.EventType != "MessageCreate") {
				continue
			}
			if p.Seen != nil && p.Seen(d.ID) {
				next = "" // older pages were read before
			}
			dms = append(dms, DM{
				ID:             d.ID,
				SenderID:       d.SenderID,
				Text:           d.Text,
				CreatedAt:      parseV2Time(d.CreatedAt),
				ConversationID: d.DMConversationID,
			})
		}
		return dms, next, nil
	})
}

// Reply posts text as a threaded reply to post inReplyTo (POST /2/tweets).
func (v *V2) Reply(ctx context.Context, inReplyTo, text string) (string, error) {
	body := struct {
		Text  string `json:"text"`
		Reply struct {
			InReplyToTweetID string `json:"in_reply_to_tweet_id"`
		} `json:"reply"`
	}{Text: text}
	body.Reply.InReplyToTweetID = inReplyTo
	var a v2PostAnswer
	ex, err := v.do(ctx, EndpointPost, v.base.New().Post("tweets").BodyJSON(body), &a)
	if err != nil {
		return "", err
	}
	if a.Data == nil || a.Data.ID == "" {
		return "", partialError(EndpointPost, ex.status, ex.body)
	}
	v.c.bill(EndpointPost, items(ChargeReply, a.Data.ID))
	return a.Data.ID, nil
}

// SendDM sends text to a user (POST /2/dm_conversations/with/:id/messages).
func (v *V2) SendDM(ctx context.Context, toUserID, text string) (string, error) {
	body := struct {
		Text string `json:"text"`
	}{text}
	var a v2SendDMAnswer
	s := v.base.New().Post("dm_conversations/with/" + url.PathEscape(toUserID) + "/messages").BodyJSON(body)
	ex, err := v.do(ctx, EndpointSendDM, s, &a)
	if err != nil {
		return "", err
	}
	if a.Data == nil || a.Data.DMEventID == "" {
		return "", partialError(EndpointSendDM, ex.status, ex.body)
	}
	v.c.bill(EndpointSendDM, items(ChargeDMSend, a.Data.DMEventID))
	return a.Data.DMEventID, nil
}

// editOf are the earlier versions a post's edit history names: every id
// in it but its own (the last), those that are X ids.
func editOf(t v2Tweet) []string { return earlierVersions(t.ID, t.EditHistory) }

// earlierVersions are the ids of history (edit_history_tweet_ids) but id.
func earlierVersions(id string, history []string) []string {
	var ids []string
	for _, h := range history {
		if h != id && ValidID(h) {
			ids = append(ids, h)
		}
	}
	return ids
}

// billed is what a page of mentions bills: each post (the account's own
// mentions: owned reads) and each user an expansion added.
func (a *v2MentionsAnswer) billed() []Item {
	out := make([]Item, 0, len(a.Data)+len(a.Includes.Users))
	for _, t := range a.Data {
		out = append(out, items(ChargeOwnedRead, t.ID)...)
	}
	for _, u := range a.Includes.Users {
		out = append(out, items(ChargeUserRead, u.ID)...)
	}
	return out
}

func parseV2Time(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// clamp returns n within [lo, hi], or def when n is 0.
func clamp(n, lo, hi, def int) int {
	switch {
	case n == 0:
		return def
	case n < lo:
		return lo
	case n > hi:
		return hi
	}
	return n
}
