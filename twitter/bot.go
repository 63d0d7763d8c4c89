package twitter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/config"
)

// Inboxes the bot polls.
const (
	InboxMentions = "mentions"
	InboxDMs      = "dms"
)

// Handler turns a command into a reply. The bot calls it once per post, after
// the post is recorded as taken. cmd wires it to the device package.
type Handler interface {
	Handle(ctx context.Context, c Command) (reply string)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c Command) string

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, c Command) string { return f(ctx, c) }

// Command is a post or DM from an allowed person.
type Command struct {
	Inbox          string // InboxMentions or InboxDMs
	ID             string // post or DM event id
	AuthorID       string
	AuthorUsername string // without @; "" when unknown
	Text           string
	CreatedAt      time.Time
}

// BotOptions configure a Bot.
type BotOptions struct {
	Client   Client
	Handler  Handler
	StateDir string
	Logger   *slog.Logger

	Listen       []string      // InboxMentions, InboxDMs; default mentions
	PollInterval time.Duration // the fastest each inbox is polled; default 60s
	Allow        []string      // "@handle" or numeric ids
	MaxAge       time.Duration // older commands are answered "too old"; default 10m
	Reply        bool          // answer commands

	// Notify carries texts (input changes) to DM to every allowed user.
	Notify <-chan string
	// Progress, when set, is called each time the loop goes round: the
	// systemd watchdog is fed from it.
	Progress func()
	// ClockFloor: the local clock must be past it before anything is sent
	// (a Pi without a real-time clock boots in 1970). Default 2025-01-01.
	ClockFloor time.Time
	// MaxSkew is how far the local clock may be from the API's Date header
	// before commands stop running; default 5m (OAuth itself refuses more).
	MaxSkew time.Duration
	// MaxBackoff caps the wait after transient failures; default 5m.
	MaxBackoff time.Duration
}

// Fatal is returned by Start and Run for failures a restart cannot fix:
// wrong keys, a corrupt state file. cmd exits 78 on it.
type Fatal struct{ Err error }

func (f *Fatal) Error() string { return f.Err.Error() }
func (f *Fatal) Unwrap() error { return f.Err }

// Bot polls the inboxes, runs commands and sends replies. It is not safe
// for concurrent use, but for Reload.
type Bot struct {
	opt BotOptions
	log *slog.Logger
	st  *State

	reload chan reloadReq

	allowIDs  map[string]bool   // allowed user ids
	allowName map[string]bool   // allowed handles not (yet) resolved, lower-case
	names     map[string]string // id -> handle, for DMs

	account User
	started time.Time
	everOK  bool // an API call succeeded since start

	pace     map[string]*pacer
	skew     time.Duration // server minus local clock, from the Date header
	clockBad bool
	recent   []string // the latest reply texts, to keep each one unique
	lock     *os.File // the state directory's lock, held until Run returns
	// unsaved is how many replies at the end of the outbox were queued
	// since the state was last written: sending one of them changes
	// nothing in the file, so it needs no write (and no fsync).
	unsaved int
	// dirty: posts were taken without a write (nothing ran for them); the
	// poll's last write records them, before their queued answers go out.
	dirty bool
}

type reloadReq struct {
	allow   []string
	handler Handler
}

// pacer holds when an endpoint may next be called.
type pacer struct {
	next      time.Time
	last      time.Time
	failures  int
	warnedAge bool // told that the limit's gap exceeds max_age
}

