package twittertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

const v2Time = "2006-01-02T15:04:05.000Z"

func invalidRequest(msg string) answer {
	return answer{status: http.StatusBadRequest, body: map[string]any{
		"errors": []any{map[string]any{"message": msg}},
		"title":  "Invalid Request", "detail": "One or more parameters to your request was invalid.",
		"type": "https://api.twitter.com/2/problems/invalid-request",
	}}
}

func notFoundPartial(kind, param, value string) answer {
	return answer{status: http.StatusOK, body: map[string]any{"errors": []any{map[string]any{
		"value": value, "detail": fmt.Sprintf("Could not find %s with %s: [%s].", kind, param, value),
		"title": "Not Found Error", "resource_type": kind, "parameter": param, "resource_id": value,
		"type": "https://api.twitter.com/2/problems/resource-not-found",
	}}}}
}

func v2UserJSON(u twitter.User) map[string]any {
	return map[string]any{"id": u.ID, "name": u.Username, "username": u.Username}
}

func (s *Server) v2Me(r *http.Request, _ []byte, _ time.Time) answer {
	return answer{status: http.StatusOK, body: map[string]any{"data": v2UserJSON(s.account)}, billed: charge(twitter.ChargeUserRead, s.account.ID)}
}

func (s *Server) v2UserByName(r *http.Request, _ []byte, _ time.Time) answer {
	name := r.PathValue("username")
	id, ok := s.byName[strings.ToLower(name)]
	if !ok {
		return notFoundPartial("user", "username", name)
	}
	return answer{status: http.StatusOK, body: map[string]any{"data": v2UserJSON(s.users[id])}, billed: charge(twitter.ChargeUserRead, id)}
}

// fields is a comma-separated query parameter as a set.
func fields(q url.Values, key string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Split(q.Get(key), ",") {
		if f = strings.TrimSpace(f); f != "" {
			m[f] = true
		}
	}
	return m
}

// page parses max_results and pagination_token.
func page(q url.Values, lo, hi, def int) (n int, from int64, bad string) {
	n = def
	if v := q.Get("max_results"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < lo || m > hi {
			return 0, 0, fmt.Sprintf("The `max_results` query parameter value [%s] is not between %d and %d", v, lo, hi)
		}
		n = m
	}
	if t := q.Get("pagination_token"); t != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(t, "7140dibd"), 36, 64)
		if err != nil || !strings.HasPrefix(t, "7140dibd") {
			return 0, 0, fmt.Sprintf("The `pagination_token` query parameter value [%s] is not valid", t)
		}
		from = id
	}
	return n, from, ""
}

func nextToken(id int64) string { return "7140dibd" + strconv.FormatInt(id, 36) }

// mentions is whether text holds @handle (any case) as a whole handle.
func mentions(text, handle string) bool {
	t, h := strings.ToLower(text), "@"+strings.ToLower(handle)
	for i := 0; ; {
		j := strings.Index(t[i:], h)
		if j < 0 {
			return false
		}
		end := i + j + len(h)
		if end == len(t) || !isHandleByte(t[end]) {
			if i+j == 0 || !isHandleByte(t[i+j-1]) {
				return true
			}
		}
		i = end
	}
}

func isHandleByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// mentionsOf are the posts that mention user, newest first, at most the
// newest s.mentionsN (X's cap). Call with s.mu held.
func (s *Server) mentionsOf(u twitter.User) []*post {
	var ps []*post
	for i := len(s.posts) - 1; i >= 0 && len(ps) < s.mentionsN; i-- {
		if !s.posts[i].edited && mentions(s.posts[i].text, u.Username) {
			ps = append(ps, s.posts[i])
		}
	}
	return ps
}

