package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// Source is a way posts and DM events reach the bot that the loop polls:
// today the mention poll and the DM poll. The loop calls Poll when the
// source is due (no sooner than PollInterval after its last poll, or
// ReconcileInterval while a PushSource delivers its inbox, and spaced so
// its endpoint's rate limit is never exceeded); Poll hands each item it
// finds, oldest first, to the bot's checks (Bot.take), which every item of
// every source goes through.
type Source interface {
	// Inbox is the inbox it reads: InboxMentions or InboxDMs.
	Inbox() string
	// Endpoint is the rate-limited endpoint a poll spends (twitter.Endpoint*).
	Endpoint() string
	// Poll reads what is new and takes it; an error is the poll's failure,
	// which the loop backs off from.
	Poll(ctx context.Context) error
}

// PushSource is a source that delivers by itself, as things arrive (the X
// Activity API stream): the bot runs it beside the loop, from Run's start
// to its end. It sends each post or DM event, and each change of its state
// (up or down, for the inboxes it delivers), on out, selecting on
// ctx.Done() so that it never blocks past the end of ctx, and returns when
// ctx ends. While it is up it should send something about every 20 s
// (an empty Push will do: the stream sends one per keep-alive): the loop
// then sleeps up to 25 s instead of 10 s, and goes round (feeding the
// watchdog) on what the source sends.
type PushSource interface {
	Run(ctx context.Context, out chan<- Push) error
}

// Push is what a PushSource sends: a post or a DM event (Item.ID set), or
// a change of its state for Inboxes. While it is up for an inbox, the
// inbox is polled once at once (what came while it was down) and then
// every ReconcileInterval; while it is down, every PollInterval.
type Push struct {
	Item    Command
	Up      bool
	Inboxes []string
	// Err, a *Fatal, stops the bot: Run returns it (delivery: stream, which
	// X refused).
	Err error
}

// startPush runs the push sources until ctx ends; the returned func waits
// for them.
func (b *Bot) startPush(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	for _, s := range b.pushSources() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(ctx, b.pushes); err != nil && ctx.Err() == nil {
				b.log.Error("push source stopped", "err", err)
			}
		}()
	}
	return wg.Wait
}

// pushed handles what a push source sent.
func (b *Bot) pushed(ctx context.Context, p Push) error {
	if p.Err != nil {
		return p.Err
	}
	if p.Item.ID != "" {
		return b.takePushed(ctx, p.Item)
	}
	if len(p.Inboxes) == 0 {
		return nil // a keep-alive: the loop went round
	}
	now := time.Now()
	defer b.setDelivery(b.deliveryMode())
	for _, in := range p.Inboxes {
		if b.up[in] == p.Up {
			continue
		}
		b.up[in] = p.Up
		for _, s := range b.sources {
			if s.Inbox() != in {
				continue
			}
			pc := b.pacer(in)
			if p.Up {
				// What arrived while it was down: once, at once (as far
				// as the rate limit allows).
				pc.next = later(now, b.paced(s.Endpoint(), now, 0))
			} else if t := pc.last.Add(b.opt.PollInterval); t.Before(pc.next) {
				pc.next = later(t, b.paced(s.Endpoint(), now, 0))
			}
		}
	}
	return nil
}

// interval is how often a source is polled when all goes well.
func (b *Bot) interval(s Source) time.Duration {
	if b.up[s.Inbox()] {
		return b.opt.ReconcileInterval
	}
	return b.opt.PollInterval
}

// poll runs one poll of s.
func (b *Bot) poll(ctx context.Context, s Source) error {
	err := s.Poll(ctx)
	b.noteClock()
	if err == nil {
		if b.dirty() {
			// What was taken without a write of its own (posts that ran
			// nothing, sent DMs marked seen): one write for the whole
			// poll, before their queued answers go out.
			err = b.save()
		}
	}
	if err == nil {
		b.everOK.Store(true)
		b.keysRefused = false
		return nil
	}
	var f *Fatal
	if errors.As(err, &f) || ctx.Err() != nil {
		return err
	}
	if twitter.KindOf(err) == twitter.KindUnauthorized {
		if !b.everOK.Load() && !b.clockBad.Load() {
			return &Fatal{fmt.Errorf("the API refused the keys: %w; %s", err, twitter.Fix(err))}
		}
		b.keysRefused = true // nothing runs, not even what the stream brings
	}
	return err // logged by logPoll, with when the next try is
}

// mentionPoll is the mentions inbox, polled with a since_id cursor.
type mentionPoll struct{ b *Bot }

func (s *mentionPoll) Inbox() string    { return InboxMentions }
func (s *mentionPoll) Endpoint() string { return twitter.EndpointMentions }

