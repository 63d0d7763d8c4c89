package twitter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Subscription is one Activity API subscription of the app: X delivers its
// events on the app's stream.
type Subscription struct {
	ID        string // subscription_id
	EventType string // EventMention, EventReply, EventDM or another type
	UserID    string // filter.user_id; "" for a filter without a user
	Tag       string
	CreatedAt time.Time
	New       bool // made by this Subscribe call; false: it was there
}

// activitySubscription is X's shape of a subscription.
type activitySubscription struct {
	ID        string `json:"subscription_id"`
	EventType string `json:"event_type"`
	Filter    struct {
		UserID string `json:"user_id"`
	} `json:"filter"`
	Tag       string `json:"tag"`
	CreatedAt string `json:"created_at"`
}

func (s activitySubscription) subscription() Subscription {
	return Subscription{ID: s.ID, EventType: s.EventType, UserID: s.Filter.UserID, Tag: s.Tag, CreatedAt: parseV2Time(s.CreatedAt)}
}

// Subscriptions lists the app's subscriptions (GET
// /2/activity/subscriptions, every page). A refusal is a *RefusedError.
func (a *Activity) Subscriptions(ctx context.Context) ([]Subscription, error) {
	var subs []Subscription
	seen := map[string]bool{}
	token := ""
	for range 100 { // 1,000 a page: X's largest plans allow 150,000
		q := "max_results=1000"
		if token != "" {
			q += "&pagination_token=" + url.QueryEscape(token)
		}
		var ans struct {
			Data   []activitySubscription `json:"data"`
			Meta   v2Meta                 `json:"meta"`
			Errors []json.RawMessage      `json:"errors"`
		}
		ex, err := a.v2.do(ctx, EndpointSubscriptions, a.v2.base.New().Get("activity/subscriptions?"+q), &ans)
		if err != nil {
			return nil, refusal(opSubscriptions, err)
		}
		if ans.Data == nil && len(ans.Errors) > 0 {
			return nil, &RefusedError{Op: opSubscriptions, Err: partialError(EndpointSubscriptions, ex.status, ex.body)}
		}
		before := len(subs)
		for _, s := range ans.Data {
			if s.ID == "" || seen[s.ID] {
				continue
			}
			seen[s.ID] = true
			subs = append(subs, s.subscription())
		}
		if ans.Meta.NextToken == "" || ans.Meta.NextToken == token || len(subs) == before {
			break
		}
		token = ans.Meta.NextToken
	}
	return subs, nil
}

// Subscribe makes sure the app has a subscription to each event type for
// userID (the account): it lists the subscriptions, reuses every one that
// matches (whatever its tag) and creates the missing ones with
// SubscriptionTag, so a restart never makes a duplicate. It never deletes
// one: they stay in place when tweetpi stops.
//
// It returns the subscriptions in use, in the order of eventTypes. A
// refusal of one type (a *RefusedError) does not stop the others: the
// error is the first refusal, and the subscriptions are those that exist.
// Any other failure stops it.
func (a *Activity) Subscribe(ctx context.Context, userID string, eventTypes ...string) ([]Subscription, error) {
	have, err := a.Subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	var subs []Subscription
	var refused error
	for _, typ := range eventTypes {
		i := slices.IndexFunc(have, func(s Subscription) bool { return s.EventType == typ && s.UserID == userID })
		if i >= 0 {
			subs = append(subs, have[i])
			continue
		}
		s, err := a.createSubscription(ctx, typ, userID)
		if err != nil && duplicate(err) {
			// It exists after all (the list missed it): list again, reuse it.
			if have, err = a.Subscriptions(ctx); err != nil {
				return subs, err
			}
			if i := slices.IndexFunc(have, func(s Subscription) bool { return s.EventType == typ && s.UserID == userID }); i >= 0 {
				subs = append(subs, have[i])
				continue
			}
			err = &RefusedError{Op: opSubscribe(typ), Err: errors.New("it exists, X says, but X does not list it")}
		}
		if err != nil {
			var re *RefusedError
			if !errors.As(err, &re) {
				return subs, err
			}
			if refused == nil {
				refused = err
			}
			continue
		}
		subs = append(subs, s)
	}
	return subs, refused
}