func (s *Server) v2Mentions(r *http.Request, _ []byte, _ time.Time) answer {
	id := r.PathValue("id")
	u, ok := s.users[id]
	if !ok {
		return notFoundPartial("user", "id", id)
	}
	q := r.URL.Query()
	n, from, bad := page(q, 5, 100, 10)
	if bad != "" {
		return invalidRequest(bad)
	}
	var since int64
	if v := q.Get("since_id"); v != "" {
		var err error
		if since, err = strconv.ParseInt(v, 10, 64); err != nil {
			return invalidRequest(fmt.Sprintf("The `since_id` query parameter value [%s] is not valid", v))
		}
	}
	var sel []*post
	for _, p := range s.mentionsOf(u) {
		if p.id > since && (from == 0 || p.id <= from) {
			sel = append(sel, p)
		}
	}
	sel, meta := pageOf(sel, n, func(p *post) int64 { return p.id })
	if len(sel) == 0 {
		return answer{status: http.StatusOK, body: map[string]any{"meta": meta}}
	}
	tf, ex := fields(q, "tweet.fields"), fields(q, "expansions")
	var data []any
	var authors []string
	var billed []twitter.Item
	for _, p := range sel {
		billed = append(billed, charge(twitter.ChargeOwnedRead, strconv.FormatInt(p.id, 10))...)
		var history []string
		for _, id := range p.history {
			history = append(history, strconv.FormatInt(id, 10))
		}
		t := map[string]any{"id": strconv.FormatInt(p.id, 10), "text": p.text, "edit_history_tweet_ids": history}
		if tf["author_id"] {
			t["author_id"] = p.author
		}
		if tf["created_at"] {
			t["created_at"] = p.created.UTC().Format(v2Time)
		}
		if tf["conversation_id"] {
			t["conversation_id"] = p.convo
		}
		data = append(data, t)
		if !slices.Contains(authors, p.author) {
			authors = append(authors, p.author)
		}
	}
	meta["newest_id"] = strconv.FormatInt(sel[0].id, 10)
	meta["oldest_id"] = strconv.FormatInt(sel[len(sel)-1].id, 10)
	out := map[string]any{"data": data, "meta": meta}
	if ex["author_id"] {
		var us []any
		for _, a := range authors {
			us = append(us, v2UserJSON(s.users[a]))
			billed = append(billed, charge(twitter.ChargeUserRead, a)...)
		}
		out["includes"] = map[string]any{"users": us}
	}
	return answer{status: http.StatusOK, body: out, reads: len(data), billed: billed}
}

// pageOf cuts one page of at most n from sel (newest first) and starts its
// meta: the count, and next_token naming the first item of the next page.
func pageOf[T any](sel []T, n int, id func(T) int64) ([]T, map[string]any) {
	meta := map[string]any{}
	if len(sel) > n {
		meta["next_token"] = nextToken(id(sel[n]))
		sel = sel[:n]
	}
	meta["result_count"] = len(sel)
	return sel, meta
}

// dmsOfAccount are the account's DM events, received and sent, newest first.
func (s *Server) dmsOfAccount() []*dmEvent {
	var es []*dmEvent
	for i := len(s.dms) - 1; i >= 0; i-- {
		if e := s.dms[i]; e.sender == s.account.ID || e.recipient == s.account.ID {
			es = append(es, e)
		}
	}
	return es
}

func (s *Server) v2DMEvents(r *http.Request, _ []byte, _ time.Time) answer {
	q := r.URL.Query()
	n, from, bad := page(q, 1, 100, 100)
	if bad != "" {
		return invalidRequest(bad)
	}
	if t := q.Get("event_types"); t != "" && t != "MessageCreate" {
		return answer{status: http.StatusOK, body: map[string]any{"meta": map[string]any{"result_count": 0}}}
	}
	var sel []*dmEvent
	for _, e := range s.dmsOfAccount() {
		if from == 0 || e.id <= from {
			sel = append(sel, e)
		}
	}
	sel, meta := pageOf(sel, n, func(e *dmEvent) int64 { return e.id })
	if len(sel) == 0 {
		return answer{status: http.StatusOK, body: map[string]any{"meta": meta}}
	}
	f := fields(q, "dm_event.fields")
	var data []any
	var billed []twitter.Item
	for _, e := range sel {
		billed = append(billed, charge(twitter.ChargeDMRead, strconv.FormatInt(e.id, 10))...)
		d := map[string]any{"id": strconv.FormatInt(e.id, 10), "event_type": "MessageCreate", "text": e.text}
		if f["sender_id"] {
			d["sender_id"] = e.sender
		}
		if f["created_at"] {
			d["created_at"] = e.created.UTC().Format(v2Time)
		}
		if f["dm_conversation_id"] {
			d["dm_conversation_id"] = convoID(e.sender, e.recipient)
		}
		data = append(data, d)
	}
	return answer{status: http.StatusOK, body: map[string]any{"data": data, "meta": meta}, reads: len(data), billed: billed}
}

