// Package twittertest is an in-process fake of the X API, like
// net/http/httptest: a server that speaks API v2 and v1.1 at the real paths
// with the real JSON shapes, checks the OAuth 1.0a signature of every
// request with its own RFC 5849 code, keeps rate-limit windows with the real
// headers, refuses duplicate posts, records what the account sends and
// injects faults on demand.
//
// It is for tests, `tweetpi demo` and benchmarks. It never talks to X.
package twittertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// Options configure a Server.
type Options struct {
	// Handle is the account's handle without @ (default "mypi").
	Handle string
	// Tier sets the rate limits every endpoint starts with (default
	// TierUnlimited: limits too high to reach, headers still sent).
	Tier Tier
	// Credentials are the keys the server accepts for the account; empty
	// fields are made up.
	Credentials twitter.Credentials
	// InMemory serves over in-memory pipes instead of loopback TCP: use
	// Transport() in the client. Needed under testing/synctest, where a
	// goroutine blocked on a real socket keeps the fake clock still.
	InMemory bool
	// KeepAlive is how often the Activity stream writes a keep-alive (an
	// empty line) when it has nothing else to write; 0 is X's 20 s.
	KeepAlive time.Duration
	// StreamLimit is how many Activity stream connections the app may hold
	// at once; 0 is 1. One more is refused with TooManyConnections.
	StreamLimit int
}

// Tier is a set of rate limits like one of X's API tiers. X's own pages
// disagree about the numbers; these are close to what its headers said.
type Tier int

// Tiers.
const (
	TierUnlimited Tier = iota
	TierFree
	TierBasic
	TierPro
)

// Limit is a rate-limit window.
type Limit struct {
	Limit  int
	Window time.Duration
}

func (t Tier) limits() (window, day map[string]Limit) {
	const q, d = 15 * time.Minute, 24 * time.Hour
	switch t {
	case TierFree:
		return map[string]Limit{
				twitter.EndpointMe: {25, d}, twitter.EndpointUserByName: {3, q}, twitter.EndpointMentions: {1, q},
				twitter.EndpointDMEvents: {1, q}, twitter.EndpointPost: {17, d}, twitter.EndpointSendDM: {1, q},
			}, map[string]Limit{
				twitter.EndpointPost: {17, d},
			}
	case TierBasic:
		return map[string]Limit{
				twitter.EndpointMe: {250, d}, twitter.EndpointUserByName: {100, d}, twitter.EndpointMentions: {10, q},
				twitter.EndpointDMEvents: {15, q}, twitter.EndpointPost: {100, d}, twitter.EndpointSendDM: {15, q},
			}, map[string]Limit{
				twitter.EndpointPost: {100, d},
			}
	case TierPro:
		return map[string]Limit{
				twitter.EndpointMe: {75, q}, twitter.EndpointUserByName: {300, q}, twitter.EndpointMentions: {300, q},
				twitter.EndpointDMEvents: {300, q}, twitter.EndpointPost: {100, q}, twitter.EndpointSendDM: {200, q},
			}, map[string]Limit{
				twitter.EndpointPost: {10000, d},
			}
	}
	m := map[string]Limit{}
	for _, ep := range apiEndpoints {
		m[ep] = Limit{1_000_000, q}
	}
	return m, map[string]Limit{}
}

var apiEndpoints = []string{
	twitter.EndpointMe, twitter.EndpointUserByName, twitter.EndpointMentions,
	twitter.EndpointDMEvents, twitter.EndpointPost, twitter.EndpointSendDM,
}

// Endpoints of the OAuth flow, for Requests and Fail.
const (
	EndpointRequestToken = "oauth/request_token"
	EndpointAuthorize    = "oauth/authorize"
	EndpointAccessToken  = "oauth/access_token"
)

// Fault is a failure injected into the answers of one endpoint.
type Fault struct {
	Status    int           // answer with this status (default 500 when nothing else is set)
	Body      string        // and this body (default: the version's error shape)
	Count     int           // how many requests it hits; 0 is one, -1 is every one
	Delay     time.Duration // wait this long first (or until the client gives up); alone, the answer is then normal
	Malformed bool          // answer 200 with truncated JSON
	Drop      bool          // close the connection without an answer
	// Lost: the request takes effect (a post made, a DM sent), then the
	// connection closes without an answer, as when X accepted it and the
	// answer was lost or came after the client's timeout.
	Lost bool
}

