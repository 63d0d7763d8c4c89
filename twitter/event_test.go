package twitter

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Lines shaped as X's "Event payloads" page shows them (values made up):
// the envelope with includes inside data, a v2 Post payload with the
// fields X sends, a dm.received payload with its users map.
const (
	docMention = `{"data":{"event_uuid":"2080765813578191303","filter":{"user_id":"1500000001"},"event_type":"post.mention.create","tag":"tweetpi",` +
		`"payload":{"paid_partnership":false,"created_at":"2026-07-24T21:23:23.000Z","edit_history_tweet_ids":["2080765813578191303"],` +
		`"conversation_id":"2080765813578191303","display_text_range":[0,16],"edit_controls":{"edits_remaining":5,"edits_remaining_str":"5",` +
		`"is_edit_eligible":true,"editable_until":"2026-07-24T22:23:23.000Z"},"text":"@mypi led on","entities":{"mentions":[{"start":0,` +
		`"start_str":"0","end":5,"end_str":"5","username":"mypi","id":"1500000001"}]},"author_id":"1500000002","possibly_sensitive":false,` +
		`"public_metrics":{"retweet_count":0,"retweet_count_str":"0","reply_count":0,"reply_count_str":"0","like_count":0,"like_count_str":"0",` +
		`"quote_count":0,"quote_count_str":"0","bookmark_count":0,"bookmark_count_str":"0","impression_count":0,"impression_count_str":"0"},` +
		`"reply_settings":"everyone","id":"2080765813578191303","lang":"und"},"includes":{"users":[{"public_metrics":{"followers_count":97,` +
		`"followers_count_str":"97","following_count":1,"following_count_str":"1","tweet_count":50,"tweet_count_str":"50","listed_count":4,` +
		`"listed_count_str":"4","like_count":26,"like_count_str":"26","media_count":3,"media_count_str":"3"},"profile_banner_url":"",` +
		`"username":"alice","protected":false,"is_identity_verified":false,"most_recent_tweet_id":"2080765813578191303","verified_type":"none",` +
		`"description":"","created_at":"2026-04-20T19:55:59.000Z","profile_image_url":"https://pbs.twimg.com/profile_images/1/a_normal.jpg",` +
		`"name":"Alice","verified":false,"url":"","id":"1500000002"}],"tweets":[{"created_at":"2026-07-24T21:23:23.000Z",` +
		`"conversation_id":"2080765813578191303","text":"@mypi led on","author_id":"1500000002","id":"2080765813578191303"}]}}}`
	docReply = `{"data":{"event_uuid":"3091827364059182736","filter":{"user_id":"1500000001"},"event_type":"post.reply.create","tag":"tweetpi",` +
		`"payload":{"created_at":"2026-08-12T18:00:00.000Z","edit_history_tweet_ids":["2090000000000000001"],"conversation_id":"2080761390344937796",` +
		`"in_reply_to_tweet_id":"2080761390344937796","in_reply_to_user_id":"1500000001","referenced_tweets":[{"type":"replied_to",` +
		`"id":"2080761390344937796"}],"display_text_range":[6,13],"text":"@mypi led off","author_id":"1500000002","id":"2090000000000000001",` +
		`"lang":"en"},"includes":{}}}`
	docDM = `{"data":{"event_uuid":"-6850472171600526495","filter":{"user_id":"1500000001"},"event_type":"dm.received","tag":"tweetpi",` +
		`"payload":{"direct_message_events":[{"type":"message_create","id":"2080765901528535096","created_timestamp":"1784928224372",` +
		`"message_create":{"target":{"recipient_id":"1500000001"},"sender_id":"1500000002","message_data":{"text":"fan 40% &amp; led on",` +
		`"entities":{"hashtags":[],"symbols":[],"user_mentions":[],"urls":[]}}}}],"users":{"1500000002":{"data":{"id":"1500000002",` +
		`"username":"alice","name":"Alice","protected":false}},"1500000001":{"data":{"id":"1500000001","username":"mypi","name":"mypi"}}}}}}`
	docDisconnect = `{"errors":[{"title":"operational-disconnect","disconnect_type":"UpstreamOperationalDisconnect",` +
		`"detail":"This stream has been disconnected upstream for operational reasons.","type":"https://api.x.com/2/problems/operational-disconnect"}]}`
	docProfile = `{"data":{"filter":{"user_id":"2244994945"},"event_type":"profile.update.bio","tag":"bio","payload":{"before":"a","after":"b"}}}`
	// The design notes' envelope: includes beside data.
	designMention = `{"data":{"event_uuid":"17","event_type":"post.mention.create","filter":{"user_id":"1"},"tag":"tweetpi",` +
		`"payload":{"id":"20","text":"@mypi status","author_id":"2","created_at":"2026-01-02T03:04:05.000Z","conversation_id":"20"}},` +
		`"includes":{"users":[{"id":"2","username":"bob"}]}}`
)

func TestDecodeLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		kind lineKind
		want []Event
		err  string
	}{
		{"keep-alive", "\r", lineKeepAlive, nil, ""},
		{"blank", "  \t", lineKeepAlive, nil, ""},
		{"mention", docMention, lineEvents, []Event{{UUID: "2080765813578191303", Type: EventMention, UserID: "1500000001", Tag: "tweetpi",
			Post: &Post{ID: "2080765813578191303", AuthorID: "1500000002", AuthorUsername: "alice", Text: "@mypi led on",
				CreatedAt: time.Date(2026, 7, 24, 21, 23, 23, 0, time.UTC), ConversationID: "2080765813578191303"}}}, ""},
		{"reply", docReply, lineEvents, []Event{{UUID: "3091827364059182736", Type: EventReply, UserID: "1500000001", Tag: "tweetpi",
			Post: &Post{ID: "2090000000000000001", AuthorID: "1500000002", Text: "@mypi led off",
				CreatedAt: time.Date(2026, 8, 12, 18, 0, 0, 0, time.UTC), ConversationID: "2080761390344937796"}}}, ""},
		{"dm", docDM, lineEvents, []Event{{UUID: "-6850472171600526495", Type: EventDM, UserID: "1500000001", Tag: "tweetpi",
			DM: &DM{ID: "2080765901528535096", SenderID: "1500000002", Text: "fan 40% & led on",
				CreatedAt: time.UnixMilli(1784928224372).UTC(), ConversationID: "1500000001-1500000002"}}}, ""},
		{"includes beside data", designMention, lineEvents, []Event{{UUID: "17", Type: EventMention, UserID: "1", Tag: "tweetpi",
			Post: &Post{ID: "20", AuthorID: "2", AuthorUsername: "bob", Text: "@mypi status",
				CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ConversationID: "20"}}}, ""},
		{"numeric uuid", `{"data":{"event_uuid":123,"event_type":"post.mention.create","payload":{"id":"5"}}}`, lineEvents,
			[]Event{{UUID: "123", Type: EventMention, Post: &Post{ID: "5"}}}, ""},
		{"disconnect", docDisconnect, lineDisconnect, nil, "X ended the stream: operational-disconnect: This stream has been disconnected"},
		{"too many connections", `{"title":"ConnectionException","detail":"This stream is currently at the maximum allowed connection limit.","connection_issue":"TooManyConnections","type":"https://api.x.com/2/problems/streaming-connection"}`,
			lineDisconnect, nil, "maximum allowed connection limit"},
		{"another type", docProfile, lineOther, nil, `event type "profile.update.bio" is not one tweetpi reads`},
		{"an error", `{"errors":[{"title":"Internal Error","detail":"Something broke."}]}`, lineOther, nil, "an error on the stream: Internal Error: Something broke."},
		{"not JSON", `{"data":`, lineOther, nil, "not JSON"},
		{"post without id", `{"data":{"event_type":"post.reply.create","payload":{"text":"x"}}}`, lineOther, nil, "a post without id"},
		{"dm without message", `{"data":{"event_type":"dm.received","payload":{"direct_message_events":[{"type":"participants_join","id":"9"}]}}}`, lineOther, nil, "no message_create"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, kind, err := decodeLine([]byte(tc.line), nil)
			if kind != tc.kind {
				t.Errorf("kind %d, want %d (err %v)", kind, tc.kind, err)
			}
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("events\n %s\nwant\n %s", show(got), show(tc.want))
			}
		})
	}
}