// NewBot checks the state directory and loads the state.
func NewBot(opt BotOptions) (*Bot, error) {
	if opt.Client == nil || opt.Handler == nil {
		return nil, errors.New("bot needs a client and a handler")
	}
	if len(opt.Listen) == 0 {
		opt.Listen = []string{InboxMentions}
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = 60 * time.Second
	}
	if opt.MaxAge <= 0 {
		opt.MaxAge = 10 * time.Minute
	}
	if opt.ClockFloor.IsZero() {
		opt.ClockFloor = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opt.MaxSkew <= 0 {
		opt.MaxSkew = 5 * time.Minute
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 5 * time.Minute
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if err := CheckStateDir(opt.StateDir); err != nil {
		return nil, &Fatal{err}
	}
	lock, err := lockStateDir(opt.StateDir)
	if err != nil {
		return nil, &Fatal{err}
	}
	st, err := LoadState(opt.StateDir)
	if err != nil {
		lock.Close()
		return nil, &Fatal{err}
	}
	removeTempFiles(opt.StateDir, opt.Logger)
	b := &Bot{
		lock:   lock,
		opt:    opt,
		log:    opt.Logger,
		st:     st,
		reload: make(chan reloadReq, 1),
		pace:   map[string]*pacer{},
	}
	return b, nil
}

// Close lets another bot use the state directory. Run closes it when it
// returns; call it after a Start that failed.
func (b *Bot) Close() error {
	if b.lock == nil {
		return nil
	}
	err := b.lock.Close()
	b.lock = nil
	return err
}

// State returns the bot's state (for tests and `verify`).
func (b *Bot) State() *State { return b.st }

// Account is the account the keys belong to, known after Start.
func (b *Bot) Account() User { return b.account }

// Reload swaps the allow list and the handler; the loop applies it between
// polls. It is safe to call from another goroutine.
func (b *Bot) Reload(allow []string, h Handler) {
	select {
	case <-b.reload:
	default:
	}
	b.reload <- reloadReq{allow, h}
}

// Start waits for a sane clock, learns the account (from the state when the
// keys are the same) and resolves the allow list. Wrong keys are *Fatal.
func (b *Bot) Start(ctx context.Context, keyID string) error {
	b.started = time.Now()
	if err := b.waitClock(ctx); err != nil {
		return err
	}
	if b.st.AccountID != "" && b.st.KeyID == keyID && keyID != "" {
		b.account = User{ID: b.st.AccountID, Username: b.st.AccountUsername}
		b.log.Info("account from state", "account_id", b.account.ID, "username", b.account.Username)
	} else {
		for {
			u, err := b.opt.Client.Me(ctx)
			if err == nil {
				b.account = u
				b.everOK = true
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.noteClock()
			if b.clockBad {
				b.log.Error("the clock is far from the API's; waiting for it to be set (is NTP running?)", "skew", b.skew.Round(time.Second).String())
			} else if k := KindOf(err); k == KindUnauthorized || k == KindForbidden {
				return &Fatal{fmt.Errorf("the API refused the keys: %w; %s", err, Fix(err))}
			} else {
				b.log.Warn("who am I: will retry", "err", err)
			}
			if err := sleep(ctx, b.backoff(b.pacer("start"), err)); err != nil {
				return err
			}
		}
		if b.st.AccountID != "" && b.st.AccountID != b.account.ID {
			// Other keys, another account: its cursors mean nothing here.
			b.log.Warn("the keys belong to another account than the state file; starting fresh from its newest posts",
				"old_account_id", b.st.AccountID, "account_id", b.account.ID)
			*b.st = State{Version: stateVersion}
		}
		b.st.AccountID, b.st.AccountUsername, b.st.KeyID = b.account.ID, b.account.Username, keyID
		if err := b.save(); err != nil {
			return err
		}
		b.log.Info("account", "account_id", b.account.ID, "username", b.account.Username)
	}
	return b.setAllow(ctx, b.opt.Allow)
}

// setAllow resolves the allow list: ids as they are, @handles through the
// state's cache or the API. A handle that cannot be resolved now is still
// matched by the username the API sends with each post.
func (b *Bot) setAllow(ctx context.Context, allow []string) error {
	ids, names, byID := map[string]bool{}, map[string]bool{}, map[string]string{}
	if b.st.Handles == nil {
		b.st.Handles = map[string]string{}
	}
	changed := false
	for _, a := range allow {
		if isID(a) {
			ids[a] = true
			continue
		}
		h := strings.ToLower(strings.TrimPrefix(a, "@"))
		if id, ok := b.st.Handles[h]; ok {
			ids[id], byID[id] = true, h
			continue
		}
		u, err := b.opt.Client.UserByUsername(ctx, h)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.log.Warn("allow: cannot resolve handle now; matching it by username until it resolves", "handle", "@"+h, "err", err)
			names[h] = true
			continue
		}
		ids[u.ID], byID[u.ID] = true, h
		b.st.Handles[h] = u.ID
		changed = true
	}
	b.allowIDs, b.allowName, b.names = ids, names, byID
	if changed {
		return b.save()
	}
	return nil
}

func (b *Bot) allowed(id, username string) bool {
	return b.allowIDs[id] || (username != "" && b.allowName[strings.ToLower(username)])
}

// waitClock waits until the local clock is past the floor.
func (b *Bot) waitClock(ctx context.Context) error {
	for warned := false; time.Now().Before(b.opt.ClockFloor); warned = true {
		if !warned {
			b.log.Warn("the clock is not set yet; waiting before using the network", "now", time.Now().UTC().Format(time.RFC3339))
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	return nil
}

// noteClock compares the local clock with the API's Date header.
func (b *Bot) noteClock() {
	d := b.opt.Client.ServerDate()
	if d.IsZero() {
		return
	}
	b.skew = time.Until(d)
	bad := b.skew > b.opt.MaxSkew || b.skew < -b.opt.MaxSkew
	if bad != b.clockBad {
		if bad {
			b.log.Error("the clock is far from the API's: nothing runs or is sent until it is set", "skew", b.skew.Round(time.Second).String())
		} else {
			b.log.Info("the clock agrees with the API's again", "skew", b.skew.Round(time.Second).String())
		}
	}
	b.clockBad = bad
}

// Run polls until ctx is cancelled (it then returns nil) or a fatal error.
func (b *Bot) Run(ctx context.Context) error {
	if b.account.ID == "" {
		return errors.New("bot: Run before Start")
	}
	defer func() {
		// Replies queued since the last write would be lost with the
		// process: keep them for the next start.
		if b.unsaved > 0 || b.dirty {
			if err := b.save(); err != nil {
				b.log.Error("save state at stop", "err", err)
			}
		}
		b.Close()
	}()
	for _, in := range b.opt.Listen {
		b.pacer(in).next = time.Now()
	}
	const tick = 10 * time.Second // wake at least this often, for the watchdog
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if b.opt.Progress != nil {
			b.opt.Progress()
		}
		now := time.Now()
		wake := now.Add(tick)
		for _, in := range b.opt.Listen {
			if p := b.pacer(in); p.next.Before(wake) {
				wake = p.next
			}
		}
		if len(b.st.Outbox) > 0 {
			if t := b.outboxNext(); t.Before(wake) {
				wake = t
			}
		}
		timer.Reset(max(0, wake.Sub(now)))
		select {
		case <-ctx.Done():
			return nil
		case r := <-b.reload:
			b.opt.Allow, b.opt.Handler = r.allow, r.handler
			if err := b.setAllow(ctx, r.allow); err != nil && ctx.Err() == nil {
				b.log.Error("reload: allow list", "err", err)
			}
			b.log.Info("reloaded", "allow", len(r.allow))
			continue
		case text, ok := <-b.opt.Notify:
			if !ok {
				b.opt.Notify = nil
				continue
			}
			b.notify(text)
		case <-timer.C:
		}
		for _, in := range b.opt.Listen {
			p := b.pacer(in)
			if time.Now().Before(p.next) {
				continue
			}
			err := b.poll(ctx, in)
			if ctx.Err() != nil {
				return nil
			}
			var f *Fatal
			if errors.As(err, &f) {
				return err
			}
			b.schedule(in, p, err)
		}
		if len(b.st.Outbox) > 0 && !time.Now().Before(b.outboxNext()) {
			if err := b.flush(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				var f *Fatal
				if errors.As(err, &f) {
					return err
				}
			}
		}
	}
}

func (b *Bot) pacer(name string) *pacer {
	p, ok := b.pace[name]
	if !ok {
		p = &pacer{}
		b.pace[name] = p
	}
	return p
}

// endpointOf is the rate-limited endpoint an inbox polls.
func endpointOf(inbox string) string {
	if inbox == InboxDMs {
		return EndpointDMEvents
	}
	return EndpointMentions
}

// schedule sets when an inbox is polled next, after a poll that ended in err.
func (b *Bot) schedule(inbox string, p *pacer, err error) {
	now := time.Now()
	p.last = now
	if err != nil {
		// A failed answer may still have spent the window (a 200 with a
		// body cut short, too long or not JSON): no retry before the
		// window's pace allows, however short the backoff.
		p.next = later(now.Add(b.backoff(p, err)), b.paced(endpointOf(inbox), now, 0))
		return
	}
	p.failures = 0
	p.next = b.paced(endpointOf(inbox), now, b.opt.PollInterval)
	if gap := p.next.Sub(now); gap > b.opt.MaxAge && !p.warnedAge {
		// The Free tier reads mentions once per 15 minutes: a command that
		// waits that long for a poll would be answered "too old".
		p.warnedAge = true
		b.log.Warn("the rate limit spaces polls wider than max_age: commands may be answered too old; raise max_age above the gap",
			"inbox", inbox, "gap", gap.Round(time.Second).String(), "max_age", b.opt.MaxAge.String())
	}
}

// dmPage is the page size of a DM read after a probe found something new:
// pages end at the first event seen before, so a few new messages cost a
// page of this many reads, not of a hundred.
const dmPage = 20

// dmProbe reports whether a DM poll looks at the newest event alone first.
// It costs a second request when something is new, so not where requests
// are scarce (X's Free tier reads DMs once per 15 minutes): there one
// request reads a whole page, as fast as the limit allows.
func (b *Bot) dmProbe() bool {
	rl, ok := b.opt.Client.RateLimits()[EndpointDMEvents]
	return !ok || rl.Limit == 0 || rl.Limit >= 10
}

// spent reports whether endpoint has no request left in its rate-limit
// window, by the latest answer's headers.
func (b *Bot) spent(endpoint string, now time.Time) bool {
	rl, ok := b.opt.Client.RateLimits()[endpoint]
	return ok && rl.Limit > 0 && rl.Remaining <= 0 && rl.Reset.Add(-b.skew).After(now)
}

// paced returns when an endpoint may be called next: no sooner than min
// after now, and spread so the remaining requests of the window last until
// it resets, so the bot never causes a 429.
func (b *Bot) paced(endpoint string, now time.Time, min time.Duration) time.Time {
	next := now.Add(min)
	rl, ok := b.opt.Client.RateLimits()[endpoint]
	if !ok || rl.Limit == 0 || rl.Reset.IsZero() {
		return next
	}
	// The reset is in the server's clock; a little margin covers the
	// Date header's one-second resolution.
	const margin = 2 * time.Second
	reset := rl.Reset.Add(-b.skew).Add(margin)
	if !reset.After(now) {
		return next
	}
	// Spread the remaining requests evenly, the last one a slot before the
	// reset, so every request of the window is used and none is over.
	var t time.Time
	if rl.Remaining <= 0 {
		t = reset
	} else {
		t = now.Add(reset.Sub(now) / time.Duration(rl.Remaining+1))
	}
	if t.After(next) {
		return t
	}
	return next
}

// backoff returns how long to wait after a failed call and counts the failure.
func (b *Bot) backoff(p *pacer, err error) time.Duration {
	p.failures++
	var ae *APIError
	errors.As(err, &ae)
	switch KindOf(err) {
	case KindRateLimited:
		if ae != nil && !ae.Reset.IsZero() {
			if d := time.Until(ae.Reset.Add(-b.skew)) + 2*time.Second; d > 0 {
				return d
			}
			// A reset already past, and still a 429: the clocks disagree
			// or the server does; back off as for any failure rather than
			// ask again every two seconds.
			break
		}
		return 15 * time.Minute
	case KindUnauthorized, KindForbidden:
		return max(5*time.Minute, b.opt.PollInterval)
	}
	d := time.Second << min(p.failures, 16)
	d = min(d, b.opt.MaxBackoff)
	// Full jitter in [d/2, d): many Pis restarting together spread out.
	return d/2 + rand.N(d/2+1)
}

// poll fetches one inbox and handles what is new.
func (b *Bot) poll(ctx context.Context, inbox string) error {
	var err error
	if inbox == InboxDMs {
		err = b.pollDMs(ctx)
	} else {
		err = b.pollMentions(ctx)
	}
	b.noteClock()
	if err == nil && b.dirty {
		// What was taken without a write of its own (posts that ran
		// nothing, sent DMs marked seen): one write for the whole poll,
		// before their queued answers go out.
		err = b.save()
	}
	if err == nil {
		b.everOK = true
		return nil
	}
	var f *Fatal
	if errors.As(err, &f) || ctx.Err() != nil {
		return err
	}
	switch KindOf(err) {
	case KindUnauthorized:
		if !b.everOK && !b.clockBad {
			return &Fatal{fmt.Errorf("the API refused the keys: %w; %s", err, Fix(err))}
		}
		b.log.Error("the API refused the keys; outputs stay as they are, retrying slowly", "inbox", inbox, "err", err, "fix", Fix(err))
	case KindForbidden:
		b.log.Error("the API refused the request", "inbox", inbox, "err", err, "fix", Fix(err))
	case KindRateLimited:
		b.log.Warn("rate limited; waiting for the reset", "inbox", inbox, "err", err)
	default:
		b.log.Warn("poll failed; backing off", "inbox", inbox, "err", err)
	}
	return err
}

func (b *Bot) pollMentions(ctx context.Context) error {
	if !b.st.MentionsStarted {
		// No state: the newest existing mention is the starting point.
		posts, err := b.opt.Client.Mentions(ctx, b.account.ID, MentionsParams{MaxResults: 5, MaxPages: 1})
		if err != nil {
			return fmt.Errorf("mentions (first start): %w", err)
		}
		if n := len(posts); n > 0 {
			b.st.MentionsSince, b.st.MentionsTaken = posts[n-1].ID, posts[n-1].ID
		}
		b.st.MentionsStarted = true
		b.log.Info("mentions: starting after the newest existing post; nothing older runs", "since_id", b.st.MentionsSince)
		return b.save()
	}
	posts, err := b.opt.Client.Mentions(ctx, b.account.ID, MentionsParams{SinceID: b.st.MentionsSince, MaxResults: 100})
	if err != nil {
		return fmt.Errorf("mentions since %s: %w", b.st.MentionsSince, err)
	}
	b.noteClock() // this answer's Date decides whether its commands run
	for _, p := range posts {
		if !IDLess(b.st.MentionsTaken, p.ID) {
			continue // taken before a restart
		}
		c := Command{Inbox: InboxMentions, ID: p.ID, AuthorID: p.AuthorID, AuthorUsername: p.AuthorUsername, Text: p.Text, CreatedAt: p.CreatedAt}
		if err := b.handle(ctx, c, func() { b.st.MentionsTaken = p.ID }); err != nil {
			return err
		}
	}
	if n := len(posts); n > 0 && IDLess(b.st.MentionsSince, posts[n-1].ID) {
		b.st.MentionsSince = posts[n-1].ID
		if IDLess(b.st.MentionsTaken, b.st.MentionsSince) {
			b.st.MentionsTaken = b.st.MentionsSince
		}
		return b.save()
	}
	return nil
}

// newestDM is the id of the account's newest DM event, "" when it has none:
// one event read.
func (b *Bot) newestDM(ctx context.Context) (string, error) {
	top, err := b.opt.Client.DirectMessages(ctx, DMParams{MaxResults: 1, MaxPages: 1})
	if err != nil {
		return "", err
	}
	b.noteClock()
	if len(top) == 0 {
		return "", nil
	}
	return top[len(top)-1].ID, nil // oldest first: the last is the newest
}

func (b *Bot) pollDMs(ctx context.Context) error {
	if !b.st.DMsStarted {
		// No state: the newest existing event is the starting point; every
		// id at or below it counts as seen (event ids grow with time).
		newest, err := b.newestDM(ctx)
		if err != nil {
			return fmt.Errorf("direct messages (first start): %w", err)
		}
		if IDLess(b.st.DMsFloor, newest) {
			b.st.DMsFloor = newest
		}
		b.st.DMsStarted = true
		b.log.Info("dms: starting after the newest existing message; nothing older runs", "floor", b.st.DMsFloor)
		return b.save()
	}
	p := DMParams{MaxResults: 100, Seen: b.st.seenDM}
	if b.dmProbe() {
		// dm_events has no since_id, and X bills every DM event an answer
		// returns: look at the newest event alone, and read on only when
		// it is new. An idle poll reads one event, not a page of old ones.
		newest, err := b.newestDM(ctx)
		if err != nil {
			return fmt.Errorf("direct messages: %w", err)
		}
		if newest == "" || b.st.seenDM(newest) {
			return nil
		}
		if b.spent(EndpointDMEvents, time.Now()) {
			// The probe took the window's last request: the next poll,
			// after the reset, finds the same new event and reads on.
			b.log.Debug("dms: new messages wait for the rate-limit reset")
			return nil
		}
		p.MaxResults = dmPage
	}
	dms, err := b.opt.Client.DirectMessages(ctx, p)
	if err != nil {
		return fmt.Errorf("direct messages: %w", err)
	}
	b.noteClock() // this answer's Date decides whether its commands run
	for _, d := range dms {
		if b.st.seenDM(d.ID) {
			continue
		}
		c := Command{Inbox: InboxDMs, ID: d.ID, AuthorID: d.SenderID, AuthorUsername: b.names[d.SenderID], Text: d.Text, CreatedAt: d.CreatedAt}
		if err := b.handle(ctx, c, func() { b.st.markDM(d.ID) }); err != nil {
			return err
		}
	}
	return nil
}

// handle decides about one post. take marks it taken in the state; the state
// is saved before any action runs, so a crash can lose a command but never
// run one twice.
func (b *Bot) handle(ctx context.Context, c Command, take func()) error {
	if c.AuthorID == b.account.ID {
		take()
		b.dirty = true
		return nil // our own post or sent DM: never acts
	}
	log := b.log.With("inbox", c.Inbox, "post_id", c.ID, "author_id", c.AuthorID, "author", c.AuthorUsername)
	if !b.allowed(c.AuthorID, c.AuthorUsername) {
		take()
		b.dirty = true
		log.Info("ignored: author not allowed", "text", config.Truncate(c.Text, 80))
		return nil
	}
	if b.clockBad {
		return fmt.Errorf("clock off by %s: not running %s", b.skew.Round(time.Second), c.ID)
	}
	if age := time.Since(c.CreatedAt); !c.CreatedAt.IsZero() && age > b.opt.MaxAge {
		// Nothing runs, so nothing is written yet: the poll's own write
		// records it taken together with its queued answer, which goes out
		// after that write. A backlog of old posts costs one write, not one
		// each.
		take()
		reply := fmt.Sprintf("Too old, not run: sent %s ago, the limit is %s.", age.Round(time.Second), b.opt.MaxAge)
		log.Info("command", "text", config.Truncate(c.Text, 200), "result", "too_old", "reply", reply)
		if b.opt.Reply {
			b.enqueue(b.outgoing(c, reply))
		}
		b.dirty = true
		return nil
	}
	snapshot := *b.st
	snapshot.SeenDMs = slices.Clone(b.st.SeenDMs)
	take()
	if err := b.save(); err != nil {
		*b.st = snapshot // not recorded, so not run: it is tried again
		return err
	}
	log.Info("run", "text", config.Truncate(c.Text, 200))
	reply := b.opt.Handler.Handle(ctx, c)
	log.Info("command", "text", config.Truncate(c.Text, 200), "result", "done", "reply", reply)
	if !b.opt.Reply || reply == "" {
		return nil
	}
	b.enqueue(b.outgoing(c, reply))
	// A reply that must wait stays queued; the poll itself went fine.
	_ = b.flush(ctx)
	return nil
}

// outgoing is the answer to c.
func (b *Bot) outgoing(c Command, reply string) Outgoing {
	o := Outgoing{Inbox: c.Inbox, Text: b.replyText(reply), Queued: time.Now(), base: reply}
	if c.Inbox == InboxDMs {
		o.To = c.AuthorID
	} else {
		o.InReplyTo = c.ID
	}
	return o
}

// notify DMs text to every allowed user whose id is known.
func (b *Bot) notify(text string) {
	ids := make([]string, 0, len(b.allowIDs))
	for id := range b.allowIDs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		b.enqueue(Outgoing{Inbox: InboxDMs, To: id, Text: b.replyText(text), Queued: time.Now(), base: text})
	}
	b.log.Info("notify", "text", text, "to", len(ids))
}

func (b *Bot) enqueue(o Outgoing) {
	if len(b.st.Outbox) >= maxOutbox {
		b.log.Warn("outbox full: dropping the oldest reply", "text", b.st.Outbox[0].Text)
		if len(b.st.Outbox) == b.unsaved {
			b.unsaved--
		}
		b.st.Outbox = b.st.Outbox[1:]
	}
	b.st.Outbox = append(b.st.Outbox, o)
	b.unsaved++
}

func sendEndpoint(o Outgoing) string {
	if o.Inbox == InboxDMs {
		return EndpointSendDM
	}
	return EndpointPost
}

// sendGrace is how long a reply already on its way may go on after the bot
// is told to stop.
const sendGrace = 2 * time.Second

// outlive returns a context that ends grace after ctx does, and its cancel.
func outlive(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(sctx, func() { t.Stop() }) // done sooner: no timer left
	})
	return sctx, func() { stop(); cancel() }
}

