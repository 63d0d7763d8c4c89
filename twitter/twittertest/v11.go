package twittertest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// v1.1 escapes these in text, and nothing else.
var escapeV1 = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func v11UserJSON(u twitter.User) map[string]any {
	id, _ := strconv.ParseInt(u.ID, 10, 64)
	return map[string]any{"id": id, "id_str": u.ID, "name": u.Username, "screen_name": u.Username}
}

func (s *Server) v11TweetJSON(p *post, extended bool) map[string]any {
	text := escapeV1.Replace(p.text)
	t := map[string]any{
		"id": p.id, "id_str": strconv.FormatInt(p.id, 10),
		"created_at": p.created.UTC().Format(time.RubyDate),
		"user":       v11UserJSON(s.users[p.author]),
		"truncated":  false,
	}
	if extended {
		t["full_text"] = text
		t["display_text_range"] = []int{0, len([]rune(p.text))}
	} else {
		if r := []rune(text); len(r) > 140 {
			text = string(r[:139]) + "…"
			t["truncated"] = true
		}
		t["text"] = text
	}
	if p.inReplyTo != "" {
		n, _ := strconv.ParseInt(p.inReplyTo, 10, 64)
		t["in_reply_to_status_id"], t["in_reply_to_status_id_str"] = n, p.inReplyTo
	}
	return t
}

func (s *Server) v11VerifyCredentials(r *http.Request, _ []byte, _ time.Time) answer {
	return answer{status: http.StatusOK, body: v11UserJSON(s.account), billed: charge(twitter.ChargeUserRead, s.account.ID)}
}

func userNotFound() answer {
	return answer{status: http.StatusNotFound, body: v1Errors(50, "User not found.")}
}

func (s *Server) v11UsersShow(r *http.Request, _ []byte, _ time.Time) answer {
	q := r.URL.Query()
	if id := q.Get("user_id"); id != "" {
		if u, ok := s.users[id]; ok {
			return answer{status: http.StatusOK, body: v11UserJSON(u), billed: charge(twitter.ChargeUserRead, u.ID)}
		}
		return userNotFound()
	}
	if id, ok := s.byName[strings.ToLower(q.Get("screen_name"))]; ok {
		return answer{status: http.StatusOK, body: v11UserJSON(s.users[id]), billed: charge(twitter.ChargeUserRead, id)}
	}
	return userNotFound()
}

// count parses a v1.1 count: default def, at most hi.
func count(q url.Values, def, hi int) int {
	n, err := strconv.Atoi(q.Get("count"))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, hi)
}

func (s *Server) v11Mentions(r *http.Request, _ []byte, _ time.Time) answer {
	q := r.URL.Query()
	n := count(q, 20, 200)
	since, _ := strconv.ParseInt(q.Get("since_id"), 10, 64)
	maxID, _ := strconv.ParseInt(q.Get("max_id"), 10, 64)
	out := []any{}
	var billed []twitter.Item
	for _, p := range s.mentionsOf(s.account) {
		if len(out) == n {
			break
		}
		if p.id > since && (maxID == 0 || p.id <= maxID) {
			out = append(out, s.v11TweetJSON(p, q.Get("tweet_mode") == "extended"))
			// v1.1 embeds the author's user object in each post.
			billed = append(billed, charge(twitter.ChargeOwnedRead, strconv.FormatInt(p.id, 10))...)
			billed = append(billed, charge(twitter.ChargeUserRead, p.author)...)
		}
	}
	return answer{status: http.StatusOK, body: out, reads: len(out), billed: billed}
}

func (s *Server) v11Update(r *http.Request, body []byte, now time.Time) answer {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return answer{status: http.StatusBadRequest, body: v1Errors(0, "Bad form body.")}
	}
	text := form.Get("status")
	if text == "" {
		return answer{status: http.StatusBadRequest, body: v1Errors(170, "Missing required parameter: status.")}
	}
	if len([]rune(text)) > 280 {
		return answer{status: http.StatusForbidden, body: v1Errors(186, "Tweet needs to be a bit shorter.")}
	}
	if s.duplicate(text) {
		return answer{status: http.StatusForbidden, body: v1Errors(187, "Status is a duplicate.")}
	}
	inReplyTo := form.Get("in_reply_to_status_id")
	if s.findPost(inReplyTo) == nil {
		inReplyTo = "" // v1.1 ignores a reply to a post it cannot see
	}
	p, ev := s.accountPost(text, inReplyTo, now)
	return answer{status: http.StatusOK, event: ev, body: s.v11TweetJSON(p, false), billed: postCharge(inReplyTo, strconv.FormatInt(p.id, 10))}
}

func (s *Server) v11EventJSON(e *dmEvent) map[string]any {
	return map[string]any{
		"type": "message_create", "id": strconv.FormatInt(e.id, 10),
		"created_timestamp": strconv.FormatInt(e.created.UnixMilli(), 10),
		"message_create": map[string]any{
			"target":       map[string]any{"recipient_id": e.recipient},
			"sender_id":    e.sender,
			"message_data": map[string]any{"text": escapeV1.Replace(e.text), "entities": map[string]any{}},
		},
	}
}

func (s *Server) v11DMList(r *http.Request, _ []byte, _ time.Time) answer {
	q := r.URL.Query()
	n := count(q, 20, 50)
	var from int64
	if c := q.Get("cursor"); c != "" {
		var err error
		if from, err = strconv.ParseInt(c, 36, 64); err != nil {
			return answer{status: http.StatusBadRequest, body: v1Errors(44, "cursor parameter is invalid.")}
		}
	}
	evs := []any{}
	out := map[string]any{}
	var billed []twitter.Item
	for _, e := range s.dmsOfAccount() {
		if from != 0 && e.id > from {
			continue
		}
		if len(evs) == n {
			out["next_cursor"] = strconv.FormatInt(e.id, 36)
			break
		}
		evs = append(evs, s.v11EventJSON(e))
		billed = append(billed, charge(twitter.ChargeDMRead, strconv.FormatInt(e.id, 10))...)
	}
	out["events"] = evs
	return answer{status: http.StatusOK, body: out, reads: len(evs), billed: billed}
}

func (s *Server) v11DMNew(r *http.Request, body []byte, now time.Time) answer {
	var in struct {
		Event struct {
			Type          string `json:"type"`
			MessageCreate struct {
				Target struct {
					RecipientID string `json:"recipient_id"`
				} `json:"target"`
				MessageData struct {
					Text string `json:"text"`
				} `json:"message_data"`
			} `json:"message_create"`
		} `json:"event"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Event.Type != "message_create" || in.Event.MessageCreate.MessageData.Text == "" {
		return answer{status: http.StatusBadRequest, body: v1Errors(214, "Event is missing or malformed.")}
	}
	to := in.Event.MessageCreate.Target.RecipientID
	if _, ok := s.users[to]; !ok || to == s.account.ID {
		return answer{status: http.StatusForbidden, body: v1Errors(349, "You cannot send messages to this user.")}
	}
	e, ev := s.accountDM(to, in.Event.MessageCreate.MessageData.Text, now)
	return answer{status: http.StatusOK, event: ev, billed: charge(twitter.ChargeDMSend, strconv.FormatInt(e.id, 10)), body: map[string]any{"event": s.v11EventJSON(e)}}
}
