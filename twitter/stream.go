package twitter

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Defaults of StreamOptions.
const (
	// DefaultStreamIdle is how long the stream may send nothing at all, not
	// even a keep-alive (X sends one about every 20 s), before it is
	// reconnected.
	DefaultStreamIdle = 30 * time.Second
	// DefaultMaxLine bounds one line of the stream (an event with its
	// includes is a few KiB); a longer one ends the connection.
	DefaultMaxLine = 1 << 20
)

// The reconnect waits X documents ("Handling disconnections"); each wait
// gets up to a tenth more, at random, and never less.
const (
	networkStep  = 250 * time.Millisecond // network errors: linear steps
	networkMax   = 16 * time.Second
	httpFirst    = 5 * time.Second // HTTP errors: exponential
	httpMax      = 320 * time.Second
	limitFirst   = time.Minute // 429: exponential from a minute
	limitMax     = 16 * time.Minute
	maxErrorBody = 64 << 10 // what is read of a refused connection's answer
	readBuffer   = 4 << 10
)

// StreamOptions configure a Stream.
type StreamOptions struct {
	// UserID is the account. The stream carries the events of every
	// subscription of the app: events whose filter is another user are
	// skipped. "" keeps them all.
	UserID string
	// Idle is how long a connection may be silent before it is dropped and
	// made again; 0 is DefaultStreamIdle.
	Idle time.Duration
	// MaxLine bounds a line in bytes; 0 is DefaultMaxLine.
	MaxLine int
}

// Stream reads the Activity API stream (GET /2/activity/stream with the
// app's bearer token): one connection at a time, made again for as long as
// Run runs, with the waits X documents for each kind of failure. What
// happens comes out of Run as StreamUpdates, in order.
type Stream struct {
	a   *Activity
	opt StreamOptions

	// Run's own state.
	cleared bool // DELETE /2/connections/all was sent: once per Stream, that is per start
	back    backoff
	evs     []Event // decoded events of the current line
	line    []byte  // a line longer than the read buffer

	mu sync.Mutex
	st StreamStatus
}

// NewStream returns a Stream for opt. It connects when Run is called.
func (a *Activity) NewStream(opt StreamOptions) *Stream {
	if opt.Idle <= 0 {
		opt.Idle = DefaultStreamIdle
	}
	if opt.MaxLine <= 0 {
		opt.MaxLine = DefaultMaxLine
	}
	return &Stream{a: a, opt: opt}
}

// StreamUpdateKind says what a StreamUpdate is.
type StreamUpdateKind int

// Kinds of StreamUpdate.
const (
	// StreamUp: connected. Whatever came while it was down is not
	// delivered again: poll each inbox once now.
	StreamUp StreamUpdateKind = iota + 1
	// StreamDown: a connection ended or an attempt failed; Err says why,
	// Retry when the next attempt starts. Poll as usual until StreamUp.
	StreamDown
	// StreamKeepAlive: X's keep-alive arrived; the stream is alive
	// (progress, for a watchdog).
	StreamKeepAlive
	// StreamEvent: Event is a mention, a reply or a DM.
	StreamEvent
	// StreamSkipped: a line that is no event tweetpi reads (another event
	// type or user, an error X wrote, not JSON); Err says which.
	StreamSkipped
)

func (k StreamUpdateKind) String() string {
	switch k {
	case StreamUp:
		return "up"
	case StreamDown:
		return "down"
	case StreamKeepAlive:
		return "keep-alive"
	case StreamEvent:
		return "event"
	case StreamSkipped:
		return "skipped"
	}
	return "?"
}

// StreamUpdate is one thing that happened on the stream.
type StreamUpdate struct {
	Kind  StreamUpdateKind
	At    time.Time
	Event Event // StreamEvent

	// StreamDown and StreamSkipped: why. For StreamDown it is an *APIError
	// (a failure), an errDisconnect (X ended the stream: reconnect at
	// once) or a *RefusedError (Run returns it next).
	Err error
	// StreamDown: the wait before the next attempt, 0 for at once, and the
	// rule that chose it; Failures is how many attempts in a row failed.
	Retry    time.Duration
	Backoff  Backoff
	Failures int
}

// Backoff is the rule that sets the wait before the next attempt.
type Backoff int

// Backoff rules, from X's "Handling disconnections".
const (
	BackoffNone      Backoff = iota // at once: an established connection ended, or X asked to reconnect
	BackoffNetwork                  // TCP/IP errors and silence: +250 ms an attempt, up to 16 s
	BackoffHTTP                     // HTTP errors: 5 s, doubling, up to 320 s
	BackoffRateLimit                // 429: 1 min, doubling (or until the limit's reset), up to 16 min
)