// Reply is a post the account made through the API.
type Reply struct {
	ID        string
	InReplyTo string // "" when not a reply
	Text      string
	At        time.Time
}

// SentDM is a direct message the account sent through the API.
type SentDM struct {
	ID   string
	To   string // user id
	Text string
	At   time.Time
}

// Event is something the account sent, for Watch.
type Event struct {
	Reply *Reply  // a post or reply; nil for a DM
	DM    *SentDM // a DM; nil for a post
}

// Server is the fake X API. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL, like https://api.x.com: the API paths (/2/...,
	// /1.1/..., /oauth/...) are under it.
	URL string

	hs       *httptest.Server
	pipe     *pipeListener
	consumer twitter.Credentials // ConsumerKey/Secret; AccessToken/Secret: the first pair
	pin      string

	mu        sync.Mutex
	clock     func() time.Time
	seq       int64
	lastID    int64
	account   twitter.User
	users     map[string]twitter.User // by id
	byName    map[string]string       // lower-case handle -> id
	nextUser  int64
	posts     []*post
	dms       []*dmEvent
	replies   []Reply
	sent      []SentDM
	tokens    map[string]string // access token -> secret (all the account's)
	requests  map[string]string // request token -> secret
	nonces    map[string]time.Time
	windows   map[string]*window
	days      map[string]*window
	faults    map[string][]*Fault
	log       map[string][]time.Time
	reads     map[string]int
	billed    map[string]int  // by charge, this UTC day's reads deduplicated (Billed)
	billDay   string          // the UTC day of billSeen
	billSeen  map[string]bool // charge and id of what was billed on billDay
	watchers  []func(Event)
	mentionsN int  // the v2 cap on reachable mentions
	noCredits bool // every API request answers 402 (UseUpCredits)
	capped    bool // every API request answers 429 usage-capped (CapUsage)

	activity // the Activity API: the app token, subscriptions, streams
}

type post struct {
	id        int64
	author    string
	text      string
	created   time.Time
	inReplyTo string
	convo     string
	history   []int64 // the ids of every version, oldest first, this one last (edit_history_tweet_ids)
	edited    bool    // a later version exists: timelines show that one
}

type dmEvent struct {
	id                int64
	sender, recipient string
	text              string
	created           time.Time
}

type window struct {
	limit int
	dur   time.Duration
	start time.Time
	used  int
}

// NewServer starts a fake X API with one account. Close it when done.
func NewServer(opt Options) *Server {
	handle := strings.TrimPrefix(opt.Handle, "@")
	if handle == "" {
		handle = "mypi"
	}
	c := opt.Credentials
	fill := func(s *string, n int) {
		if *s == "" {
			*s = randomString(n)
		}
	}
	fill(&c.ConsumerKey, 25)
	fill(&c.ConsumerSecret, 50)
	fill(&c.AccessToken, 40)
	fill(&c.AccessTokenSecret, 45)
	s := &Server{
		consumer:  c,
		pin:       fmt.Sprintf("%07d", randomInt(10_000_000)),
		clock:     time.Now,
		users:     map[string]twitter.User{},
		byName:    map[string]string{},
		nextUser:  1_500_000_000,
		tokens:    map[string]string{c.AccessToken: c.AccessTokenSecret},
		requests:  map[string]string{},
		nonces:    map[string]time.Time{},
		windows:   map[string]*window{},
		days:      map[string]*window{},
		faults:    map[string][]*Fault{},
		log:       map[string][]time.Time{},
		reads:     map[string]int{},
		billed:    map[string]int{},
		billSeen:  map[string]bool{},
		mentionsN: 800,
	}
	s.activity = newActivity(opt)
	s.account = s.addUser(handle)
	// The account's id prefixes its first access token, as X's do.
	delete(s.tokens, c.AccessToken)
	if opt.Credentials.AccessToken == "" {
		c.AccessToken = s.account.ID + "-" + c.AccessToken
		s.consumer.AccessToken = c.AccessToken
	}
	s.tokens[c.AccessToken] = c.AccessTokenSecret
	win, day := opt.Tier.limits()
	for ep, l := range win {
		s.windows[ep] = &window{limit: l.Limit, dur: l.Window}
	}
	for ep, l := range day {
		s.days[ep] = &window{limit: l.Limit, dur: l.Window}
	}

	s.hs = httptest.NewUnstartedServer(s.routes())
	if opt.InMemory {
		s.hs.Listener.Close()
		s.pipe = newPipeListener()
		s.hs.Listener = s.pipe
	}
	s.hs.Start()
	s.URL = s.hs.URL
	return s
}