func (s *mentionPoll) Poll(ctx context.Context) error {
	b := s.b
	if !b.st.MentionsStarted {
		// No state: the newest existing mention is the starting point.
		posts, err := b.opt.Client.Mentions(ctx, b.account.ID, twitter.MentionsParams{MaxResults: 5, MaxPages: 1})
		if err != nil {
			return err
		}
		posts = b.goodPosts(posts)
		b.led.mu.Lock()
		defer b.led.mu.Unlock()
		if n := len(posts); n > 0 {
			b.st.MentionsSince = posts[n-1].ID
			b.st.raiseMentions(posts[n-1].ID)
		}
		b.st.MentionsStarted = true
		b.log.Info("mentions: starting after the newest existing post; nothing older runs", "since_id", b.st.MentionsSince)
		return b.saveLocked()
	}
	posts, err := b.opt.Client.Mentions(ctx, b.account.ID, twitter.MentionsParams{SinceID: b.st.MentionsSince, MaxResults: 100})
	if err != nil && b.st.MentionsSince != "" && badRequest(err) {
		// The API refuses the cursor (X does for a since_id it finds too
		// old): asked again with it, every poll would fail. Read the newest
		// page instead, as a first start does; the floor still tells which
		// of its posts were handled, so nothing runs twice, and those above
		// it are new.
		b.log.Warn("mentions: the API refused the cursor; reading from the newest posts instead (nothing handled runs again)",
			"since_id", b.st.MentionsSince, "err", err)
		posts, err = b.opt.Client.Mentions(ctx, b.account.ID, twitter.MentionsParams{MaxResults: 100, MaxPages: 1})
		if err == nil && len(posts) == 0 {
			// No mention at all to start from: no cursor, until one comes
			// (an empty answer is free).
			b.led.mu.Lock()
			b.st.MentionsSince, b.led.dirty = "", true
			b.led.mu.Unlock()
		}
	}
	if err != nil {
		return err
	}
	b.noteClock() // this answer's Date decides whether its commands run
	posts = b.goodPosts(posts)
	for _, p := range posts {
		c := Command{Inbox: InboxMentions, ID: p.ID, AuthorID: p.AuthorID, AuthorUsername: p.AuthorUsername, Text: p.Text, CreatedAt: p.CreatedAt, EditOf: p.EditOf}
		if err := b.take(ctx, c); err != nil {
			return err
		}
		// Every mention up to this one is handled: the floor moves up.
		b.led.mu.Lock()
		b.st.raiseMentions(p.ID)
		b.led.mu.Unlock()
	}
	if n := len(posts); n > 0 && (twitter.IDLess(b.st.MentionsSince, posts[n-1].ID) || !twitter.ValidID(b.st.MentionsSince)) {
		b.led.mu.Lock()
		defer b.led.mu.Unlock()
		b.st.MentionsSince = posts[n-1].ID
		b.st.raiseMentions(b.st.MentionsSince)
		return b.saveLocked()
	}
	return nil
}

// goodPosts drops (and logs) the posts whose ids are not X's: they must
// not become the cursor or the floor.
func (b *Bot) goodPosts(posts []twitter.Post) []twitter.Post {
	good := posts[:0]
	for _, p := range posts {
		if twitter.ValidID(p.ID) {
			good = append(good, p)
		} else {
			b.badID(InboxMentions, "post_id", p.ID)
		}
	}
	return good
}

// badRequest reports whether err is the API's 400: the request itself
// was refused.
func badRequest(err error) bool {
	var ae *twitter.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusBadRequest
}

// dmLookPage is the page size of a look for one event: the newest with a
// good id at a first start, a sent DM to confirm.
const dmLookPage = 20

// dmPages are the page sizes of a DM read after a probe found something
// new: reading ends at the first page that holds an event seen before, and
// X bills every event a page returns, so the first page is small (the new
// message and the seen one before it, most often the bot's own last
// reply), and a burst takes a few more requests, not a hundred reads.
var dmPages = []int{2, 8, 32}

// dmPoll is the DM inbox: dm_events has no since_id, so it reads the
// newest events and the ledger tells which are new.
type dmPoll struct{ b *Bot }

func (s *dmPoll) Inbox() string    { return InboxDMs }
func (s *dmPoll) Endpoint() string { return twitter.EndpointDMEvents }

// probe reports whether a DM poll looks at the newest event alone first.
// It costs a second request when something is new, so not where requests
// are scarce (X's Free tier reads DMs once per 15 minutes): there one
// request reads a whole page, as fast as the limit allows.
func (s *dmPoll) probe() bool {
	rl, ok := s.b.opt.Client.RateLimits()[twitter.EndpointDMEvents]
	return !ok || rl.Limit == 0 || rl.Limit >= 10
}

// newest is the id of the account's newest DM event, "" when it has none:
// one event read.
func (s *dmPoll) newest(ctx context.Context) (string, error) {
	top, err := s.b.opt.Client.DirectMessages(ctx, twitter.DMParams{MaxResults: 1, MaxPages: 1})
	if err != nil {
		return "", err
	}
	s.b.noteClock()
	if len(top) == 0 {
		return "", nil
	}
	return top[len(top)-1].ID, nil // oldest first: the last is the newest
}

