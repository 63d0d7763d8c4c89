package twitter

import (
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/dghubble/sling"
)

// Logical endpoints of the X Activity API, the keys of RateLimits.
const (
	EndpointAppToken      = "oauth2/token"           // POST /oauth2/token (HTTP Basic)
	EndpointSubscriptions = "activity/subscriptions" // GET /2/activity/subscriptions (OAuth 1.0a)
	EndpointSubscribe     = "activity/subscribe"     // POST /2/activity/subscriptions (OAuth 1.0a)
	EndpointStream        = "activity/stream"        // GET /2/activity/stream (bearer)
	EndpointConnections   = "connections/all"        // DELETE /2/connections/all (bearer)
)

// The Activity API event types tweetpi reads.
const (
	EventMention = "post.mention.create" // another user @mentions the account
	EventReply   = "post.reply.create"   // another user replies to a post of the account
	EventDM      = "dm.received"         // the account receives an unencrypted DM
)

// SubscriptionTag is the tag of the subscriptions tweetpi makes; X puts it
// on every event a subscription delivers.
const SubscriptionTag = "tweetpi"

// EventTypes are the event types to subscribe to for the inboxes listened
// to: mentions come as EventMention and EventReply (X sends no mention event
// for the implicit @handle of a reply), DMs as EventDM.
func EventTypes(mentions, dms bool) []string {
	var ts []string
	if mentions {
		ts = append(ts, EventMention, EventReply)
	}
	if dms {
		ts = append(ts, EventDM)
	}
	return ts
}

// Activity is the client of the X Activity API (XAA): the app bearer token,
// the subscriptions and the stream that delivers the account's mentions,
// replies and DMs as they happen. It uses the same Options as the polling
// clients, whatever their API version: XAA lives under /2/ only.
//
// The subscriptions are signed with the four keys (OAuth 1.0a user
// context, through the same oauth1 signer as the polls); the stream and the
// connections endpoint carry the bearer token, which only the consumer key
// and secret fetch. Safe for concurrent use.
type Activity struct {
	v2    *V2               // the signed calls, through the v2 client's request code
	c     *conn             // its signer, timeout, user agent and rate limits
	app   http.RoundTripper // unsigned requests: the token, the stream, connections
	root  string            // the base URL, without a trailing /
	basic Token             // "Basic ..." of the consumer key and secret

	tokMu sync.Mutex
	tok   Token
}

// NewActivity returns the Activity API client. It sends nothing until called.
func NewActivity(opt Options) (*Activity, error) {
	c, err := newConn(opt)
	if err != nil {
		return nil, err
	}
	rt := opt.Transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	base := sling.New().Base(c.base.String() + "/2/")
	if c.userAgent != "" {
		base.Set("User-Agent", c.userAgent)
	}
	return &Activity{
		v2:    &V2{c: c, base: base},
		c:     c,
		app:   rt,
		root:  c.base.String(),
		basic: basicCredentials(opt.Credentials.ConsumerKey, opt.Credentials.ConsumerSecret),
	}, nil
}

// RateLimits is the latest state of every Activity API endpoint seen.
func (a *Activity) RateLimits() map[string]RateLimit { return a.c.limits.snapshot() }

// RefusedError is X refusing the Activity API to these keys: the token, a
// subscription or the stream answered 401, 403, 404 or another 4xx with
// X's problem JSON. Waiting does not change it; Fix says what does. The
// polls may still work: X grants the stream separately.
type RefusedError struct {
	Op  string // what was refused: "the app token", "the list of subscriptions", "a subscription to dm.received", "the stream"
	Err error  // the *APIError with X's words
}

// What a RefusedError's Op names.
const (
	opToken         = "the app token"
	opSubscriptions = "the list of subscriptions"
	opStream        = "the stream"
)

func (e *RefusedError) Error() string {
	return "the X Activity API refused " + e.Op + ": " + e.Err.Error()
}

func (e *RefusedError) Unwrap() error { return e.Err }

// Fix says what to change so that X grants the stream.
func (e *RefusedError) Fix() string {
	var ae *APIError
	errors.As(e.Err, &ae)
	const orPoll = "; or set twitter.delivery: poll in the config to poll only"
	if ae == nil {
		return Fix(e.Err) + orPoll
	}
	words := strings.ToLower(ae.Title + " " + ae.Detail)
	switch {
	case e.Op == opToken && (ae.Code == 99 || ae.Kind == KindForbidden || ae.Kind == KindUnauthorized):
		return "the consumer key and secret in the config must be the app's API key and secret (the developer portal's \"Keys and tokens\" page); " +
			"if they were regenerated, put the new ones in the config" + orPoll
	case e.Op == opStream && ae.Kind == KindUnauthorized:
		return "X refused the app's bearer token twice: regenerate the bearer token in the developer portal (\"Keys and tokens\"), " +
			"which invalidates the old one, and check the consumer key and secret" + orPoll
	case ae.Kind == KindUnauthorized:
		return Fix(e.Err) + orPoll
	case strings.Contains(words, "enrolled") || strings.Contains(words, "attached to a project"):
		return Fix(e.Err) + orPoll
	case strings.Contains(words, "scope") || strings.Contains(words, "authoriz") || strings.Contains(words, "permission"):
		return "the account must have authorized the app with the permissions \"Read and write and Direct messages\" (DM events need them): " +
			"in the developer portal set them under User authentication settings, then regenerate the access token and secret (or run tweetpi auth)" + orPoll
	}
	return "the X Activity API must be open to the app: in the developer portal the app must sit inside a Project on a plan that includes " +
		"the X Activity API (self-serve pay-per-use does), with user authentication (OAuth 1.0a) set to \"Read and write and Direct messages\"" + orPoll
}

// refusal wraps err in a *RefusedError when it is a refusal: an *APIError
// that waiting does not fix (not transient, not rate limited).
func refusal(op string, err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Kind {
	case KindTransient, KindRateLimited, KindNoCredits, KindUsageCapped:
		// Waiting (or a top-up) fixes these: not a refusal of the stream.
		return err
	}
	return &RefusedError{Op: op, Err: err}
}

// opSubscribe names an event type's subscription for RefusedError.Op.
func opSubscribe(eventType string) string { return "a subscription to " + eventType }
