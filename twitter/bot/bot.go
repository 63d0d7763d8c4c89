package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
)

// Inboxes the bot reads: config's names for them.
const (
	InboxMentions = config.InboxMentions
	InboxDMs      = config.InboxDMs
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

// Command is a post or a DM event, as a source brings it. The handler sees
// only those from an allowed person that pass every check.
type Command struct {
	Inbox          string // InboxMentions or InboxDMs
	ID             string // post or DM event id
	AuthorID       string
	AuthorUsername string // without @; "" when unknown
	Text           string
	CreatedAt      time.Time
	// EditOf are the ids of the earlier versions of an edited post, oldest
	// first (twitter.Post.EditOf). An edit of a post taken before is not
	// run again.
	EditOf []string
}

// Options configure a Bot.
type Options struct {
	Client  twitter.Client
	Handler Handler
	// Ledger is the state directory in use; nil: New opens StateDir's, and
	// the bot closes it when Run returns (or at Close).
	Ledger   *Ledger
	StateDir string
	Logger   *slog.Logger

	Listen       []string      // InboxMentions, InboxDMs; default mentions
	PollInterval time.Duration // the fastest each inbox is polled; default 60s
	// Allow is who may command: numeric user ids, and @handles, resolved to
	// ids at Start (a handle X does not know is *Fatal there; one X cannot
	// be asked about now lets nobody in until it resolves, retried). Posts
	// are matched by their author's id, never by a name.
	Allow []string
	// Handles are more @handles to resolve the same way, which let nobody
	// in by themselves: the devices' allow lists (see UserID).
	Handles []string
	MaxAge  time.Duration // older commands are answered "too old"; default 10m
	Reply   bool          // answer commands

	// Push are the sources that deliver by themselves (the Activity API
	// stream). While one is up for an inbox, that inbox is polled once at
	// once and then every ReconcileInterval (default 5m) instead of every
	// PollInterval.
	Push              []PushSource
	ReconcileInterval time.Duration

	// Activity, with Delivery auto or stream, is the X Activity API: the
	// bot subscribes the account to its inboxes' events and reads the
	// stream as a PushSource beside the polls (see Delivery*).
	Activity Activity
	Delivery string // DeliveryAuto (default), DeliveryStream or DeliveryPoll

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
	// MaxBackoff caps the wait after transient failures (5xx, timeouts,
	// a dropped connection); default max(PollInterval, 30s), so that the
	// bot is back within that of X.
	MaxBackoff time.Duration

	// Meter, when set, is the clients' twitter.Meter: the bot keeps its
	// estimate of what X bills in the state file, shows it in Status, and
	// with DailyBudget (USD per UTC day; 0: no cap) warns at 80 % and
	// withholds replies and notify DMs that would go past it, until 00:00
	// UTC. Commands still run.
	Meter       *Meter
	DailyBudget float64
}

// Fatal is returned by New, Start and Run for failures a restart cannot
// fix: wrong keys, a corrupt state file. cmd exits 78 on it.
type Fatal struct{ Err error }

func (f *Fatal) Error() string { return f.Err.Error() }
func (f *Fatal) Unwrap() error { return f.Err }

// Bot runs the sources, the checks, the commands and the replies. It is
// not safe for concurrent use, but for Reload.
type Bot struct {
	opt       Options
	log       *slog.Logger
	led       *Ledger
	ownLedger bool   // opened by New: closed when Run returns
	st        *State // led.st: written under led.mu, read freely by the loop

	sources []Source
	reload  chan reloadReq
	pushes  chan Push
	up      map[string]bool // inboxes a push source delivers now

	allow allowList

	account twitter.User
	started time.Time
	everOK  atomic.Bool // an API call succeeded since start
	// keysRefused: the latest poll was refused the keys (401): nothing
	// runs until one succeeds (the stream, on the app's token, still
	// delivers). The loop's.
	keysRefused bool

	pace    map[string]*pacer // the loop's: its sources' and the lookups'
	senders []*sender         // one per inbox, beside the loop
	stamps  stamps            // keep each reply text unique
	sentDMs sentLog           // DMs sent that no read has shown yet
	skipped map[string]bool   // ids from the API that are not X's, logged once

	// The clock, as the latest answer's Date header shows it; the loop and
	// the senders both look.
	clockMu  sync.Mutex   // orders noteClock's changes and their log lines
	skewNs   atomic.Int64 // server minus local clock, from the Date header
	clockBad atomic.Bool  // the skew is past MaxSkew: nothing runs or is sent

	live      live      // what Status shows, guarded for other goroutines
	fresh     int       // items new in the poll under way
	capped    bool      // budget.daily is reached: replies are withheld
	heartbeat time.Time // when the last heartbeat was logged
	spendSave time.Time // when a change of the estimate alone was last written
}

// The defaults of Options and Settings.
const (
	defaultPollInterval = 60 * time.Second
	defaultMaxAge       = 10 * time.Minute
)

// New checks the options and the state directory (or takes opt.Ledger)
// and loads the state.
func New(opt Options) (*Bot, error) {
	if opt.Client == nil || opt.Handler == nil {
		return nil, errors.New("bot needs a client and a handler")
	}
	if len(opt.Listen) == 0 {
		opt.Listen = []string{InboxMentions}
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = defaultPollInterval
	}
	if opt.ReconcileInterval <= 0 {
		opt.ReconcileInterval = 5 * time.Minute
	}
	if opt.MaxAge <= 0 {
		opt.MaxAge = defaultMaxAge
	}
	if opt.ClockFloor.IsZero() {
		opt.ClockFloor = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opt.MaxSkew <= 0 {
		opt.MaxSkew = 5 * time.Minute
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = max(opt.PollInterval, 30*time.Second)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Bot{
		opt:     opt,
		log:     opt.Logger,
		led:     opt.Ledger,
		reload:  make(chan reloadReq, 1),
		pushes:  make(chan Push, 16),
		up:      map[string]bool{},
		pace:    map[string]*pacer{},
		skipped: map[string]bool{},
	}
	if b.led == nil {
		led, err := OpenLedger(opt.StateDir, opt.Logger)
		if err != nil {
			return nil, &Fatal{err}
		}
		b.led, b.ownLedger = led, true
	}
	b.st = b.led.st
	for _, in := range []string{InboxMentions, InboxDMs} {
		b.senders = append(b.senders, &sender{b: b, inbox: in, wake: make(chan struct{}, 1)})
	}
	if opt.Meter != nil {
		b.led.mu.Lock()
		opt.Meter.restore(b.st.Spend)
		b.led.meter = opt.Meter
		b.led.mu.Unlock()
	}
	for _, in := range opt.Listen {
		s := b.newSource(in)
		if s == nil {
			b.Close()
			return nil, fmt.Errorf("bot: no inbox %q; listen to %s or %s", in, InboxMentions, InboxDMs)
		}
		b.sources = append(b.sources, s)
	}
	return b, nil
}

// Close lets another bot use the state directory when the bot opened it.
// Run closes it when it returns; call it after a Start that failed.
func (b *Bot) Close() error {
	if !b.ownLedger {
		return nil
	}
	return b.led.Close()
}

// State returns the bot's state (for tests and `verify`).
func (b *Bot) State() *State { return b.st }

// Ledger is the state directory the bot records in.
func (b *Bot) Ledger() *Ledger { return b.led }

// Account is the account the keys belong to, known after Start.
func (b *Bot) Account() twitter.User { return b.account }

// Start waits for a sane clock, learns the account (from the state when the
// keys are the same: twitter.KeyID of the access token) and resolves the
// allow list. Wrong keys are *Fatal.
func (b *Bot) Start(ctx context.Context, keyID string) error {
	b.started = time.Now()
	if err := b.waitClock(ctx); err != nil {
		return err
	}
	if b.st.AccountID != "" && b.st.KeyID == keyID && keyID != "" {
		b.account = twitter.User{ID: b.st.AccountID, Username: b.st.AccountUsername}
		b.log.Info("account from state", "account_id", b.account.ID, "username", b.account.Username)
	} else {
		for {
			u, err := b.opt.Client.Me(ctx)
			if err == nil {
				b.account = u
				b.everOK.Store(true)
				b.ok(b.pacer("start"), twitter.EndpointMe, time.Now())
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.noteClock()
			if b.clockBad.Load() {
				b.log.Error("the clock is far from the API's; waiting for it to be set (is NTP running?)", "skew", b.skew().Round(time.Second).String())
			} else if k := twitter.KindOf(err); k == twitter.KindUnauthorized || k == twitter.KindForbidden {
				return &Fatal{fmt.Errorf("the API refused the keys: %w; %s", err, twitter.Fix(err))}
			} else {
				b.log.Warn("who am I: will retry", "err", err)
			}
			if err := sleep(ctx, b.backoff(b.pacer("start"), err)); err != nil {
				return err
			}
		}
		b.led.mu.Lock()
		if b.st.AccountID != "" && b.st.AccountID != b.account.ID {
			// Other keys, another account: its cursors mean nothing here.
			b.log.Warn("the keys belong to another account than the state file; starting fresh from its newest posts",
				"old_account_id", b.st.AccountID, "account_id", b.account.ID)
			// The ids other namespaces took are not the account's: they stay.
			*b.st = State{Version: stateVersion, Taken: b.st.Taken}
		}
		b.st.AccountID, b.st.AccountUsername, b.st.KeyID = b.account.ID, b.account.Username, keyID
		err := b.saveLocked()
		b.led.mu.Unlock()
		if err != nil {
			return err
		}
		b.log.Info("account", "account_id", b.account.ID, "username", b.account.Username)
	}
	b.live.mu.Lock()
	b.live.account = b.account.Username
	b.live.mu.Unlock()
	if err := b.resumeListen(); err != nil {
		return err
	}
	return b.setAllow(ctx, b.opt.Allow, b.opt.Handles, true)
}

// resumeListen starts an inbox the last run did not listen to as at a
// first start, as a reload does (restart): what it got meanwhile never
// runs, and is not answered "too old" one by one. The inboxes listened to
// are written at once when they changed.
func (b *Bot) resumeListen() error {
	b.led.mu.Lock()
	prev := slices.Clone(b.st.Listening)
	b.led.mu.Unlock()
	if slices.Equal(prev, b.opt.Listen) {
		return nil
	}
	for _, in := range b.opt.Listen {
		if prev != nil && !slices.Contains(prev, in) {
			b.restart(in)
		}
	}
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	b.st.Listening = slices.Clone(b.opt.Listen)
	return b.saveLocked()
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
	b.clockMu.Lock()
	defer b.clockMu.Unlock()
	skew := time.Until(d)
	b.skewNs.Store(int64(skew))
	bad := skew > b.opt.MaxSkew || skew < -b.opt.MaxSkew
	if bad != b.clockBad.Load() {
		if bad {
			b.log.Error("the clock is far from the API's: nothing runs or is sent until it is set", "skew", skew.Round(time.Second).String())
		} else {
			b.log.Info("the clock agrees with the API's again", "skew", skew.Round(time.Second).String())
		}
	}
	b.clockBad.Store(bad)
}

// skew is the server's clock minus the local one, as last seen.
func (b *Bot) skew() time.Duration { return time.Duration(b.skewNs.Load()) }

// Run runs the sources until ctx is cancelled (it then returns nil) or a
// fatal error: the polls when they are due, what the push sources
// deliver, the reloads and the notifications, one at a time; the replies
// go out beside it (one sender per inbox), so that a slow endpoint never
// holds it.
func (b *Bot) Run(ctx context.Context) error {
	if b.account.ID == "" {
		return errors.New("bot: Run before Start")
	}
	pctx, stopPush := context.WithCancel(ctx)
	pushDone := b.startPush(pctx)
	sendersDone := b.startSenders(pctx) // they end with the loop, whatever ends it
	defer func() {
		stopPush()
		pushDone()
		sendersDone() // a send under way gets sendGrace
		// Replies queued since the last write would be lost with the
		// process: keep them for the next start.
		b.led.mu.Lock()
		write := b.led.dirty || (b.opt.Meter != nil && b.opt.Meter.unsaved())
		for i := range b.st.Outbox {
			o := &b.st.Outbox[i]
			o.keep = true
			write = write || !o.saved
		}
		b.led.mu.Unlock()
		if write {
			if err := b.save(); err != nil {
				b.log.Error("save state at stop", "err", err)
			}
		}
		b.Close()
	}()
	for _, s := range b.sources {
		b.pacer(s.Inbox()).next = time.Now()
	}
	b.setDelivery(DeliveryPoll)
	b.heartbeat = time.Now()
	b.checkBudget()
	tick := 10 * time.Second // wake at least this often, for the watchdog
	timer := time.NewTimer(0)
	defer func() { timer.Stop() }()
	for {
		if b.opt.Progress != nil {
			b.opt.Progress()
		}
		now := time.Now()
		wake := now.Add(b.tick(tick))
		for _, s := range b.sources {
			if p := b.pacer(s.Inbox()); p.next.Before(wake) {
				wake = p.next
			}
		}
		if b.pendingHandles() {
			if t := b.pacer(twitter.EndpointUserByName).next; t.Before(wake) {
				wake = t
			}
		}
		timer = rearm(timer, max(0, wake.Sub(now)))
		select {
		case <-ctx.Done():
			return nil
		case r := <-b.reload:
			b.applySettings(ctx, r)
			continue
		case text, ok := <-b.opt.Notify:
			if !ok {
				b.opt.Notify = nil
				continue
			}
			b.notify(text)
		case p := <-b.pushes:
			if err := b.pushed(ctx, p); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				var f *Fatal
				if errors.As(err, &f) {
					return err
				}
			}
		case <-timer.C:
		}
		if b.pendingHandles() && !time.Now().Before(b.pacer(twitter.EndpointUserByName).next) {
			b.resolvePending(ctx)
			if ctx.Err() != nil {
				return nil
			}
		}
		for _, s := range b.sources {
			p := b.pacer(s.Inbox())
			if time.Now().Before(p.next) {
				continue
			}
			b.fresh = 0
			err := b.poll(ctx, s)
			if ctx.Err() != nil {
				return nil
			}
			var f *Fatal
			if errors.As(err, &f) {
				return err
			}
			b.schedule(s, p, err)
			b.logPoll(s, p, err)
		}
		b.afterRound()
	}
}

// save writes the state file.
func (b *Bot) save() error {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	return b.saveLocked()
}

// saveLocked writes the state file; b.led.mu is held. The senders are
// woken: what waited for the write may go out.
func (b *Bot) saveLocked() error {
	if err := b.led.save(); err != nil {
		return err
	}
	b.wakeSenders()
	return nil
}

// dirty reports whether the state holds changes the file does not.
func (b *Bot) dirty() bool {
	b.led.mu.Lock()
	defer b.led.mu.Unlock()
	return b.led.dirty
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