// duplicate is whether X refused a subscription because it exists (X does
// not document its answer: a 409, a "duplicate" or "exists" in its words).
func duplicate(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	words := strings.ToLower(ae.Title + " " + ae.Detail)
	return ae.Status == http.StatusConflict || ae.Kind == KindDuplicate ||
		strings.Contains(words, "duplicate") || strings.Contains(words, "already exists") || strings.Contains(words, "exists already")
}

// createSubscription is POST /2/activity/subscriptions.
func (a *Activity) createSubscription(ctx context.Context, eventType, userID string) (Subscription, error) {
	body := struct {
		EventType string `json:"event_type"`
		Filter    struct {
			UserID string `json:"user_id"`
		} `json:"filter"`
		Tag string `json:"tag"`
	}{EventType: eventType, Tag: SubscriptionTag}
	body.Filter.UserID = userID
	var ans struct {
		Data   json.RawMessage   `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	op := opSubscribe(eventType)
	ex, err := a.v2.do(ctx, EndpointSubscribe, a.v2.base.New().Post("activity/subscriptions").BodyJSON(body), &ans)
	if err != nil {
		if err := refusal(op, err); errors.As(err, new(*RefusedError)) {
			return Subscription{}, err
		}
		return Subscription{}, fmt.Errorf("subscribe to %s: %w", eventType, err)
	}
	s, ok := createdSubscription(ans.Data)
	if !ok {
		if len(ans.Errors) > 0 {
			return Subscription{}, &RefusedError{Op: op, Err: partialError(EndpointSubscribe, ex.status, ex.body)}
		}
		return Subscription{}, fmt.Errorf("subscribe to %s: %w", eventType, &APIError{Kind: KindTransient, Endpoint: EndpointSubscribe,
			Status: ex.status, Title: "malformed answer", Detail: "no subscription_id"})
	}
	s.New = true
	if s.EventType == "" {
		s.EventType = eventType
	}
	if s.UserID == "" {
		s.UserID = userID
	}
	if s.Tag == "" {
		s.Tag = SubscriptionTag
	}
	return s, nil
}

// createdSubscription reads the "data" of a create answer. X's pages show
// three shapes: the OpenAPI spec's {"subscription":{...}}, the quickstart's
// subscription itself, and a list of one.
func createdSubscription(data json.RawMessage) (Subscription, bool) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Subscription{}, false
	}
	var one activitySubscription
	if data[0] == '[' {
		var list []activitySubscription
		if json.Unmarshal(data, &list) != nil || len(list) == 0 {
			return Subscription{}, false
		}
		one = list[0]
	} else {
		var wrap struct {
			Subscription *activitySubscription `json:"subscription"`
			activitySubscription
		}
		if json.Unmarshal(data, &wrap) != nil {
			return Subscription{}, false
		}
		one = wrap.activitySubscription
		if wrap.Subscription != nil {
			one = *wrap.Subscription
		}
	}
	if one.ID == "" {
		return Subscription{}, false
	}
	return one.subscription(), true
}

// StreamCheck is what CheckStream found out about the stream for an
// account, without changing anything.
type StreamCheck struct {
	Subscriptions []Subscription // the app's subscriptions to the wanted types for the account
	Missing       []string       // wanted types with none: the daemon creates them at start
	// Err is why the keys do not get the stream: a *RefusedError (X's
	// words; its Fix says what to do), or a failure worth retrying.
	Err error
}

// CheckStream asks X whether these keys get the stream for userID: it
// fetches the app token and lists the subscriptions. It creates nothing and
// does not connect (a second connection would push a running daemon's
// stream over the app's connection limit).
func (a *Activity) CheckStream(ctx context.Context, userID string, eventTypes ...string) StreamCheck {
	if _, err := a.AppToken(ctx); err != nil {
		return StreamCheck{Err: err}
	}
	all, err := a.Subscriptions(ctx)
	if err != nil {
		return StreamCheck{Err: err}
	}
	var c StreamCheck
	for _, typ := range eventTypes {
		i := slices.IndexFunc(all, func(s Subscription) bool { return s.EventType == typ && s.UserID == userID })
		if i < 0 {
			c.Missing = append(c.Missing, typ)
			continue
		}
		c.Subscriptions = append(c.Subscriptions, all[i])
	}
	return c
}