func (b Backoff) String() string {
	switch b {
	case BackoffNone:
		return "none"
	case BackoffNetwork:
		return "network"
	case BackoffHTTP:
		return "http"
	case BackoffRateLimit:
		return "rate limit"
	}
	return "?"
}

// StreamStatus is the state of a Stream, for logs and `tweetpi status`.
type StreamStatus struct {
	Up         bool
	Since      time.Time // when it last went up or down; zero before Run
	Connects   int       // connections made
	Events     int       // events delivered
	KeepAlives int
	Skipped    int       // lines that were no event tweetpi reads
	LastData   time.Time // the last line, event or keep-alive
	Failures   int       // attempts in a row that failed
	Backoff    Backoff   // the rule of the wait in progress
	Retry      time.Time // when the next attempt starts; zero while up
	Err        error     // why it is down; nil while up
	Cleared    bool      // this start cleared the app's connections (TooManyConnections)
}

// Status is the stream's state now. Safe to call while Run runs.
func (s *Stream) Status() StreamStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *Stream) update(f func(st *StreamStatus)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
}

// outcome is how one attempt ended.
type outcome struct {
	err          error
	kind         Backoff   // the wait rule of a failure
	established  bool      // the connection delivered a line before it ended
	disconnect   bool      // it ended with X's operational-disconnect
	tooMany      bool      // TooManyConnections
	unauthorized bool      // 401: the bearer token was refused
	fatal        error     // a *RefusedError: Run returns it
	reset        time.Time // 429: the limit's reset, when sent
	token        Token     // the token the attempt sent
}