// Close shuts the server down and waits for requests in flight (the
// Activity streams end first).
func (s *Server) Close() {
	s.mu.Lock()
	s.endStreams(endClose)
	s.mu.Unlock()
	s.hs.Close()
}

// Transport is the RoundTripper a client must use to reach the server; for
// an InMemory server it dials the in-memory pipes.
func (s *Server) Transport() http.RoundTripper {
	if s.pipe != nil {
		return &http.Transport{
			DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return s.pipe.dial(ctx) },
			DisableKeepAlives: true,
		}
	}
	return &http.Transport{DisableKeepAlives: true}
}

// Credentials are the four valid keys of the account.
func (s *Server) Credentials() twitter.Credentials { return s.consumer }

// Account is the account the keys belong to.
func (s *Server) Account() twitter.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.account
}

// PIN is the code GET /oauth/authorize shows, for POST /oauth/access_token.
func (s *Server) PIN() string { return s.pin }

// SetClock replaces time.Now for ids, timestamps, the OAuth clock check and
// rate-limit windows.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
}

// AddUser adds a user (or returns the one with that handle).
func (s *Server) AddUser(handle string) twitter.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUser(handle)
}

func (s *Server) addUser(handle string) twitter.User {
	handle = strings.TrimPrefix(handle, "@")
	if id, ok := s.byName[strings.ToLower(handle)]; ok {
		return s.users[id]
	}
	s.nextUser++
	u := twitter.User{ID: strconv.FormatInt(s.nextUser, 10), Username: handle}
	s.users[u.ID] = u
	s.byName[strings.ToLower(handle)] = u.ID
	return u
}

// twitterEpoch is the snowflake epoch, in Unix milliseconds.
const twitterEpoch = 1288834974657

// newID returns a snowflake for time t: ((ms-epoch)<<22)|seq. Ids made for
// the same moment increase in the order they were made. Call with s.mu held.
func (s *Server) newID(t time.Time) int64 {
	s.seq = (s.seq + 1) & (1<<22 - 1)
	ms := t.UnixMilli() - twitterEpoch
	if ms < 0 {
		ms = 0
	}
	id := ms<<22 | s.seq
	if id <= s.lastID && id>>22 == s.lastID>>22 {
		id = s.lastID + 1
	}
	if id > s.lastID {
		s.lastID = id
	}
	return id
}

// TimeOf is the creation time a snowflake id encodes. Times before the
// snowflake epoch (2010-11-04) all encode as the epoch: a testing/synctest
// bubble starts in 2000, so sleep to a later date first.
func TimeOf(id string) time.Time {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(n>>22 + twitterEpoch)
}

// Post makes author post text, age ago. It is a mention of the account
// when the text holds @handle of the account (any case).
func (s *Server) Post(author twitter.User, text string, age time.Duration) twitter.Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.addPost(author.ID, text, s.clock().Add(-age), "")
	return s.postOf(p)
}

// Edit makes the author of p edit it to text, as X's edit button does: a
// new post with a new id, whose edit_history_tweet_ids name every version;
// timelines (the mentions) show the newest version only. It returns the
// new version.
func (s *Server) Edit(p twitter.Post, text string) twitter.Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.findPost(p.ID)
	if old == nil {
		panic("twittertest: Edit of a post the server does not have: " + p.ID)
	}
	e := s.storePost(old.author, text, s.clock(), old.inReplyTo)
	e.convo = old.convo
	e.history = append(append([]int64(nil), old.history...), e.id)
	old.edited = true
	s.streamPost(e) // with its whole history, as X's edit event
	return s.postOf(e)
}

// addPost stores a post and writes its stream events; call with s.mu held.
func (s *Server) addPost(author, text string, at time.Time, inReplyTo string) *post {
	p := s.storePost(author, text, at, inReplyTo)
	s.streamPost(p)
	return p
}

