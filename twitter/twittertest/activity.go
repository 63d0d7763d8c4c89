package twittertest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// The X Activity API, as X documents it: POST /oauth2/token (HTTP Basic
// with the consumer key and secret), the subscriptions (OAuth 1.0a signed,
// stored in the server), GET /2/activity/stream (the bearer token;
// newline-delimited JSON events, keep-alives) and DELETE
// /2/connections/all. A post or DM made in the server by any of its ways
// (Post, ReplyTo, SendDM, either API version) is written to every
// connected stream that a subscription matches, as X would.

// activity is the Activity API state of a Server, guarded by its mu.
type activity struct {
	appToken  string // the bearer token /oauth2/token issues
	subs      []*subscription
	nextSub   int64
	streams   map[*streamConn]bool
	stale     int // connections X still counts for the app (AddStaleConnections)
	lose      int // events the streams miss (LoseStreamEvents)
	limit     int
	keepAlive time.Duration
	done      chan struct{} // closed by Close: every stream ends
}

func newActivity(opt Options) activity {
	a := activity{
		appToken:  newAppToken(),
		nextSub:   1_970_000_000_000_000_000,
		streams:   map[*streamConn]bool{},
		limit:     opt.StreamLimit,
		keepAlive: opt.KeepAlive,
		done:      make(chan struct{}),
	}
	if a.limit <= 0 {
		a.limit = 1
	}
	if a.keepAlive <= 0 {
		a.keepAlive = 20 * time.Second
	}
	return a
}

// newAppToken makes a bearer token shaped like X's: URL-encoded base64
// with %2B and %3D in it, which a client must send as is.
func newAppToken() string {
	return "AAAAAAAAAAAAAAAAAAAAA" + randomString(10) + "%2B" + randomString(20) + "%3D" + randomString(50)
}

type subscription struct {
	id, eventType, userID, tag string
	created                    time.Time
}

// Subscription is one Activity API subscription the app holds.
type Subscription struct {
	ID, EventType, UserID, Tag string
	CreatedAt                  time.Time
}

// streamConn is one connected Activity stream.
type streamConn struct {
	uuid    string
	lines   chan []byte
	end     chan endKind
	stalled bool // guarded by Server.mu
}

// endKind is how a stream connection is made to end (or stall).
type endKind int

const (
	endDrop       endKind = iota + 1 // close the connection without a word
	endStall                         // send nothing more, keep it open
	endDisconnect                    // X's operational-disconnect message, then the end
	endClose                         // end the answer (the server closes, DELETE /2/connections/all)
)

// AppToken is the bearer token the server issues for the app. X answers
// the same one until it is invalidated.
func (s *Server) AppToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appToken
}

// InvalidateAppToken makes a new bearer token: the old one is refused
// (401) from now on, and /oauth2/token answers the new one.
func (s *Server) InvalidateAppToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appToken = newAppToken()
}

// Subscriptions are the app's Activity API subscriptions, oldest first.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		out = append(out, Subscription{ID: sub.id, EventType: sub.eventType, UserID: sub.userID, Tag: sub.tag, CreatedAt: sub.created})
	}
	return out
}

// StreamConnections is how many Activity streams are connected now (stale
// connections not counted).
func (s *Server) StreamConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// DropStreams closes every connected stream's connection without a word
// (a network failure) and returns how many there were.
func (s *Server) DropStreams() int { return s.endAll(endDrop) }

// StallStreams makes every connected stream go silent, keep-alives
// included, with the connection left open: the client must notice. What
// is posted meanwhile is not written to them. It returns how many.
func (s *Server) StallStreams() int { return s.endAll(endStall) }

// DisconnectStreams writes X's operational-disconnect message to every
// connected stream and ends it; it returns how many.
func (s *Server) DisconnectStreams() int { return s.endAll(endDisconnect) }