// Run connects and reads the stream until ctx ends (it then returns nil)
// or X refuses it (a *RefusedError: 403, 404, another 4xx with problem JSON,
// or a 401 again after a fresh token). Every other failure is retried:
// an established connection that ends is made again at once, an attempt
// that fails waits as its Backoff says. A TooManyConnections refusal
// first clears the app's stale connections (DELETE /2/connections/all),
// once in the Stream's life, and reconnects at once.
//
// Updates go to out (nil: none) in the order they happen; Run waits for
// the receiver, so a slow one slows the reading, not the memory. The
// silence timer does not run while Run waits for the receiver. Run may be
// called again after it returned (to try the stream again later), but not
// twice at once.
func (s *Stream) Run(ctx context.Context, out chan<- StreamUpdate) error {
	s.back = backoff{}   // a new run starts its waits afresh
	authRetried := false // a 401 got one fresh token
	quick := 0           // reconnects at once since a connection last delivered
	for {
		o := s.connect(ctx, out)
		if ctx.Err() != nil {
			s.update(func(st *StreamStatus) { st.Up, st.Since, st.Err, st.Retry = false, time.Now(), nil, time.Time{} })
			return nil
		}
		if o.established {
			s.back = backoff{}
			authRetried, quick = false, 0
		}
		u := StreamUpdate{Kind: StreamDown, Err: o.err, Backoff: o.kind}
		switch {
		case o.fatal != nil:
			u.Err, u.Backoff = o.fatal, BackoffNone
		case o.unauthorized && !authRetried:
			// X may have invalidated the token: one fresh one, at once.
			authRetried = true
			s.a.dropToken(o.token)
			u.Backoff = BackoffNone
		case o.unauthorized:
			o.fatal = &RefusedError{Op: opStream, Err: o.err}
			u.Err, u.Backoff = o.fatal, BackoffNone
		case o.tooMany && !s.cleared:
			s.cleared = true
			s.update(func(st *StreamStatus) { st.Cleared = true })
			n, err := s.a.clearConnections(ctx)
			if err != nil {
				u.Err = fmt.Errorf("%w; clearing the app's stale connections failed: %w", o.err, err)
				u.Retry = s.back.next(BackoffRateLimit, o.reset, time.Now())
				u.Backoff = BackoffRateLimit
			} else {
				u.Err = fmt.Errorf("%w; cleared %d stale connections of the app (DELETE /2/connections/all)", o.err, n)
				u.Backoff = BackoffNone
			}
		case o.established: // it delivered: again at once, whatever ended it
			u.Backoff = BackoffNone
		case o.disconnect && quick == 0:
			u.Backoff = BackoffNone
		default:
			if u.Backoff == BackoffNone {
				u.Backoff = BackoffHTTP // X asked to reconnect again before a line came
			}
			u.Retry = s.back.next(u.Backoff, o.reset, time.Now())
		}
		if !o.established && u.Backoff == BackoffNone {
			quick++
		}
		failed := !o.established
		s.update(func(st *StreamStatus) {
			if failed {
				st.Failures++
			} else {
				st.Failures = 0
			}
			u.Failures = st.Failures
			st.Up, st.Since, st.Err, st.Backoff = false, time.Now(), u.Err, u.Backoff
			st.Retry = time.Now().Add(u.Retry)
			if o.fatal != nil {
				st.Retry = time.Time{}
			}
		})
		if !s.send(ctx, out, u, nil) {
			return nil
		}
		if o.fatal != nil {
			return o.fatal
		}
		if u.Retry > 0 {
			t := time.NewTimer(u.Retry)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
}

// send gives u to out, stamped, with the silence timer stopped meanwhile;
// false when ctx ended first.
func (s *Stream) send(ctx context.Context, out chan<- StreamUpdate, u StreamUpdate, idle *silence) bool {
	if out == nil {
		return ctx.Err() == nil
	}
	u.At = time.Now()
	if idle != nil {
		select {
		case out <- u: // the receiver is there: no wait, nothing to stop
			return true
		default:
		}
		idle.stop()
		defer idle.restart()
	}
	select {
	case out <- u:
		return true
	case <-ctx.Done():
		return false
	}
}

// errSilent is a connection that sent nothing for the idle time.
type errSilent time.Duration

func (e errSilent) Error() string {
	return fmt.Sprintf("nothing, not even a keep-alive, for %s", time.Duration(e))
}
func (e errSilent) Timeout() bool { return true }

// connect makes one attempt and reads the connection until it ends.
func (s *Stream) connect(ctx context.Context, out chan<- StreamUpdate) outcome {
	tok, err := s.a.AppToken(ctx)
	if err != nil {
		return failure(err)
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, s.a.root+"/2/activity/stream", nil)
	if err != nil {
		return outcome{err: err, fatal: &RefusedError{Op: opStream, Err: err}}
	}
	s.a.setHeaders(req.Header, tok)
	// Uncompressed: a few bytes a minute need no gzip, and a Pi keeps no
	// inflater (tens of KiB) per connection.
	req.Header.Set("Accept-Encoding", "identity")
	timeout := s.a.c.timeout
	answer := time.AfterFunc(timeout, func() { cancel(errTimeout(timeout)) })
	defer answer.Stop()
	resp, err := s.a.app.RoundTrip(req)
	if err != nil {
		if cause := context.Cause(cctx); cause != nil && ctx.Err() == nil {
			err = cause
		}
		if ctx.Err() == nil && s.a.c.meter != nil {
			s.a.c.meter.Request(EndpointStream, 0)
		}
		return outcome{err: &APIError{Kind: KindTransient, Endpoint: EndpointStream, Err: stripURL(err)}, kind: BackoffNetwork, token: tok}
	}
	defer resp.Body.Close()
	s.a.c.limits.observe(EndpointStream, resp.Header, time.Now())
	if s.a.c.meter != nil {
		s.a.c.meter.Request(EndpointStream, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		o := refusedStream(resp)
		o.token = tok
		return o
	}
	answer.Stop()
	s.update(func(st *StreamStatus) {
		st.Up, st.Since, st.Err, st.Retry, st.Backoff = true, time.Now(), nil, time.Time{}, BackoffNone
		st.Connects++
	})
	if !s.send(ctx, out, StreamUpdate{Kind: StreamUp}, nil) {
		return outcome{err: ctx.Err()}
	}
	o := s.read(ctx, cctx, cancel, resp.Body, out)
	o.token = tok
	return o
}

// failure is the outcome of a failed call before the stream (the token).
func failure(err error) outcome {
	var re *RefusedError
	if errors.As(err, &re) {
		return outcome{err: err, fatal: err}
	}
	o := outcome{err: err, kind: BackoffNetwork}
	var ae *APIError
	if errors.As(err, &ae) {
		switch {
		case ae.Kind == KindRateLimited:
			o.kind, o.reset = BackoffRateLimit, ae.Reset
		case ae.Kind == KindNoCredits || ae.Kind == KindUsageCapped:
			o.kind = BackoffRateLimit // a top-up ends it: slowly, never in a loop
		case ae.Status != 0:
			o.kind = BackoffHTTP
		}
	}
	return o
}

// refusedStream is the outcome of a connection answered with another
// status than 200.
func refusedStream(resp *http.Response) outcome {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	ae := errorFromAnswer(EndpointStream, resp.StatusCode, resp.Header, body)
	o := outcome{err: ae, kind: BackoffHTTP}
	var l streamLine
	if json.Unmarshal(body, &l) == nil {
		if pr, ok := l.ends(); ok {
			if pr.tooManyConnections() {
				o.tooMany, o.kind, o.reset = true, BackoffRateLimit, ae.Reset
				return o
			}
			o.disconnect, o.kind = true, BackoffNone
			o.err = errDisconnect{pr.words()}
			return o
		}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		o.unauthorized = true
	case ae.Kind == KindRateLimited || resp.StatusCode == 420: // 420: the old streams' "enhance your calm"
		o.kind, o.reset = BackoffRateLimit, ae.Reset
	case ae.Kind == KindNoCredits || ae.Kind == KindUsageCapped:
		o.kind = BackoffRateLimit // a top-up or a higher cap ends it, not a change of access
	case ae.Kind == KindTransient:
		o.kind = BackoffHTTP
	default: // 403, 404 and the other 4xx: waiting does not change them
		o.fatal = &RefusedError{Op: opStream, Err: ae}
	}
	return o
}

// silence is a connection's silence timer: f runs when nothing arrived
// for d. Only the goroutine that reads the connection calls its methods.
//
// Each restart makes a new timer and stops the old one rather than
// Reset it: a Reset to a later time leaves the old deadline in the
// runtime's timer heap, and when that passes (10 s after each keep-alive)
// it wakes the process for nothing, and the runtime's monitor thread spins
// until the poller catches up. A stopped timer is dropped by its P's
// scheduler as soon as it runs.
type silence struct {
	d time.Duration
	f func()
	t *time.Timer
}

func newSilence(d time.Duration, f func()) *silence {
	return &silence{d: d, f: f, t: time.AfterFunc(d, f)}
}

// restart starts the wait for d again from now.
func (s *silence) restart() {
	s.t.Stop()
	s.t = time.AfterFunc(s.d, s.f)
}

// stop stops the wait until restart.
func (s *silence) stop() { s.t.Stop() }

// idleBody restarts the silence timer at every byte that arrives.
type idleBody struct {
	r io.Reader
	s *silence
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		b.s.restart()
	}
	return n, err
}

// read reads lines until the connection ends.
func (s *Stream) read(ctx, cctx context.Context, cancel context.CancelCauseFunc, body io.Reader, out chan<- StreamUpdate) outcome {
	idle := newSilence(s.opt.Idle, func() { cancel(errSilent(s.opt.Idle)) })
	defer idle.stop()
	br := bufio.NewReaderSize(&idleBody{r: body, s: idle}, readBuffer)
	var o outcome
	for {
		frag, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(s.line)+len(frag) > s.opt.MaxLine {
				s.line = nil
				o.err = &APIError{Kind: KindTransient, Endpoint: EndpointStream, Status: http.StatusOK, Title: "malformed stream",
					Detail: fmt.Sprintf("a line longer than %d bytes", s.opt.MaxLine)}
				o.kind = BackoffHTTP
				return o
			}
			s.line = append(s.line, frag...)
			continue
		}
		if err != nil {
			// A line cut short by the end is dropped.
			s.line = s.line[:0]
			if ctx.Err() != nil {
				o.err = ctx.Err()
				return o
			}
			if cause := context.Cause(cctx); cause != nil {
				err = cause
			} else if err == io.EOF {
				err = errors.New("the stream ended (EOF)")
			}
			o.err = &APIError{Kind: KindTransient, Endpoint: EndpointStream, Err: stripURL(err)}
			o.kind = BackoffNetwork
			return o
		}
		line := frag
		if len(s.line) > 0 {
			s.line = append(s.line, frag...)
			line = s.line
		}
		if len(line) > s.opt.MaxLine+2 { // the line end is not counted
			o.err = &APIError{Kind: KindTransient, Endpoint: EndpointStream, Status: http.StatusOK, Title: "malformed stream",
				Detail: fmt.Sprintf("a line longer than %d bytes", s.opt.MaxLine)}
			o.kind = BackoffHTTP
			s.line = nil
			return o
		}
		kind, err := s.handle(ctx, line, out, idle)
		if cap(s.line) > 64<<10 {
			s.line = nil // a long line's buffer is not kept
		} else {
			s.line = s.line[:0]
		}
		switch {
		case err != nil && kind == lineDisconnect:
			o.err, o.disconnect = err, true
			return o
		case ctx.Err() != nil:
			o.err = ctx.Err()
			return o
		}
		o.established = true
	}
}

// handle decodes one line and sends what it holds.
func (s *Stream) handle(ctx context.Context, line []byte, out chan<- StreamUpdate, idle *silence) (lineKind, error) {
	evs, kind, err := decodeLine(line, s.evs[:0])
	s.evs = evs
	now := time.Now()
	switch kind {
	case lineKeepAlive:
		s.update(func(st *StreamStatus) { st.KeepAlives++; st.LastData = now })
		s.send(ctx, out, StreamUpdate{Kind: StreamKeepAlive}, idle)
	case lineDisconnect:
		return kind, err
	case lineOther:
		s.update(func(st *StreamStatus) { st.Skipped++; st.LastData = now })
		s.send(ctx, out, StreamUpdate{Kind: StreamSkipped, Err: err}, idle)
	case lineEvents:
		s.a.c.bill(EndpointStream, billedEvents(evs))
		for i, e := range evs {
			evs[i] = Event{} // the slice is reused: drop the pointers
			if s.opt.UserID != "" && e.UserID != s.opt.UserID {
				s.update(func(st *StreamStatus) { st.Skipped++; st.LastData = now })
				if !s.send(ctx, out, StreamUpdate{Kind: StreamSkipped, Err: fmt.Errorf("%s event %s for user %s, not the account", e.Type, e.UUID, e.UserID)}, idle) {
					break
				}
				continue
			}
			s.update(func(st *StreamStatus) { st.Events++; st.LastData = now })
			if !s.send(ctx, out, StreamUpdate{Kind: StreamEvent, Event: e}, idle) {
				break
			}
		}
	}
	return kind, nil
}

// billedEvents is what a line of events bills: X bills each event it
// delivers (the account's or, on a shared app, another user's), a post as
// a post read and a DM as a DM event read. Each is named by its event
// uuid, so that a post that comes as both a mention and a reply is billed
// twice, as two deliveries; the resource id stands in when X sent no uuid.
func billedEvents(evs []Event) []Item {
	out := make([]Item, 0, len(evs))
	for _, e := range evs {
		id := e.UUID
		if id == "" {
			id = e.ID()
		}
		switch {
		case e.Post != nil:
			out = append(out, items(ChargePostRead, id)...)
		case e.DM != nil:
			out = append(out, items(ChargeDMRead, id)...)
		}
	}
	return out
}

// backoff counts the failed attempts of each kind since a connection last
// delivered a line.
type backoff struct{ network, http, limit int }

// next is the wait before the next attempt after a failure of kind: X's
// documented step or doubling, plus up to a tenth at random (never less:
// X's figures are floors). A 429 waits for the limit's reset when that is
// later, up to a day.
func (b *backoff) next(kind Backoff, reset, now time.Time) time.Duration {
	var d time.Duration
	switch kind {
	case BackoffNetwork:
		b.network++
		d = min(time.Duration(b.network)*networkStep, networkMax)
	case BackoffHTTP:
		b.http++
		d = min(httpFirst<<min(b.http-1, 16), httpMax)
	case BackoffRateLimit:
		b.limit++
		d = min(limitFirst<<min(b.limit-1, 16), limitMax)
		if r := reset.Sub(now); !reset.IsZero() && r > d && r <= 24*time.Hour {
			d = r
		}
	default:
		return 0
	}
	return d + rand.N(d/10+1)
}

// clearConnections ends every streaming connection of the app (DELETE
// /2/connections/all) and returns how many X ended.
func (a *Activity) clearConnections(ctx context.Context) (int, error) {
	tok, err := a.AppToken(ctx)
	if err != nil {
		return 0, err
	}
	ex, err := a.appCall(ctx, EndpointConnections, http.MethodDelete, "/2/connections/all", tok, nil, "")
	if err != nil {
		return 0, err
	}
	var ans struct {
		Data *struct {
			Killed int `json:"successful_kills"`
			Failed int `json:"failed_kills"`
		} `json:"data"`
	}
	if json.Unmarshal(ex.body, &ans) != nil || ans.Data == nil {
		return 0, &APIError{Kind: KindTransient, Endpoint: EndpointConnections, Status: ex.status, Title: "malformed answer", Detail: "no data"}
	}
	if ans.Data.Failed > 0 {
		return ans.Data.Killed, fmt.Errorf("%s: X could not end %d of the app's connections", EndpointConnections, ans.Data.Failed)
	}
	return ans.Data.Killed, nil
}