// storePost stores a post; call with s.mu held.
func (s *Server) storePost(author, text string, at time.Time, inReplyTo string) *post {
	p := &post{id: s.newID(at), author: author, text: text, created: at, inReplyTo: inReplyTo}
	p.convo = strconv.FormatInt(p.id, 10)
	p.history = []int64{p.id}
	if inReplyTo != "" {
		if q := s.findPost(inReplyTo); q != nil {
			p.convo = q.convo
		}
	}
	s.posts = append(s.posts, p)
	sort.Slice(s.posts, func(i, j int) bool { return s.posts[i].id < s.posts[j].id })
	return p
}

func (s *Server) findPost(id string) *post {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	for _, p := range s.posts {
		if p.id == n {
			return p
		}
	}
	return nil
}

func (s *Server) postOf(p *post) twitter.Post {
	return twitter.Post{
		ID:             strconv.FormatInt(p.id, 10),
		AuthorID:       p.author,
		AuthorUsername: s.users[p.author].Username,
		Text:           p.text,
		CreatedAt:      p.created.UTC().Truncate(time.Millisecond),
		ConversationID: p.convo,
		EditOf:         editOf(p),
	}
}

// editOf are the ids of the earlier versions of p, oldest first.
func editOf(p *post) []string {
	var ids []string
	for _, id := range p.history {
		if id != p.id {
			ids = append(ids, strconv.FormatInt(id, 10))
		}
	}
	return ids
}

// SendDM makes from send text to the account, age ago.
func (s *Server) SendDM(from twitter.User, text string, age time.Duration) twitter.DM {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.addDM(from.ID, s.account.ID, text, s.clock().Add(-age))
	return s.dmOf(e)
}

func (s *Server) addDM(from, to, text string, at time.Time) *dmEvent {
	e := &dmEvent{id: s.newID(at), sender: from, recipient: to, text: text, created: at}
	s.dms = append(s.dms, e)
	sort.Slice(s.dms, func(i, j int) bool { return s.dms[i].id < s.dms[j].id })
	s.streamDM(e)
	return e
}

func (s *Server) dmOf(e *dmEvent) twitter.DM {
	return twitter.DM{
		ID:             strconv.FormatInt(e.id, 10),
		SenderID:       e.sender,
		Text:           e.text,
		CreatedAt:      e.created.UTC().Truncate(time.Millisecond),
		ConversationID: convoID(e.sender, e.recipient),
	}
}

func convoID(a, b string) string {
	if len(b) < len(a) || (len(a) == len(b) && b < a) {
		a, b = b, a
	}
	return a + "-" + b
}

// Replies are the posts the account made through the API, in order.
func (s *Server) Replies() []Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Reply(nil), s.replies...)
}

// SentDMs are the DMs the account sent through the API, in order.
func (s *Server) SentDMs() []SentDM {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentDM(nil), s.sent...)
}

// Watch calls f for every post and DM the account sends, as it arrives, on
// the request's goroutine after the answer is decided. f must not block long.
func (s *Server) Watch(f func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = append(s.watchers, f)
}

func (s *Server) notify(e Event) {
	s.mu.Lock()
	ws := slices.Clone(s.watchers)
	s.mu.Unlock()
	for _, f := range ws {
		f(e)
	}
}

// SetLimit sets the rate-limit window of an endpoint (twitter.Endpoint*)
// and starts it afresh.
func (s *Server) SetLimit(endpoint string, limit int, per time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.windows[endpoint] = &window{limit: limit, dur: per}
}

// SetDayLimit sets a 24-hour user limit (x-user-limit-24hour-*) on an
// endpoint, like X's limit on posts; limit 0 removes it.
func (s *Server) SetDayLimit(endpoint string, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit <= 0 {
		delete(s.days, endpoint)
		return
	}
	s.days[endpoint] = &window{limit: limit, dur: 24 * time.Hour}
}

// Fail injects f into the next requests to endpoint (after those already
// queued). f.Count 0 hits one request, -1 every one until ClearFaults.
func (s *Server) Fail(endpoint string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Count == 0 {
		f.Count = 1
	}
	s.faults[endpoint] = append(s.faults[endpoint], &f)
}

// UseUpCredits makes every API request answer 402 Payment Required, as X
// does once a pay-per-use app's credits are used up, until it is called
// with false (a top-up).
func (s *Server) UseUpCredits(used bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noCredits = used
}

// CapUsage makes every API request answer 429 with the problem type
// usage-capped (ProblemUsageCapped), as X does once the app reaches the
// spending cap set in the developer console, until called with false.
func (s *Server) CapUsage(capped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.capped = capped
}