func (s *dmPoll) Poll(ctx context.Context) error {
	b := s.b
	if !b.st.DMsStarted {
		// No state: the newest existing event is the starting point; every
		// id at or below it counts as seen (event ids grow with time).
		newest, err := s.newest(ctx)
		if err == nil && newest != "" && !twitter.ValidID(newest) {
			// Not an id to count from: the newest good one of a page.
			var dms []twitter.DM
			dms, err = b.opt.Client.DirectMessages(ctx, twitter.DMParams{MaxResults: dmLookPage, MaxPages: 1})
			newest = ""
			for _, d := range dms {
				if twitter.ValidID(d.ID) {
					newest = d.ID
				}
			}
		}
		if err != nil {
			return err
		}
		b.led.mu.Lock()
		defer b.led.mu.Unlock()
		if twitter.IDLess(b.st.DMsFloor, newest) {
			b.st.DMsFloor = newest
		}
		b.st.DMsRead = b.st.DMsFloor
		b.st.DMsStarted = true
		b.log.Info("dms: starting after the newest existing message; nothing older runs", "floor", b.st.DMsFloor)
		return b.saveLocked()
	}
	p := twitter.DMParams{MaxResults: 100, Seen: func(id string) bool { return s.seen(id) && s.read(id) }}
	if s.probe() {
		// dm_events has no since_id, and X bills every DM event an answer
		// returns: look at the newest event alone, and read on only when
		// it is new. An idle poll reads one event, not a page of old ones.
		// The DMs the bot sent since its last read are on top, and not
		// proof that nothing came before them: one more event each is
		// looked at.
		sent := b.sentDMs.list()
		top, err := b.opt.Client.DirectMessages(ctx, twitter.DMParams{MaxResults: 1 + len(sent), MaxPages: 1})
		if err != nil {
			return err
		}
		b.noteClock()
		if !s.fresh(top, sent) {
			return nil
		}
		if b.spent(twitter.EndpointDMEvents, time.Now()) {
			// The probe took the window's last request: the next poll,
			// after the reset, finds the same new event and reads on.
			b.log.Debug("dms: new messages wait for the rate-limit reset")
			return nil
		}
		p.Sizes = dmPages
	}
	dms, err := b.opt.Client.DirectMessages(ctx, p)
	if err != nil {
		return err
	}
	b.noteClock() // this answer's Date decides whether its commands run
	defer s.readTo(dms)
	for _, d := range dms {
		c := Command{Inbox: InboxDMs, ID: d.ID, AuthorID: d.SenderID, AuthorUsername: b.nameOf(d.SenderID), Text: d.Text, CreatedAt: d.CreatedAt}
		if err := b.take(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// fresh reports whether the newest events (oldest first) hold one not
// seen before, below the bot's own sent DMs and the events the stream
// delivered since the last read; when they do not, the sent ones among
// them are marked seen.
//
// Only an event a read of dm_events showed says that nothing older is
// new: a read pages down to one it knew. The bot's own sent DMs and the
// DMs the stream delivered are known without a read, and one sent to the
// account just before them may be below them unread (the stream missed
// it, or it came while the reply was on its way).
func (s *dmPoll) fresh(top []twitter.DM, sent []string) bool {
	var own []string
	for i := len(top) - 1; i >= 0; i-- {
		id := top[i].ID
		switch {
		case slices.Contains(sent, id):
			own = append(own, id)
		case s.seen(id) && !s.read(id):
			// Delivered by the stream, not read: not proof of anything below.
		case s.seen(id):
			for _, id := range own {
				s.b.mark(Command{Inbox: InboxDMs, ID: id})
			}
			s.b.sentDMs.drop(own)
			s.readTo(top)
			return false
		default:
			return true
		}
	}
	// Nothing but the bot's own and what the stream delivered (or nothing
	// at all): read on to an event a read showed before.
	return len(top) > 0
}

// read reports whether id is at or below the newest event a read of
// dm_events showed (State.DMsRead): one the bot knows from a read, not
// from the stream. The loop alone writes DMsRead, so it reads it unlocked.
func (s *dmPoll) read(id string) bool {
	r := s.b.st.DMsRead
	return r != "" && !twitter.IDLess(r, id)
}

// readTo moves the newest event a read showed up to the newest of dms.
// It is written with the state's next write; a kill before that leaves
// an older mark, which only reads more.
func (s *dmPoll) readTo(dms []twitter.DM) {
	b := s.b
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	for _, d := range dms {
		if twitter.ValidID(d.ID) && twitter.IDLess(b.st.DMsRead, d.ID) {
			b.st.DMsRead = d.ID
			b.led.dirty = true
		}
	}
}

// sentLog is the ids of the DMs the bot sent that no read has shown yet,
// newest last, at most maxSentLog. Safe for concurrent use.
type sentLog struct {
	mu  sync.Mutex
	ids []string
}

const maxSentLog = 20

func (l *sentLog) add(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = append(l.ids, id)
	if n := len(l.ids); n > maxSentLog {
		l.ids = slices.Clone(l.ids[n-maxSentLog:])
	}
}

func (l *sentLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ids)
}

func (l *sentLog) drop(ids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ids = slices.DeleteFunc(l.ids, func(id string) bool { return slices.Contains(ids, id) })
}

// seen reports whether a DM event was taken or skipped before. The loop
// goroutine alone writes the inboxes' ids, so it reads them unlocked.
func (s *dmPoll) seen(id string) bool { return s.b.st.seenDM(id) || s.b.skipped[id] }
