package twitter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event is one delivery of the Activity stream that tweetpi reads: a
// mention, a reply or a DM, decoded into the same Post and DM the polls
// return, so it goes through the same checks. The same post can come as
// both EventMention and EventReply, and again from a poll: the post or DM
// id is what dedupes, not UUID.
type Event struct {
	UUID   string // event_uuid: X's id of this delivery
	Type   string // EventMention, EventReply or EventDM
	UserID string // the subscription's filter.user_id: the account
	Tag    string // the subscription's tag
	Post   *Post  // for EventMention and EventReply
	DM     *DM    // for EventDM
}

// ID is the post id or the DM event id.
func (e Event) ID() string {
	switch {
	case e.Post != nil:
		return e.Post.ID
	case e.DM != nil:
		return e.DM.ID
	}
	return ""
}

// lineKind is what one line of the stream is.
type lineKind int

const (
	lineKeepAlive  lineKind = iota // an empty line: X's keep-alive
	lineEvents                     // events tweetpi reads
	lineDisconnect                 // X ends the stream (operational-disconnect): reconnect at once
	lineOther                      // anything else: another event type, an error, not JSON
)

// The JSON of a stream line. X's event payloads page puts "includes" inside
// "data"; the design notes show it beside "data": both are read.
type (
	streamLine struct {
		Data     *streamData     `json:"data"`
		Includes *streamIncludes `json:"includes"`
		Errors   []streamProblem `json:"errors"`
		streamProblem
	}
	streamData struct {
		EventUUID flexString `json:"event_uuid"`
		EventType string     `json:"event_type"`
		Filter    struct {
			UserID string `json:"user_id"`
		} `json:"filter"`
		Tag      string          `json:"tag"`
		Payload  streamPayload   `json:"payload"`
		Includes *streamIncludes `json:"includes"`
	}
	// streamPayload holds the fields of both payloads tweetpi reads: a v2
	// Post, and {"direct_message_events":[v1.1 message_create events]}.
	streamPayload struct {
		ID             string          `json:"id"`
		Text           string          `json:"text"`
		AuthorID       string          `json:"author_id"`
		CreatedAt      string          `json:"created_at"`
		ConversationID string          `json:"conversation_id"`
		EditHistory    []string        `json:"edit_history_tweet_ids"`
		DMEvents       []streamDMEvent `json:"direct_message_events"`
	}
	streamDMEvent struct {
		Type             string `json:"type"`
		ID               string `json:"id"`
		CreatedTimestamp string `json:"created_timestamp"`
		MessageCreate    *struct {
			Target struct {
				RecipientID string `json:"recipient_id"`
			} `json:"target"`
			SenderID    string `json:"sender_id"`
			MessageData struct {
				Text string `json:"text"`
			} `json:"message_data"`
		} `json:"message_create"`
	}
	streamIncludes struct {
		Users []struct {
			ID       string  `json:"id"`
			Username string  `json:"username"`
			Data     *v2User `json:"data"` // post.delete's includes wrap each user
		} `json:"users"`
	}
	// streamProblem is an error X writes on the stream or answers at
	// connect: problem JSON, with the streaming extras.
	streamProblem struct {
		Title           string `json:"title"`
		Detail          string `json:"detail"`
		Type            string `json:"type"`
		DisconnectType  string `json:"disconnect_type"`
		ConnectionIssue string `json:"connection_issue"`
	}
)

// flexString is a JSON string or number, as a string: the event_uuid
// (X's schema says a string of digits; its examples show negative ones).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 1 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		*f = flexString(b[1 : len(b)-1]) // no escapes: the common case, without a second decoder
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	if _, err := strconv.ParseFloat(string(b), 64); err != nil {
		return fmt.Errorf("event_uuid %.20s: not a string or number", b)
	}
	*f = flexString(b)
	return nil
}

func (p streamProblem) words() string {
	w := p.Title
	if p.Detail != "" && p.Detail != p.Title {
		if w != "" {
			w += ": "
		}
		w += p.Detail
	}
	if w == "" {
		w = p.Type
	}
	return w
}

