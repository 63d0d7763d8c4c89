package bot

import (
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// Status is what a running tweetpi is doing: the status file that
// `tweetpi status` reads (its JSON form is the file's schema, the README's
// "tweetpi status -json") and what the metrics expose. A Reporter makes it
// from the bot (nil for a fleet agent, which has no X keys), the devices
// and MQTT.
type Status struct {
	Version       string    `json:"version"`
	PID           int       `json:"pid"`
	BootID        string    `json:"boot_id,omitempty"` // the kernel's boot id: a file from before a reboot is stale
	Started       time.Time `json:"started"`
	Updated       time.Time `json:"updated"`
	UptimeSeconds int64     `json:"uptime_seconds"`

	// The X side; all empty without a bot.
	Account    string          `json:"account,omitempty"` // @handle
	API        string          `json:"api,omitempty"`     // v2 or v1.1
	Delivery   *DeliveryStatus `json:"delivery,omitempty"`
	Inboxes    []InboxStatus   `json:"inboxes,omitempty"`
	RateLimits []LimitStatus   `json:"rate_limits,omitempty"`
	Commands   *CommandsStatus `json:"commands,omitempty"`
	Spend      *SpendStatus    `json:"spend,omitempty"`
	Requests   []RequestCount  `json:"requests,omitempty"` // since the start, by endpoint and HTTP status

	MQTT             *MQTTStatus   `json:"mqtt,omitempty"` // nil when mqtt: is not configured
	Devices          []DeviceState `json:"devices"`
	StateWriteErrors uint64        `json:"state_write_errors"`
}

// DeliveryStatus is how posts and DMs reach the bot.
type DeliveryStatus struct {
	Mode  string    `json:"mode"` // DeliveryStream or DeliveryPoll
	Since time.Time `json:"since"`
}

// Delivery modes.
const (
	DeliveryStream = "stream" // the Activity API stream, with polls to reconcile
	DeliveryPoll   = "poll"   // polls only
)

// InboxStatus is one inbox's polling.
type InboxStatus struct {
	Inbox     string    `json:"inbox"`
	LastPoll  time.Time `json:"last_poll,omitzero"`
	NextPoll  time.Time `json:"next_poll,omitzero"`
	LastNew   int       `json:"last_new"` // posts or DM events new in the last poll
	Failures  int       `json:"failures,omitempty"`
	LastError string    `json:"last_error,omitempty"` // the last poll's failure, while it lasts
}

// LimitStatus is an endpoint's rate limit, as its last answer said.
type LimitStatus struct {
	Endpoint     string    `json:"endpoint"`
	Limit        int       `json:"limit"`
	Remaining    int       `json:"remaining"`
	Reset        time.Time `json:"reset,omitzero"`
	DayLimit     int       `json:"day_limit,omitempty"`
	DayRemaining int       `json:"day_remaining,omitempty"`
	DayReset     time.Time `json:"day_reset,omitzero"`
}

// CommandsStatus counts the commands: today (UTC) by result, and since
// the start by inbox and result.
type CommandsStatus struct {
	Day        string         `json:"day"` // 2006-01-02, UTC
	Today      map[string]int `json:"today"`
	SinceStart []CommandCount `json:"since_start,omitempty"`
}

// CommandCount is how many commands of an inbox had a result.
type CommandCount struct {
	Inbox  string `json:"inbox"`
	Result string `json:"result"`
	Count  uint64 `json:"count"`
}

// RequestCount is how many requests to an endpoint had an HTTP status (0:
// no answer).
type RequestCount struct {
	Endpoint string `json:"endpoint"`
	Status   int    `json:"status"`
	Count    uint64 `json:"count"`
}

// SpendStatus is the estimate of what X bills.
type SpendStatus struct {
	Day            string            `json:"day"` // UTC
	TodayUSD       float64           `json:"today_usd"`
	Month          string            `json:"month"` // UTC
	MonthUSD       float64           `json:"month_usd"`
	DailyBudgetUSD float64           `json:"daily_budget_usd,omitempty"` // 0: no cap
	Capped         bool              `json:"capped,omitempty"`           // replies withheld until 00:00 UTC
	Today          map[string]int    `json:"today,omitempty"`            // items billed today, by charge
	SinceStartUSD  float64           `json:"since_start_usd"`
	SinceStart     map[string]uint64 `json:"since_start,omitempty"` // items billed since the start, by charge
}

// MQTTStatus is the broker connection.
type MQTTStatus struct {
	Broker    string    `json:"broker"`
	Node      string    `json:"node"`
	Connected bool      `json:"connected"`
	Since     time.Time `json:"since,omitzero"`
	LastError string    `json:"last_error,omitempty"`    // the last connection error
	Offline   []string  `json:"offline_nodes,omitempty"` // fleet nodes whose availability is offline
}

// DeviceState is one device's state.
type DeviceState struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`           // output, pwm, input, a sensor kind, or remote
	State string `json:"state"`          // in words: on, off, 40%, open, 21.4°C
	Node  string `json:"node,omitempty"` // a remote device's node
	// Value is the state as a number, where it is one: 1 or 0 for an
	// output and an input's level, the duty 0 to 1 of a pwm, a sensor's
	// reading.
	Value *float64 `json:"value,omitempty"`
}

// live is what the loop tells the status about, guarded for the Reporter's
// goroutine.
type live struct {
	mu       sync.Mutex
	account  string // the account's handle, once Start learnt it
	delivery DeliveryStatus
	inboxes  map[string]*InboxStatus
	day      string
	today    map[string]int
	total    map[[2]string]uint64 // inbox, result
	polls    int                  // since the last heartbeat
}

// counted counts a command's result, for the status and the metrics.
func (b *Bot) counted(inbox, result string) {
	b.live.mu.Lock()
	defer b.live.mu.Unlock()
	day := time.Now().UTC().Format(time.DateOnly)
	if b.live.day != day || b.live.today == nil {
		b.live.day, b.live.today = day, map[string]int{}
	}
	b.live.today[result]++
	if b.live.total == nil {
		b.live.total = map[[2]string]uint64{}
	}
	b.live.total[[2]string{inbox, result}]++
}

// polled records a poll of s: when, what it found, and when the next is.
func (b *Bot) polled(s Source, p *pacer, fresh int, err error) {
	b.live.mu.Lock()
	defer b.live.mu.Unlock()
	if b.live.inboxes == nil {
		b.live.inboxes = map[string]*InboxStatus{}
	}
	in := b.live.inboxes[s.Inbox()]
	if in == nil {
		in = &InboxStatus{Inbox: s.Inbox()}
		b.live.inboxes[s.Inbox()] = in
	}
	in.LastPoll, in.NextPoll, in.LastNew, in.Failures = p.last.UTC(), p.next.UTC(), fresh, p.failures
	in.LastError = ""
	if err != nil {
		in.LastError = err.Error()
	}
	b.live.polls++
}

// deliveryMode is the stream while a push source delivers an inbox.
func (b *Bot) deliveryMode() string {
	for _, up := range b.up {
		if up {
			return DeliveryStream
		}
	}
	return DeliveryPoll
}

// setDelivery records how posts reach the bot, when it changes.
func (b *Bot) setDelivery(mode string) {
	b.live.mu.Lock()
	defer b.live.mu.Unlock()
	if b.live.delivery.Mode != mode {
		b.live.delivery = DeliveryStatus{Mode: mode, Since: time.Now().UTC()}
	}
}

// Status is the bot's part of the status: the account, delivery, inboxes,
// rate limits, commands, spend and requests. Safe to call while Run runs.
func (b *Bot) Status() Status {
	st := Status{API: b.opt.Client.Version(), StateWriteErrors: b.led.WriteErrors()}
	if n := b.accountName(); n != "" {
		st.Account = "@" + n
	}
	b.live.mu.Lock()
	if b.live.delivery.Mode != "" {
		d := b.live.delivery
		st.Delivery = &d
	}
	for _, in := range b.opt.Listen {
		s := InboxStatus{Inbox: in}
		if p := b.live.inboxes[in]; p != nil {
			s = *p
		}
		st.Inboxes = append(st.Inboxes, s)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	cs := &CommandsStatus{Day: day, Today: map[string]int{}}
	for _, r := range Results {
		cs.Today[r] = 0
		if b.live.day == day {
			cs.Today[r] = b.live.today[r]
		}
	}
	for k, n := range b.live.total {
		cs.SinceStart = append(cs.SinceStart, CommandCount{Inbox: k[0], Result: k[1], Count: n})
	}
	b.live.mu.Unlock()
	// sort.Slice, not slices.SortFunc: each of its instantiations costs
	// the armv6 binary some 8 KiB.
	sort.Slice(cs.SinceStart, func(i, j int) bool {
		a, b := cs.SinceStart[i], cs.SinceStart[j]
		return a.Inbox < b.Inbox || a.Inbox == b.Inbox && a.Result < b.Result
	})
	st.Commands = cs

	limits := b.opt.Client.RateLimits()
	for _, ep := range slices.Sorted(maps.Keys(limits)) {
		rl := limits[ep]
		st.RateLimits = append(st.RateLimits, LimitStatus{Endpoint: ep, Limit: rl.Limit, Remaining: rl.Remaining, Reset: utc(rl.Reset),
			DayLimit: rl.DayLimit, DayRemaining: rl.DayRemaining, DayReset: utc(rl.DayReset)})
	}
	if m := b.opt.Meter; m != nil {
		now := m.Now()
		_, _, capped := m.today()
		st.Spend = &SpendStatus{Day: now.Day, TodayUSD: now.DayUSD, Month: now.Month, MonthUSD: now.MonthUSD,
			DailyBudgetUSD: b.opt.DailyBudget, Capped: capped && b.opt.DailyBudget > 0, Today: now.DayCounts,
			SinceStartUSD: now.SpentUSD, SinceStart: now.Billed}
		for k, n := range now.Requests {
			st.Requests = append(st.Requests, RequestCount{Endpoint: k.Endpoint, Status: k.Status, Count: n})
		}
		sort.Slice(st.Requests, func(i, j int) bool {
			a, b := st.Requests[i], st.Requests[j]
			return a.Endpoint < b.Endpoint || a.Endpoint == b.Endpoint && a.Status < b.Status
		})
	}
	return st
}

// utc is t in UTC, the zero time kept zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// accountName is the account's handle, once Start learnt it.
func (b *Bot) accountName() string {
	b.live.mu.Lock()
	defer b.live.mu.Unlock()
	return b.live.account
}