// duplicate is whether the account posted text before. Call with s.mu held.
func (s *Server) duplicate(text string) bool {
	for _, p := range s.posts {
		if p.author == s.account.ID && p.text == text {
			return true
		}
	}
	return false
}

// post records a post of the account; call with s.mu held.
func (s *Server) accountPost(text, inReplyTo string, now time.Time) (*post, *Event) {
	p := s.addPost(s.account.ID, text, now, inReplyTo)
	rep := Reply{ID: strconv.FormatInt(p.id, 10), InReplyTo: inReplyTo, Text: text, At: now}
	s.replies = append(s.replies, rep)
	return p, &Event{Reply: &rep}
}

func (s *Server) v2Tweet(r *http.Request, body []byte, now time.Time) answer {
	var in struct {
		Text  *string `json:"text"`
		Reply *struct {
			InReplyToTweetID string `json:"in_reply_to_tweet_id"`
		} `json:"reply"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Text == nil || *in.Text == "" {
		return invalidRequest("text is required and the body must be JSON")
	}
	if len([]rune(*in.Text)) > 280 {
		return answer{status: http.StatusBadRequest, body: problem(http.StatusBadRequest, "Invalid Request", "Your Tweet text is too long.")}
	}
	inReplyTo := ""
	if in.Reply != nil {
		inReplyTo = in.Reply.InReplyToTweetID
		if s.findPost(inReplyTo) == nil {
			return answer{status: http.StatusForbidden, body: problem(http.StatusForbidden, "Forbidden",
				"You attempted to reply to a Tweet that is deleted or not visible to you.")}
		}
	}
	if s.duplicate(*in.Text) {
		return answer{status: http.StatusForbidden, body: problem(http.StatusForbidden, "Forbidden",
			"You are not allowed to create a Tweet with duplicate content.")}
	}
	p, ev := s.accountPost(*in.Text, inReplyTo, now)
	id := strconv.FormatInt(p.id, 10)
	return answer{status: http.StatusCreated, event: ev, billed: postCharge(inReplyTo, id),
		body: map[string]any{"data": map[string]any{"id": id, "text": p.text, "edit_history_tweet_ids": []string{id}}}}
}

// accountDM records a DM the account sends; call with s.mu held.
func (s *Server) accountDM(to, text string, now time.Time) (*dmEvent, *Event) {
	e := s.addDM(s.account.ID, to, text, now)
	sd := SentDM{ID: strconv.FormatInt(e.id, 10), To: to, Text: text, At: now}
	s.sent = append(s.sent, sd)
	return e, &Event{DM: &sd}
}

func (s *Server) v2SendDM(r *http.Request, body []byte, now time.Time) answer {
	to := r.PathValue("id")
	var in struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Text == "" {
		return invalidRequest("text is required and the body must be JSON")
	}
	if _, ok := s.users[to]; !ok || to == s.account.ID {
		return answer{status: http.StatusForbidden, body: problem(http.StatusForbidden, "Forbidden",
			"You cannot send messages to this user.")}
	}
	e, ev := s.accountDM(to, in.Text, now)
	return answer{status: http.StatusCreated, event: ev, billed: charge(twitter.ChargeDMSend, strconv.FormatInt(e.id, 10)), body: map[string]any{"data": map[string]any{
		"dm_conversation_id": convoID(s.account.ID, to), "dm_event_id": strconv.FormatInt(e.id, 10),
	}}}
}
