package twitter

// X's pay-per-use plan bills each resource an answer returns (a post, a
// user, a DM event), deduplicated per UTC day, and each write; an answer
// with no data is free. The charges below name what is billed; the bot's
// price table (twitter/bot) gives each one its price.
const (
	// ChargeOwnedRead: a post read from the app owner's own data (the
	// account's mentions, read by a poll).
	ChargeOwnedRead = "owned_read"
	// ChargePostRead: any other post read, such as a mention the Activity
	// stream delivers.
	ChargePostRead = "post_read"
	// ChargeUserRead: a user returned (users/me, a handle looked up, and
	// each user an expansion adds to an answer).
	ChargeUserRead = "user_read"
	// ChargeDMRead: a DM event returned (dm_events, or dm.received on the
	// stream); the account's own sent DMs count too.
	ChargeDMRead = "dm_read"
	// ChargeReply: a reply to a post that mentioned the account (X's
	// "summoned reply").
	ChargeReply = "reply"
	// ChargePost: a post that answers nothing.
	ChargePost = "post"
	// ChargeDMSend: a DM sent.
	ChargeDMSend = "dm_send"
)

// Charges are every charge, in the order the price table lists them.
var Charges = []string{ChargeOwnedRead, ChargePostRead, ChargeUserRead, ChargeDMRead, ChargeReply, ChargePost, ChargeDMSend}

// Item is one thing X bills: a charge and the id of the resource read or
// written (a post, user or DM event id).
type Item struct {
	Charge string
	ID     string
}

// Meter is told of every request a client makes and of what each answer
// returned, so that its owner can count requests and estimate what X
// bills. Options.Meter takes one; nil counts nothing. The client calls it
// on the request's goroutine: its methods must be quick and safe for
// concurrent use, and must not call the client.
type Meter interface {
	// Request: one request to endpoint ep (Endpoint* names) ended with
	// the HTTP status of its answer; 0 when no answer came (a network
	// failure or a timeout; not the caller's own cancellation).
	Request(ep string, status int)
	// Billed: an answer of ep returned these resources, or a write made
	// them. It is not called for answers without data.
	Billed(ep string, items []Item)
}

// bill tells the meter what an answer returned.
func (c *conn) bill(ep string, items []Item) {
	if c.meter != nil && len(items) > 0 {
		c.meter.Billed(ep, items)
	}
}

// items makes the items of one charge from ids, skipping empty ones.
func items(charge string, ids ...string) []Item {
	out := make([]Item, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, Item{Charge: charge, ID: id})
		}
	}
	return out
}
