package bot

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
)

// Prices are what X bills, in USD, by charge (the twitter.Charge* names:
// owned_read, post_read, user_read, dm_read, reply, post, dm_send).
type Prices map[string]float64

// DefaultPrices is X's pay-per-use price table of 2026 (docs.x.com,
// pricing): a mention of the account read by a poll is an owned read when
// the app belongs to the account itself; budget.prices overrides any of
// them (owned_read: 0.005 for an app under another account).
func DefaultPrices() Prices {
	return Prices{
		twitter.ChargeOwnedRead: 0.001,
		twitter.ChargePostRead:  0.005,
		twitter.ChargeUserRead:  0.010,
		twitter.ChargeDMRead:    0.010,
		twitter.ChargeReply:     0.010,
		twitter.ChargePost:      0.015,
		twitter.ChargeDMSend:    0.015,
	}
}

// maxBilledSeen bounds the reads remembered for the day's deduplication:
// past it the oldest are forgotten, and read again they count again (the
// estimate errs high, never low).
const maxBilledSeen = 500

// micros is an amount in millionths of a US dollar: sums of prices stay
// exact.
type micros int64

func toMicros(usd float64) micros { return micros(math.Round(usd * 1e6)) }

// USD is the amount in dollars.
func (m micros) USD() float64 { return float64(m) / 1e6 }

// Spend is the estimate of what X bills, as the state file keeps it: the
// UTC day's and month's totals and counts by charge, and the reads billed
// today (X bills a resource read again within the UTC day once).
type Spend struct {
	Day         string         `json:"day"` // 2006-01-02, UTC
	DayMicros   int64          `json:"day_micro_usd"`
	DayCounts   map[string]int `json:"day_counts,omitempty"`
	Month       string         `json:"month"` // 2006-01, UTC
	MonthMicros int64          `json:"month_micro_usd"`
	MonthCounts map[string]int `json:"month_counts,omitempty"`
	// Seen are today's billed reads, "charge id", oldest first.
	Seen []string `json:"seen,omitempty"`
	// Warned: today's 80 % warning was given; Capped: today's cap was
	// reached and said.
	Warned bool `json:"warned,omitempty"`
	Capped bool `json:"capped,omitempty"`
}

// check refuses a Spend a state file could not have: unknown charges and
// negative amounts.
func (s *Spend) check() error {
	if s.DayMicros < 0 || s.MonthMicros < 0 {
		return fmt.Errorf("spend: negative amount")
	}
	for _, m := range []map[string]int{s.DayCounts, s.MonthCounts} {
		for c, n := range m {
			if !slices.Contains(twitter.Charges, c) || n < 0 {
				return fmt.Errorf("spend: %q is not a charge", c)
			}
		}
	}
	return nil
}

// Meter counts the API requests a client makes and estimates what X bills
// for what the answers returned, with a price table: per UTC day (a
// resource read again within the day is billed once, as X does) and per
// month. It is the twitter.Meter of the clients (twitter.Options.Meter);
// the bot keeps its estimate in the state file and stops replying at the
// daily budget. Its methods are safe for concurrent use.
type Meter struct {
	mu     sync.Mutex
	price  map[string]micros
	now    func() time.Time
	sp     Spend
	seen   map[string]bool // sp.Seen as a set
	dirty  bool            // sp changed since the last persist
	reqs   map[RequestKey]uint64
	billed map[string]uint64 // since start, by charge, deduplicated
	spent  micros            // since start
}

// RequestKey is an endpoint and the HTTP status of its answer (0: none).
type RequestKey struct {
	Endpoint string
	Status   int
}

var _ twitter.Meter = (*Meter)(nil)

// NewMeter returns a meter with the price table p (DefaultPrices for nil;
// charges p leaves out keep their default price).
func NewMeter(p Prices) *Meter {
	m := &Meter{price: map[string]micros{}, now: time.Now, seen: map[string]bool{}, reqs: map[RequestKey]uint64{}, billed: map[string]uint64{}}
	for c, usd := range DefaultPrices() {
		m.price[c] = toMicros(usd)
	}
	for c, usd := range p {
		m.price[c] = toMicros(usd)
	}
	return m
}

// Price is the price of one item of charge, in USD.
func (m *Meter) Price(charge string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.price[charge].USD()
}

// Request counts a request (twitter.Meter).
func (m *Meter) Request(ep string, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reqs[RequestKey{ep, status}]++
}