// outboxNext is when the first queued reply may go out.
func (b *Bot) outboxNext() time.Time {
	if len(b.st.Outbox) == 0 {
		return time.Time{}
	}
	now := time.Now()
	p := b.pacer(sendEndpoint(b.st.Outbox[0]))
	t := p.next
	rl := b.opt.Client.RateLimits()[sendEndpoint(b.st.Outbox[0])]
	if rl.DayLimit > 0 && rl.DayRemaining <= 0 && rl.DayReset.After(now) {
		t = later(t, rl.DayReset.Add(-b.skew).Add(2*time.Second))
	}
	if rl.Limit > 0 && rl.Remaining <= 0 && rl.Reset.After(now) {
		t = later(t, rl.Reset.Add(-b.skew).Add(2*time.Second))
	}
	return t
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// flush sends queued replies in order until one must wait.
func (b *Bot) flush(ctx context.Context) error {
	changed := false
	defer func() {
		if changed {
			if err := b.save(); err != nil {
				b.log.Error("save state", "err", err)
			}
		}
	}()
	restamps := 0
	for len(b.st.Outbox) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if b.clockBad {
			return nil
		}
		o := b.st.Outbox[0]
		if time.Now().Before(b.outboxNext()) {
			return nil
		}
		p := b.pacer(sendEndpoint(o))
		b.st.Outbox[0].tried = true
		// A send under way when the bot is told to stop may finish: cut
		// short, it may reach X without the bot knowing, and go out again
		// after the restart (X refuses a repeated post, not a repeated DM).
		sctx, sent := outlive(ctx, sendGrace)
		var err error
		if o.Inbox == InboxDMs {
			var id string
			if id, err = b.opt.Client.SendDM(sctx, o.To, o.Text); err == nil && id != "" && slices.Contains(b.opt.Listen, InboxDMs) {
				// It shows in dm_events too: known, the next poll need not
				// read on to see it.
				b.st.markDM(id)
				b.dirty = true
			}
		} else {
			_, err = b.opt.Client.Reply(sctx, o.InReplyTo, o.Text)
		}
		cut := sctx.Err() != nil
		sent()
		b.noteClock()
		if err != nil && cut {
			return ctx.Err() // unknown whether it went out: it stays queued
		}
		switch k := KindOf(err); {
		case k == KindDuplicate && err != nil && o.base != "" && !o.tried && restamps < 5:
			// This run never sent this text, yet the API has it: an earlier
			// run (killed and restarted within the second) sent the same
			// text to another post. Counting it as sent would leave this
			// command unanswered; stamp it anew instead.
			restamps++
			b.st.Outbox[0].Text, b.st.Outbox[0].tried = b.freshReplyText(o.base), false
			b.log.Info("reply text sent before by an earlier run; stamping it anew", "inbox", o.Inbox, "text", b.st.Outbox[0].Text)
			continue
		case err == nil || k == KindDuplicate:
			// A duplicate was sent before (a restart after sending): it counts.
			p.failures = 0
			b.everOK = true
			b.log.Info("sent", "inbox", o.Inbox, "in_reply_to", o.InReplyTo, "to", o.To, "text", o.Text, "duplicate", k == KindDuplicate && err != nil)
		case k == KindRateLimited || k == KindTransient || k == KindUnauthorized:
			p.next = time.Now().Add(b.backoff(p, err))
			b.log.Warn("reply waits", "inbox", o.Inbox, "err", err, "queued", len(b.st.Outbox), "retry_at", p.next.UTC().Format(time.RFC3339))
			return err
		default:
			// Not allowed (a DM to someone who does not accept them, a
			// deleted post): waiting will not help; drop it.
			b.log.Error("reply dropped", "inbox", o.Inbox, "err", err, "text", o.Text, "fix", Fix(err))
		}
		if len(b.st.Outbox) > b.unsaved {
			changed = true // it was in the file
		} else {
			b.unsaved--
		}
		b.st.Outbox = b.st.Outbox[1:]
	}
	return nil
}