// ClearFaults drops every fault not yet used.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string][]*Fault{}
}

// Requests is how many requests reached endpoint, whatever the answer.
func (s *Server) Requests(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log[endpoint])
}

// Reads is how many posts or DM events the answers of endpoint returned.
// X's pay-per-use pricing bills each one, whether or not it was new.
func (s *Server) Reads(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[endpoint]
}

// Billed is what X would bill the app for, by charge (twitter.Charge*
// names), since the server started: each post, user and DM event an answer
// returned, once per UTC day by the server's clock (X deduplicates a
// resource read again within the day), each event the Activity stream
// delivered, and each write the account made.
func (s *Server) Billed() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.billed)
}

// bill counts what an answer returned; call with s.mu held.
func (s *Server) bill(now time.Time, items ...twitter.Item) {
	if day := now.UTC().Format(time.DateOnly); day != s.billDay {
		s.billDay, s.billSeen = day, map[string]bool{}
	}
	for _, it := range items {
		key := it.Charge + " " + it.ID
		if s.billSeen[key] {
			continue
		}
		s.billSeen[key] = true
		s.billed[it.Charge]++
	}
}

// charge is the items of one charge for ids.
func charge(c string, ids ...string) []twitter.Item {
	out := make([]twitter.Item, 0, len(ids))
	for _, id := range ids {
		out = append(out, twitter.Item{Charge: c, ID: id})
	}
	return out
}

// postCharge is what a post of the account bills: a reply, or a post
// that answers nothing.
func postCharge(inReplyTo, id string) []twitter.Item {
	if inReplyTo != "" {
		return charge(twitter.ChargeReply, id)
	}
	return charge(twitter.ChargePost, id)
}

// RequestTimes are the times (by the server's clock) of the requests to
// endpoint, in order.
func (s *Server) RequestTimes(endpoint string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.log[endpoint]...)
}

// takeFault returns the fault for this request, if any; call with s.mu held.
func (s *Server) takeFault(ep string) *Fault {
	q := s.faults[ep]
	if len(q) == 0 {
		return nil
	}
	f := q[0]
	if f.Count > 0 {
		f.Count--
		if f.Count == 0 {
			s.faults[ep] = q[1:]
		}
	}
	return f
}

// spend checks and counts a request against the endpoint's windows; it
// returns false when a limit is spent. Call with s.mu held.
func (s *Server) spend(ep string, now time.Time) bool {
	w, d := s.windows[ep], s.days[ep]
	for _, x := range []*window{w, d} {
		if x != nil && (x.start.IsZero() || !now.Before(x.start.Add(x.dur))) {
			x.start, x.used = now, 0
		}
	}
	if (w != nil && w.used >= w.limit) || (d != nil && d.used >= d.limit) {
		return false
	}
	for _, x := range []*window{w, d} {
		if x != nil {
			x.used++
		}
	}
	return true
}

// limitHeaders writes the x-rate-limit-* headers; call with s.mu held.
func (s *Server) limitHeaders(h http.Header, ep string, now time.Time) {
	reset := func(x *window) string {
		start := x.start
		if start.IsZero() {
			start = now
		}
		end := start.Add(x.dur)
		sec := end.Unix()
		if end.After(time.Unix(sec, 0)) {
			sec++
		}
		return strconv.FormatInt(sec, 10)
	}
	if w := s.windows[ep]; w != nil {
		h.Set("x-rate-limit-limit", strconv.Itoa(w.limit))
		h.Set("x-rate-limit-remaining", strconv.Itoa(max(w.limit-w.used, 0)))
		h.Set("x-rate-limit-reset", reset(w))
	}
	if d := s.days[ep]; d != nil {
		h.Set("x-user-limit-24hour-limit", strconv.Itoa(d.limit))
		h.Set("x-user-limit-24hour-remaining", strconv.Itoa(max(d.limit-d.used, 0)))
		h.Set("x-user-limit-24hour-reset", reset(d))
	}
}

// pipeListener is a net.Listener of in-memory connections.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "api.x.test" }

func randomString(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func randomInt(n int64) int64 {
	b := make([]byte, 8)
	rand.Read(b)
	var v int64
	for _, c := range b {
		v = v<<8 | int64(c)
	}
	if v < 0 {
		v = -v
	}
	return v % n
}

// readBody reads a request body with a bound and puts it back.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}
