// Package twitter is the X API client: two clients implement Client, V2
// (the default, over sling) and V11 (over go-twitter); both sign every
// request with OAuth 1.0a through the http.Client that oauth1 builds, so
// the API code never sees a secret. It tracks the rate limits each answer
// reports, turns a non-2xx answer into an *APIError whose Kind a caller
// branches on and whose Fix says what the user can do, runs the PIN flow
// that gets an account's access token (PINFlow), and knows the access
// token's public part (KeyID).
//
// It knows nothing of commands or state: the bot (twitter/bot) imports it,
// never the reverse, and it never imports the device package.
package twitter

import (
	"context"
	"time"
)

// User is an account.
type User struct {
	ID       string // numeric id, as a string
	Username string // handle without the @
}

// Post is a mention of the account.
type Post struct {
	ID             string
	AuthorID       string
	AuthorUsername string // without @; "" on v2, which is not asked for it (X bills each expanded user)
	Text           string // full text, HTML entities decoded
	CreatedAt      time.Time
	ConversationID string
	// EditOf are the ids of the post's earlier versions, oldest first, when
	// it is an edit (X gives an edit a new id; v2's edit_history_tweet_ids
	// name every version); empty for a post never edited, and on v1.1.
	EditOf []string
}

// DM is one direct message event (a MessageCreate).
type DM struct {
	ID             string
	SenderID       string
	Text           string
	CreatedAt      time.Time
	ConversationID string
}

// MentionsParams selects mentions.
type MentionsParams struct {
	SinceID    string // only posts newer than this id; "" for the newest
	MaxResults int    // per page (v2: 5-100; v1.1: count up to 200); 0 for the client's default
	MaxPages   int    // 0: every page; 1: the newest page only
}

// DMParams selects direct message events. The API has no since_id for DMs:
// the caller dedupes by event id.
type DMParams struct {
	MaxResults int // per page; 0 for the client's default
	MaxPages   int // 0: every page
	// Seen, when set, stops paging after a page that holds an event it
	// reports as seen (older pages were handled before).
	Seen func(id string) bool
	// Sizes, when set, are the sizes of the first pages (each within the
	// API's bounds), MaxResults the size of the pages after them. X bills
	// every event a page returns: {2, 8, 32} reads a few new events and
	// the seen one they stop at in one small page, and a burst in a few.
	Sizes []int
}

// pageSize is the size of page i (from 0) of p, within lo and hi.
func (p DMParams) pageSize(i, lo, hi int) int {
	if i < len(p.Sizes) {
		return clamp(p.Sizes[i], lo, hi, hi)
	}
	return clamp(p.MaxResults, lo, hi, hi)
}

// Logical endpoints, the keys of RateLimits whatever the API version.
const (
	EndpointMe         = "users/me"
	EndpointUserByName = "users/by/username"
	EndpointMentions   = "mentions"
	EndpointDMEvents   = "dm_events"
	EndpointPost       = "post"
	EndpointSendDM     = "send_dm"
)

// RateLimit is what the headers of the last answer from one endpoint said.
type RateLimit struct {
	Limit     int       // x-rate-limit-limit; 0 when not sent
	Remaining int       // x-rate-limit-remaining
	Reset     time.Time // x-rate-limit-reset
	// The 24-hour user limits (x-user-limit-24hour-*), where sent.
	DayLimit     int
	DayRemaining int
	DayReset     time.Time
	Seen         time.Time // local time the answer arrived
}

// Client is what the bot and `tweetpi verify` need from an API version.
// Every call takes ctx first and has a timeout of its own.
type Client interface {
	// Version is "v2" or "v1.1".
	Version() string
	// Me is the account the keys belong to.
	Me(ctx context.Context) (User, error)
	// UserByUsername resolves a handle (with or without @).
	UserByUsername(ctx context.Context, username string) (User, error)
	// Mentions of userID, every page up to p.MaxPages, oldest first.
	Mentions(ctx context.Context, userID string, p MentionsParams) ([]Post, error)
	// DirectMessages received and sent, oldest first.
	DirectMessages(ctx context.Context, p DMParams) ([]DM, error)
	// Reply posts text as a threaded reply to post id and returns the new post's id.
	Reply(ctx context.Context, inReplyTo, text string) (string, error)
	// SendDM sends text to a user and returns the event id.
	SendDM(ctx context.Context, toUserID, text string) (string, error)
	// RateLimits is the latest state of every endpoint seen, by Endpoint* key.
	RateLimits() map[string]RateLimit
	// ServerDate is the Date header of the latest answer (zero before any).
	ServerDate() time.Time
}

// Credentials are the four OAuth 1.0a keys.
type Credentials struct {
	ConsumerKey, ConsumerSecret, AccessToken, AccessTokenSecret string
}