// AddStaleConnections makes X count n more connections of the app (like
// those of a process killed without closing them): with the StreamLimit
// reached, a new connection is refused with TooManyConnections until
// DELETE /2/connections/all clears them.
func (s *Server) AddStaleConnections(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stale += n
}

// LoseStreamEvents makes the streams miss the next n events while they
// stay connected, keep-alives and all: X's delivery is best effort, and
// only a poll finds what it lost.
func (s *Server) LoseStreamEvents(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose += n
}

func (s *Server) endAll(k endKind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endStreams(k)
}

// endStreams ends (or stalls) every connected stream; call with s.mu held.
// endClose also ends those that connect later: the server is closing.
func (s *Server) endStreams(k endKind) int {
	n := 0
	for c := range s.streams {
		if c.stalled && k == endStall {
			continue
		}
		n++
		if k == endStall {
			c.stalled = true
		} else {
			delete(s.streams, c) // no longer counted, as soon as it is told to end
		}
		select {
		case c.end <- k:
		default: // it is ending already
		}
	}
	if k == endClose {
		select {
		case <-s.done:
		default:
			close(s.done)
		}
	}
	return n
}

// ReplyTo makes author reply to post inReplyTo with text, age ago. Like a
// reply in X's app, text should start with the @handles of the thread.
func (s *Server) ReplyTo(author twitter.User, inReplyTo, text string, age time.Duration) twitter.Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.addPost(author.ID, text, s.clock().Add(-age), inReplyTo)
	return s.postOf(p)
}

// tokenRefused is X's answer to /oauth2/token with wrong credentials or an
// invalid request.
func tokenRefused() answer {
	return answer{status: http.StatusForbidden, body: map[string]any{"errors": []any{map[string]any{
		"code": 99, "label": "authenticity_token_error", "message": "Unable to verify your credentials",
	}}}}
}

// basicOK checks the HTTP Basic credentials of /oauth2/token: base64 of the
// URL-encoded consumer key and secret joined by ":". Call with s.mu held.
func (s *Server) basicOK(r *http.Request, body []byte) bool {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return false
	}
	k, v, ok := strings.Cut(string(raw), ":")
	if !ok {
		return false
	}
	key, err1 := url.QueryUnescape(k)
	secret, err2 := url.QueryUnescape(v)
	return err1 == nil && err2 == nil && key == s.consumer.ConsumerKey && secret == s.consumer.ConsumerSecret
}

// bearerOK checks the bearer token of the stream and the connections
// endpoint. Call with s.mu held.
func (s *Server) bearerOK(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && tok == s.appToken
}

func (s *Server) issueToken(r *http.Request, body []byte, _ time.Time) answer {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	form, err := url.ParseQuery(string(body))
	if mt != "application/x-www-form-urlencoded" || err != nil || form.Get("grant_type") != "client_credentials" {
		return tokenRefused()
	}
	return answer{status: http.StatusOK, body: map[string]any{"token_type": "bearer", "access_token": s.appToken}}
}

// knownEventType is whether the create endpoint's schema lists t.
func knownEventType(t string) bool {
	switch t {
	case "profile.update.bio", "profile.update.profile_picture", "profile.update.banner_picture",
		"profile.update.screenname", "profile.update.geo", "profile.update.url",
		"profile.update.verified_badge", "profile.update.affiliate_badge", "profile.update.handle",
		"news.new", "follow.follow", "follow.unfollow", "spaces.start", "spaces.end",
		"broadcast.start", "broadcast.end", "broadcast.chat",
		"chat.received", "chat.sent", "chat.conversation.join",
		"dm.sent", "dm.received", "dm.indicate_typing", "dm.read",
		"post.create", "post.delete", "post.mention.create", "post.reply.create",
		"post.quote.create", "post.repost.create", "like.create",
		"mute.mute", "mute.unmute", "block.block", "block.unblock":
		return true
	}
	return false
}