// Billed adds what an answer returned to the estimate (twitter.Meter).
func (m *Meter) Billed(ep string, items []twitter.Item) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll()
	for _, it := range items {
		if isRead(it.Charge) {
			key := it.Charge + " " + it.ID
			if m.seen[key] {
				continue // read before today: billed once
			}
			m.seen[key] = true
			m.sp.Seen = append(m.sp.Seen, key)
			if n := len(m.sp.Seen); n > maxBilledSeen {
				for _, k := range m.sp.Seen[:n-maxBilledSeen] {
					delete(m.seen, k)
				}
				m.sp.Seen = slices.Clone(m.sp.Seen[n-maxBilledSeen:])
			}
		}
		p := m.price[it.Charge]
		m.sp.DayMicros += int64(p)
		m.sp.MonthMicros += int64(p)
		m.sp.DayCounts = inc(m.sp.DayCounts, it.Charge)
		m.sp.MonthCounts = inc(m.sp.MonthCounts, it.Charge)
		m.billed[it.Charge]++
		m.spent += p
		m.dirty = true
	}
}

func inc(m map[string]int, k string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k]++
	return m
}

// isRead reports whether a charge is a read (deduplicated within the day)
// rather than a write (each one billed).
func isRead(charge string) bool {
	switch charge {
	case twitter.ChargeReply, twitter.ChargePost, twitter.ChargeDMSend:
		return false
	}
	return true
}

// roll starts a new day or month when the UTC date has moved on. m.mu is
// held.
func (m *Meter) roll() {
	now := m.now().UTC()
	day, month := now.Format(time.DateOnly), now.Format("2006-01")
	if m.sp.Day == day {
		return
	}
	if m.sp.Month != month {
		m.sp.Month, m.sp.MonthMicros, m.sp.MonthCounts = month, 0, nil
	}
	m.sp.Day, m.sp.DayMicros, m.sp.DayCounts = day, 0, nil
	m.sp.Seen, m.seen = nil, map[string]bool{}
	m.sp.Warned, m.sp.Capped = false, false
	m.dirty = true
}

// SpendNow is the estimate as of now.
type SpendNow struct {
	Day         string // UTC date
	DayUSD      float64
	DayCounts   map[string]int
	Month       string // UTC year and month
	MonthUSD    float64
	MonthCounts map[string]int
	// Since the meter was made (the process started): what was billed,
	// by charge, and its price, and the requests by endpoint and status.
	Billed   map[string]uint64
	SpentUSD float64
	Requests map[RequestKey]uint64
}

// Now is the estimate now (a new UTC day starts at zero).
func (m *Meter) Now() SpendNow {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll()
	return SpendNow{
		Day: m.sp.Day, DayUSD: micros(m.sp.DayMicros).USD(), DayCounts: maps.Clone(m.sp.DayCounts),
		Month: m.sp.Month, MonthUSD: micros(m.sp.MonthMicros).USD(), MonthCounts: maps.Clone(m.sp.MonthCounts),
		Billed: maps.Clone(m.billed), SpentUSD: m.spent.USD(), Requests: maps.Clone(m.reqs),
	}
}

// today is the day's spend in micros, and whether its 80 % warning and its
// cap were said; m.mu is taken.
func (m *Meter) today() (spent micros, warned, capped bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll()
	return micros(m.sp.DayMicros), m.sp.Warned, m.sp.Capped
}

// said records that today's warning (or cap) was said.
func (m *Meter) said(warned, capped bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll()
	m.sp.Warned = m.sp.Warned || warned
	m.sp.Capped = m.sp.Capped || capped
	m.dirty = true
}

// restore takes the estimate a state file kept (nil: none).
func (m *Meter) restore(s *Spend) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s == nil {
		return
	}
	m.sp = *s
	m.sp.DayCounts, m.sp.MonthCounts = maps.Clone(s.DayCounts), maps.Clone(s.MonthCounts)
	m.sp.Seen = slices.Clone(s.Seen)
	m.seen = map[string]bool{}
	for _, k := range m.sp.Seen {
		m.seen[k] = true
	}
	m.roll()
}

// persist is the estimate for the state file; it counts as saved.
func (m *Meter) persist() *Spend {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll()
	m.dirty = false
	s := m.sp
	s.DayCounts, s.MonthCounts = maps.Clone(m.sp.DayCounts), maps.Clone(m.sp.MonthCounts)
	s.Seen = slices.Clone(m.sp.Seen)
	return &s
}

// touch marks the estimate unsaved.
func (m *Meter) touch() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dirty = true
}

// unsaved reports whether the estimate changed since it was last persisted.
func (m *Meter) unsaved() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dirty
}

// FormatUSD is an amount as the log and status show it: $0.50, $0.077,
// $12.40 (two decimals at least, four at most).
func FormatUSD(usd float64) string {
	s := strconv.FormatFloat(math.Round(usd*1e4)/1e4, 'f', -1, 64)
	i := strings.IndexByte(s, '.')
	switch {
	case i < 0:
		s += ".00"
	case len(s)-i-1 < 2:
		s += strings.Repeat("0", 2-(len(s)-i-1))
	}
	return "$" + s
}