func (b *Bot) save() error {
	if err := b.st.Save(b.opt.StateDir, time.Now()); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	b.unsaved, b.dirty = 0, false
	return nil
}

// Fix says what the user can do about a failed call: the one place the
// daemon's log and `tweetpi verify` take their advice from.
func Fix(err error) string {
	var ae *APIError
	if !errors.As(err, &ae) {
		return "check the network"
	}
	words := strings.ToLower(ae.Title + " " + ae.Detail)
	const perms = "its user authentication (OAuth 1.0a) must have the permissions \"Read and write and Direct messages\"; " +
		"after changing them, regenerate the access token and secret (or run tweetpi auth)"
	switch {
	case ae.Kind == KindUnauthorized:
		return "check the four keys in the config: all four (consumer key and secret, access token and secret) must match the app's \"Keys and tokens\" page " +
			"in the developer portal (tweetpi verify tells whose they are); after changing the app's permissions, regenerate the access token and secret " +
			"(or run tweetpi auth) and put the new ones in the config; a local clock far off is refused too"
	case strings.Contains(words, "enrolled") || strings.Contains(words, "attached to a project"):
		return "in the developer portal, attach the app to a Project (Projects & Apps: add the app to a project; a standalone app cannot call API v2); " + perms
	case ae.Code == 453 || strings.Contains(words, "subset of x api"):
		return "this access level cannot use this endpoint: set api: v2 in the config (v1.1 reads are closed to self-serve access), or in the developer portal move the app to a Project with a level that includes it"
	case ae.Kind == KindForbidden:
		return "in the developer portal, make sure the app is inside a Project; " + perms
	}
	return "see the API's words above"
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