// private is whether X lets an app subscribe to eventType only for a user
// who authorized it (the user whose token signed the request).
func private(eventType string) bool {
	switch {
	case strings.HasPrefix(eventType, "dm."), strings.HasPrefix(eventType, "chat."), strings.HasPrefix(eventType, "like."),
		strings.HasPrefix(eventType, "mute."), strings.HasPrefix(eventType, "block."), eventType == "broadcast.chat":
		return true
	case strings.HasPrefix(eventType, "post.") && eventType != "post.create" && eventType != "post.delete":
		return true
	}
	return false
}

func subscriptionJSON(sub *subscription) map[string]any {
	m := map[string]any{
		"subscription_id": sub.id, "event_type": sub.eventType, "filter": map[string]any{"user_id": sub.userID},
		"created_at": sub.created.UTC().Format(v2Time), "updated_at": sub.created.UTC().Format(v2Time),
	}
	if sub.tag != "" {
		m["tag"] = sub.tag
	}
	return m
}

func (s *Server) listSubscriptions(r *http.Request, _ []byte, _ time.Time) answer {
	q := r.URL.Query()
	n, from, bad := page(q, 1, 1000, 100)
	if bad != "" {
		return invalidRequest(bad)
	}
	meta := map[string]any{"total_subscriptions": len(s.subs)}
	var data []any
	for i, sub := range s.subs {
		if from != 0 && int64(i) < from-1 {
			continue
		}
		if len(data) == n {
			meta["next_token"] = nextToken(int64(i + 1))
			break
		}
		data = append(data, subscriptionJSON(sub))
	}
	if len(data) == 0 {
		return answer{status: http.StatusOK, body: map[string]any{"meta": meta}}
	}
	return answer{status: http.StatusOK, body: map[string]any{"data": data, "meta": meta}}
}