func (p streamProblem) disconnect() bool {
	return p.DisconnectType != "" || p.Title == "operational-disconnect" || strings.HasSuffix(p.Type, "/operational-disconnect")
}

func (p streamProblem) tooManyConnections() bool {
	return strings.EqualFold(p.ConnectionIssue, "TooManyConnections")
}

// ends returns the problem of a line that ends the stream: an
// operational-disconnect, or TooManyConnections.
func (l *streamLine) ends() (streamProblem, bool) {
	for _, p := range l.Errors {
		if p.disconnect() || p.tooManyConnections() {
			return p, true
		}
	}
	p := l.streamProblem
	return p, p.disconnect() || p.tooManyConnections()
}

// errDisconnect is an operational-disconnect message.
type errDisconnect struct{ words string }

func (e errDisconnect) Error() string { return "X ended the stream: " + e.words }

// decodeLine reads one line of the stream (without its line end) and
// appends the events it holds to dst. For lineDisconnect the error is an
// errDisconnect; for lineOther it says why the line is not an event.
func decodeLine(line []byte, dst []Event) ([]Event, lineKind, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return dst, lineKeepAlive, nil
	}
	var l streamLine
	if err := json.Unmarshal(line, &l); err != nil {
		return dst, lineOther, fmt.Errorf("not JSON: %w", err)
	}
	if p, ok := l.ends(); ok {
		return dst, lineDisconnect, errDisconnect{p.words()}
	}
	d := l.Data
	if d == nil {
		if len(l.Errors) > 0 {
			return dst, lineOther, fmt.Errorf("an error on the stream: %s", l.Errors[0].words())
		}
		return dst, lineOther, errors.New("no data")
	}
	inc := d.Includes
	if inc == nil {
		inc = l.Includes
	}
	base := Event{UUID: string(d.EventUUID), Type: d.EventType, UserID: d.Filter.UserID, Tag: d.Tag}
	switch d.EventType {
	case EventMention, EventReply:
		p := d.Payload
		if p.ID == "" {
			return dst, lineOther, fmt.Errorf("%s event %s: a post without id", d.EventType, base.UUID)
		}
		post := &Post{
			ID:             p.ID,
			AuthorID:       p.AuthorID,
			AuthorUsername: inc.username(p.AuthorID),
			Text:           p.Text,
			CreatedAt:      parseV2Time(p.CreatedAt),
			ConversationID: p.ConversationID,
			EditOf:         earlierVersions(p.ID, p.EditHistory),
		}
		base.Post = post
		return append(dst, base), lineEvents, nil
	case EventDM:
		n := len(dst)
		for _, m := range d.Payload.DMEvents {
			if m.ID == "" || m.Type != "message_create" || m.MessageCreate == nil {
				continue
			}
			mc := m.MessageCreate
			dm := &DM{
				ID:             m.ID,
				SenderID:       mc.SenderID,
				Text:           decodeEntities(mc.MessageData.Text),
				ConversationID: conversationID(mc.SenderID, mc.Target.RecipientID),
			}
			if ms, err := strconv.ParseInt(m.CreatedTimestamp, 10, 64); err == nil {
				dm.CreatedAt = time.UnixMilli(ms).UTC()
			}
			e := base
			e.DM = dm
			dst = append(dst, e)
		}
		if len(dst) == n {
			return dst, lineOther, fmt.Errorf("%s event %s: no message_create with an id", d.EventType, base.UUID)
		}
		return dst, lineEvents, nil
	}
	return dst, lineOther, fmt.Errorf("event type %.40q is not one tweetpi reads", d.EventType)
}

// username is the handle of user id in the includes, or "".
func (inc *streamIncludes) username(id string) string {
	if inc == nil || id == "" {
		return ""
	}
	for _, u := range inc.Users {
		if u.Data != nil && u.Data.ID == id {
			return u.Data.Username
		}
		if u.ID == id {
			return u.Username
		}
	}
	return ""
}