func show(evs []Event) string {
	b, _ := json.Marshal(evs)
	return string(b)
}

// Several message_create events in one dm.received line are several events.
func TestDecodeLineDMs(t *testing.T) {
	line := `{"data":{"event_uuid":"1","event_type":"dm.received","filter":{"user_id":"1"},"payload":{"direct_message_events":[` +
		`{"type":"message_create","id":"10","message_create":{"sender_id":"2","target":{"recipient_id":"1"},"message_data":{"text":"a"}}},` +
		`{"type":"message_create","id":"11","message_create":{"sender_id":"3","target":{"recipient_id":"1"},"message_data":{"text":"b"}}}]}}}`
	evs, kind, err := decodeLine([]byte(line), nil)
	if err != nil || kind != lineEvents || len(evs) != 2 || evs[0].ID() != "10" || evs[1].ID() != "11" || evs[1].DM.SenderID != "3" {
		t.Errorf("%s, %d, %v", show(evs), kind, err)
	}
}

// The published example of X's "Application-only authentication" page.
func TestBasicCredentials(t *testing.T) {
	got := basicCredentials("xvz1evFS4wEEPTGEFPHBog", "L8qq9PZyRg6ieKGEKhZolGC0vJWLw8iEJ88DRdyOg").reveal()
	if want := "Basic eHZ6MWV2RlM0d0VFUFRHRUZQSEJvZzpMOHFxOVBaeVJnNmllS0dFS2hab2xHQzB2SldMdzhpRUo4OERSZHlPZw=="; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	// Each part is URL-encoded before the join (RFC 1738), so a ":" in the
	// key cannot move the split.
	if got, want := basicCredentials("a:b", "c d+").reveal(), "Basic YSUzQWI6YytkJTJC"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// X's pages show three shapes of a created subscription.
func TestCreatedSubscription(t *testing.T) {
	want := Subscription{ID: "1976325569252868096", EventType: "dm.received", UserID: "12", Tag: "tweetpi",
		CreatedAt: time.Date(2025, 10, 9, 16, 35, 8, 0, time.UTC)}
	one := `{"subscription_id":"1976325569252868096","event_type":"dm.received","filter":{"user_id":"12"},"created_at":"2025-10-09T16:35:08.000Z","tag":"tweetpi"}`
	for name, data := range map[string]string{
		"openapi":    `{"subscription":` + one + `}`,
		"quickstart": one,
		"list":       `[` + one + `]`,
	} {
		got, ok := createdSubscription(json.RawMessage(data))
		if !ok || got != want {
			t.Errorf("%s: %+v %v, want %+v", name, got, ok, want)
		}
	}
	for _, bad := range []string{``, `null`, `{}`, `[]`, `{"subscription":{}}`, `"x"`} {
		if got, ok := createdSubscription(json.RawMessage(bad)); ok {
			t.Errorf("%s: %+v, want none", bad, got)
		}
	}
}

// FuzzStreamLine: any line decodes without panic into events that are
// whole (a known type, a post or a DM with an id), or into no events.
func FuzzStreamLine(f *testing.F) {
	for _, s := range []string{"", "\r", docMention, docReply, docDM, docDisconnect, docProfile, designMention,
		`{"data":{"event_type":"dm.received","payload":{"direct_message_events":[{"type":"message_create","id":"1","message_create":{}}]}}}`,
		`{"data":{"event_uuid":1e400,"event_type":"post.mention.create","payload":{"id":"5"}}}`,
		`{"errors":[]}`, `[]`, `null`, `{"data":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		evs, kind, err := decodeLine(line, nil)
		if (kind == lineEvents) != (len(evs) > 0) {
			t.Fatalf("kind %d with %d events", kind, len(evs))
		}
		if (kind == lineOther || kind == lineDisconnect) != (err != nil) {
			t.Fatalf("kind %d with error %v", kind, err)
		}
		for _, e := range evs {
			switch {
			case e.Type != EventMention && e.Type != EventReply && e.Type != EventDM:
				t.Fatalf("event of type %q", e.Type)
			case (e.Post == nil) == (e.DM == nil):
				t.Fatalf("event %+v: not one post or one DM", e)
			case e.ID() == "":
				t.Fatalf("event %+v without an id", e)
			case (e.Type == EventDM) != (e.DM != nil):
				t.Fatalf("event %s with the wrong payload", e.Type)
			}
		}
		again, kind2, _ := decodeLine(line, make([]Event, 0, 4))
		if kind2 != kind || len(again) != len(evs) || len(evs) > 0 && !reflect.DeepEqual(again, evs) {
			t.Fatalf("decoding twice differs: %s, %s", show(evs), show(again))
		}
	})
}

// BenchmarkDecodeLine is the decoder's cost per event, on lines as large
// as X's examples.
func BenchmarkDecodeLine(b *testing.B) {
	for name, line := range map[string]string{"mention": docMention, "dm": docDM, "keep-alive": "\r"} {
		b.Run(name, func(b *testing.B) {
			bs := []byte(line)
			var evs []Event
			b.SetBytes(int64(len(bs)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				evs, _, err = decodeLine(bs, evs[:0])
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// repeatLines is a body of n copies of line, then EOF.
type repeatLines struct {
	line []byte
	n    int
	off  int
}

func (r *repeatLines) Read(p []byte) (int, error) {
	w := 0
	for w < len(p) && r.n > 0 {
		c := copy(p[w:], r.line[r.off:])
		w += c
		r.off += c
		if r.off == len(r.line) {
			r.off = 0
			r.n--
		}
	}
	if w == 0 {
		return 0, io.EOF
	}
	return w, nil
}

type benchRT func(*http.Request) (*http.Response, error)

func (f benchRT) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// BenchmarkStreamEvents is the whole read path per event: the stream's
// reading, decoding and filtering, and the update handed to a receiver.
func BenchmarkStreamEvents(b *testing.B) {
	for name, line := range map[string]string{"mention": docMention, "dm": docDM} {
		b.Run(name, func(b *testing.B) {
			a, err := NewActivity(Options{
				Credentials: Credentials{ConsumerKey: "k", ConsumerSecret: "s", AccessToken: "1-t", AccessTokenSecret: "ts"},
				Transport: benchRT(func(r *http.Request) (*http.Response, error) {
					var body io.Reader = strings.NewReader(`{"token_type":"bearer","access_token":"AAAA"}`)
					if r.URL.Path != "/oauth2/token" {
						body = &repeatLines{line: []byte(line + "\r\n"), n: b.N}
					}
					return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(body), ContentLength: -1, Request: r}, nil
				}),
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := make(chan StreamUpdate, 64)
			go a.NewStream(StreamOptions{UserID: "1500000001"}).Run(ctx, out)
			for u := range out {
				if u.Kind == StreamUp {
					break
				}
			}
			b.SetBytes(int64(len(line) + 2))
			b.ReportAllocs()
			b.ResetTimer()
			for got := 0; got < b.N; {
				switch u := <-out; u.Kind {
				case StreamEvent:
					got++
				case StreamDown, StreamSkipped:
					b.Fatalf("%v: %v", u.Kind, u.Err)
				}
			}
		})
	}
}