func (s *Server) createSubscription(r *http.Request, body []byte, now time.Time) answer {
	var in struct {
		EventType string `json:"event_type"`
		Filter    *struct {
			UserID string `json:"user_id"`
		} `json:"filter"`
		Tag       string `json:"tag"`
		WebhookID string `json:"webhook_id"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields() // the schema has additionalProperties: false
	if err := dec.Decode(&in); err != nil {
		return invalidRequest("The request body is not valid: " + err.Error())
	}
	switch {
	case !knownEventType(in.EventType):
		return invalidRequest(fmt.Sprintf("The `event_type` value [%s] is not one of the supported event types", in.EventType))
	case in.Filter == nil || in.Filter.UserID == "" || strings.Trim(in.Filter.UserID, "0123456789") != "":
		return invalidRequest("The `filter.user_id` field is required and must be a user id")
	case len(in.Tag) > 200:
		return invalidRequest("The `tag` field is longer than 200 characters")
	}
	if private(in.EventType) && in.Filter.UserID != s.account.ID {
		return answer{status: http.StatusForbidden, body: problem(http.StatusForbidden, "Forbidden",
			fmt.Sprintf("%s is a private event: subscriptions are allowed only for a user who authorized the app.", in.EventType))}
	}
	for _, sub := range s.subs {
		if sub.eventType == in.EventType && sub.userID == in.Filter.UserID {
			// What X answers to a duplicate is not documented; the fake
			// refuses it (409) so that a client that makes one is caught.
			return answer{status: http.StatusConflict, body: problem(http.StatusConflict, "Conflict",
				fmt.Sprintf("A subscription to %s for user %s exists already (%s).", sub.eventType, sub.userID, sub.id))}
		}
	}
	s.nextSub++
	sub := &subscription{id: strconv.FormatInt(s.nextSub, 10), eventType: in.EventType, userID: in.Filter.UserID, tag: in.Tag, created: now}
	s.subs = append(s.subs, sub)
	return answer{status: http.StatusOK, body: map[string]any{
		"data": map[string]any{"subscription": subscriptionJSON(sub)},
		"meta": map[string]any{"total_subscriptions": len(s.subs)},
	}}
}

// tooManyConnections is X's refusal of a stream over the connection limit.
func tooManyConnections() answer {
	return answer{status: http.StatusTooManyRequests, body: map[string]any{
		"title": "ConnectionException", "detail": "This stream is currently at the maximum allowed connection limit.",
		"connection_issue": "TooManyConnections", "type": "https://api.x.com/2/problems/streaming-connection",
	}}
}

func (s *Server) stream(r *http.Request, _ []byte, _ time.Time) answer {
	select {
	case <-s.done:
		return answer{status: http.StatusServiceUnavailable, body: problem(http.StatusServiceUnavailable, "Service Unavailable", "The server is closing.")}
	default:
	}
	if len(s.streams)+s.stale >= s.limit {
		return tooManyConnections()
	}
	c := &streamConn{uuid: randomString(32), lines: make(chan []byte, 1024), end: make(chan endKind, 1)}
	s.streams[c] = true
	return answer{status: http.StatusOK, serve: func(w http.ResponseWriter, r *http.Request) { s.serveStream(w, r, c) }}
}

// serveStream writes a connected stream until it ends.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, c *streamConn) {
	defer func() {
		s.mu.Lock()
		delete(s.streams, c)
		s.mu.Unlock()
	}()
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	if !write(nil) {
		return
	}
	s.mu.Lock()
	every := s.keepAlive
	s.mu.Unlock()
	ka := time.NewTicker(every)
	defer ka.Stop()
	stalled := false
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case line := <-c.lines:
			if !stalled && !write(line) {
				return
			}
		case <-ka.C:
			if !stalled && !write([]byte("\r\n")) {
				return
			}
		case k := <-c.end:
			switch k {
			case endStall:
				stalled = true
				ka.Stop()
			case endDrop:
				if hj, ok := w.(http.Hijacker); ok {
					if conn, _, err := hj.Hijack(); err == nil {
						conn.Close()
						return
					}
				}
				panic(http.ErrAbortHandler)
			case endDisconnect:
				b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{
					"title": "operational-disconnect", "disconnect_type": "UpstreamOperationalDisconnect",
					"detail": "This stream has been disconnected upstream for operational reasons.",
					"type":   "https://api.x.com/2/problems/operational-disconnect",
				}}})
				write(append(b, '\r', '\n'))
				return
			default:
				return
			}
		}
	}
}

func (s *Server) deleteConnections(r *http.Request, _ []byte, _ time.Time) answer {
	var results []any
	for c := range s.streams {
		results = append(results, map[string]any{"uuid": c.uuid, "success": true})
		select {
		case c.end <- endClose:
		default:
		}
		delete(s.streams, c)
	}
	for range s.stale {
		results = append(results, map[string]any{"uuid": randomString(32), "success": true})
	}
	s.stale = 0
	return answer{status: http.StatusOK, body: map[string]any{"data": map[string]any{
		"successful_kills": len(results), "failed_kills": 0, "results": results,
	}}}
}

// deliver writes one event line to every connected stream that is not
// stalled, for each subscription to eventType for the account, and counts
// each delivery as a read (X bills delivered events). Call with s.mu held.
func (s *Server) deliver(eventType string, payload, includes map[string]any) {
	if s.lose > 0 {
		s.lose--
		return
	}
	for _, sub := range s.subs {
		if sub.eventType != eventType || sub.userID != s.account.ID {
			continue
		}
		uuid := strconv.FormatInt(randomInt(1<<62)+1, 10)
		data := map[string]any{
			"event_uuid": uuid,
			"filter":     map[string]any{"user_id": sub.userID},
			"event_type": eventType,
			"payload":    payload,
		}
		if sub.tag != "" {
			data["tag"] = sub.tag
		}
		if includes != nil {
			data["includes"] = includes
		}
		b, err := json.Marshal(map[string]any{"data": data})
		if err != nil {
			continue
		}
		b = append(b, '\r', '\n')
		for c := range s.streams {
			if c.stalled {
				continue
			}
			select {
			case c.lines <- b:
				s.reads[twitter.EndpointStream]++
				charge := twitter.ChargePostRead
				if eventType == twitter.EventDM {
					charge = twitter.ChargeDMRead
				}
				s.bill(s.clock(), twitter.Item{Charge: charge, ID: uuid})
			default: // X drops a client that does not keep up
				select {
				case c.end <- endDrop:
				default:
				}
			}
		}
	}
}

// streamPost writes the events of a new post: post.mention.create when it
// mentions the account in its text (the leading @handles of a reply are
// not a mention, as on X), post.reply.create when it replies to a post of
// the account. Posts of the account make none. Call with s.mu held.
func (s *Server) streamPost(p *post) {
	if len(s.subs) == 0 || len(s.streams) == 0 || p.author == s.account.ID {
		return
	}
	body := p.text
	var parent *post
	if p.inReplyTo != "" {
		body = stripLeadingHandles(body)
		parent = s.findPost(p.inReplyTo)
	}
	mention := mentions(body, s.account.Username)
	reply := parent != nil && parent.author == s.account.ID
	if !mention && !reply {
		return
	}
	id := strconv.FormatInt(p.id, 10)
	history := make([]string, 0, len(p.history))
	for _, h := range p.history {
		history = append(history, strconv.FormatInt(h, 10))
	}
	t := map[string]any{
		"id": id, "text": p.text, "author_id": p.author, "created_at": p.created.UTC().Format(v2Time),
		"conversation_id": p.convo, "edit_history_tweet_ids": history, "lang": "en",
		"reply_settings": "everyone", "possibly_sensitive": false,
	}
	if m := mentionEntities(p.text, s.byName, s.users); len(m) > 0 {
		t["entities"] = map[string]any{"mentions": m}
	}
	if parent != nil {
		t["in_reply_to_user_id"] = parent.author
		t["referenced_tweets"] = []any{map[string]any{"type": "replied_to", "id": p.inReplyTo}}
	}
	inc := map[string]any{"users": []any{v2UserJSON(s.users[p.author])}, "tweets": []any{t}}
	if mention {
		s.deliver(twitter.EventMention, t, inc)
	}
	if reply {
		s.deliver(twitter.EventReply, t, inc)
	}
}

// streamDM writes the dm.received event of a DM to the account. Call with
// s.mu held.
func (s *Server) streamDM(e *dmEvent) {
	if len(s.subs) == 0 || len(s.streams) == 0 || e.recipient != s.account.ID || e.sender == s.account.ID {
		return
	}
	users := map[string]any{}
	for _, id := range []string{e.sender, e.recipient} {
		users[id] = map[string]any{"data": v2UserJSON(s.users[id])}
	}
	s.deliver(twitter.EventDM, map[string]any{
		"direct_message_events": []any{s.v11EventJSON(e)},
		"users":                 users,
	}, nil)
}

// stripLeadingHandles drops the @handles a reply starts with.
func stripLeadingHandles(text string) string {
	for {
		t := strings.TrimLeft(text, " ")
		if !strings.HasPrefix(t, "@") {
			return t
		}
		i := 1
		for i < len(t) && isHandleByte(t[i]) {
			i++
		}
		if i == 1 {
			return t
		}
		text = t[i:]
	}
}

// mentionEntities are the entities.mentions of text: each @handle of a
// known user, with its offsets in characters.
func mentionEntities(text string, byName map[string]string, users map[string]twitter.User) []any {
	var out []any
	r := []rune(text)
	for i := 0; i < len(r); i++ {
		if r[i] != '@' || (i > 0 && r[i-1] < 128 && isHandleByte(byte(r[i-1]))) {
			continue
		}
		j := i + 1
		for j < len(r) && r[j] < 128 && isHandleByte(byte(r[j])) {
			j++
		}
		if id, ok := byName[strings.ToLower(string(r[i+1:j]))]; ok && j > i+1 {
			out = append(out, map[string]any{"start": i, "end": j, "username": users[id].Username, "id": id})
		}
		i = j - 1
	}
	return out
}
