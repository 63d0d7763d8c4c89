package bot_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// The -update flag may be another test file's too: defined once.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
}

// logBuf is a log sink the test reads back: one JSON record a line.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records are the lines logged so far, decoded.
func (l *logBuf) records(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// with are the records whose msg is msg.
func (l *logBuf) with(t *testing.T, msg string) []map[string]any {
	var out []map[string]any
	for _, r := range l.records(t) {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// resultHandler answers commands as the device package would, by their
// first word: "pump" is refused, "xyzzy" not understood, the rest ran.
type resultHandler struct{}

func (resultHandler) Handle(ctx context.Context, c bot.Command) string {
	return resultHandler{}.HandleResult(ctx, c).Reply
}

func (resultHandler) HandleResult(_ context.Context, c bot.Command) bot.Outcome {
	w := strings.Fields(strings.ToLower(c.Text))
	for len(w) > 0 && strings.HasPrefix(w[0], "@") {
		w = w[1:]
	}
	switch {
	case len(w) > 0 && w[0] == "pump":
		return bot.Outcome{Reply: "you may not use pump", Result: bot.ResultRefused}
	case len(w) > 0 && w[0] == "xyzzy":
		return bot.Outcome{Reply: `no device "xyzzy"; did you mean help?`, Result: bot.ResultNotUnderstood}
	}
	return bot.Outcome{Reply: strings.Join(w, " ") + ": done", Result: bot.ResultRan}
}

// spendBot is a bot with a Meter on the fake, in a synctest bubble.
type spendBot struct {
	srv   *twittertest.Server
	meter *bot.Meter
	log   *logBuf
	bot   *bot.Bot
	dir   string
	stop  func()
	alice twitter.User
	bob   twitter.User
}

type spendOptions struct {
	api    string
	listen []string
	daily  float64
	prices bot.Prices
	maxAge time.Duration
	debug  bool                // log at debug level
	dir    string              // "" a fresh one
	srv    *twittertest.Server // nil a fresh one
}

// startSpendBot starts the real client and bot, with a Meter, on the fake.
func startSpendBot(t *testing.T, o spendOptions) *spendBot {
	t.Helper()
	sb := &spendBot{srv: o.srv, log: &logBuf{}, dir: o.dir}
	if sb.srv == nil {
		sb.srv = twittertest.NewServer(twittertest.Options{Handle: "mypi", InMemory: true})
		t.Cleanup(sb.srv.Close)
	}
	if sb.dir == "" {
		sb.dir = t.TempDir()
	}
	sb.alice, sb.bob = sb.srv.AddUser("alice"), sb.srv.AddUser("bob")
	sb.meter = bot.NewMeter(o.prices)
	c, err := twitter.New(twitter.Options{API: o.api, BaseURL: sb.srv.URL, Credentials: sb.srv.Credentials(), Transport: sb.srv.Transport(), Meter: sb.meter})
	if err != nil {
		t.Fatal(err)
	}
	if o.listen == nil {
		o.listen = []string{bot.InboxMentions, bot.InboxDMs}
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	sb.bot, err = bot.New(bot.Options{
		Client: c, Handler: resultHandler{}, StateDir: sb.dir, Logger: slog.New(slog.NewJSONHandler(sb.log, &slog.HandlerOptions{Level: level})),
		Listen: o.listen, PollInterval: time.Minute, Allow: []string{"@alice"}, Reply: true,
		Meter: sb.meter, DailyBudget: o.daily, MaxAge: o.maxAge,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	if err := sb.bot.Start(ctx, keyID(sb.srv.Credentials().AccessToken)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sb.bot.Run(ctx) }()
	time.Sleep(time.Second) // the first polls: what exists now is the starting point
	sb.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	return sb
}

// toDate moves a synctest bubble's clock (it starts in 2000, before X's
// ids began) to t.
func toDate(t time.Time) { time.Sleep(time.Until(t)) }

// priced is what counts cost at prices.
func priced(counts map[string]int, p bot.Prices) float64 {
	sum := 0.0
	for c, n := range counts {
		sum += float64(n) * p[c]
	}
	return sum
}

// TestSpendMatchesFake: the bot's estimate, charge by charge, is what the
// fake says X bills for what it returned and recorded (reads once per UTC
// day), on both API versions, with mentions, DMs, a stranger, replies and
// a day change; and it is kept across a restart.
func TestSpendMatchesFake(t *testing.T) {
	for _, api := range []string{"v2", "v1.1"} {
		t.Run(api, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				toDate(time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC))
				sb := startSpendBot(t, spendOptions{api: api})
				srv := sb.srv
				srv.Post(sb.alice, "@mypi led on", 0)
				srv.Post(sb.bob, "@mypi let me in", 0)
				time.Sleep(3 * time.Minute)
				srv.SendDM(sb.alice, "fan 40%", 0)
				time.Sleep(3 * time.Minute)
				srv.Post(sb.alice, "@mypi pump on", 0)
				time.Sleep(3 * time.Hour) // past 00:00 UTC: the idle probe's DM is billed again
				srv.SendDM(sb.alice, "status", 0)
				time.Sleep(3 * time.Minute)
				sb.stop()

				now := sb.meter.Now()
				want := srv.Billed()
				got := map[string]int{}
				for c, n := range now.Billed {
					got[c] = int(n)
				}
				if !maps.Equal(got, want) {
					t.Errorf("the bot estimated %v, the fake bills %v", got, want)
				}
				if got[twitter.ChargeReply] != 2 || got[twitter.ChargeDMSend] != 2 {
					t.Errorf("writes %v, want 2 replies and 2 DMs", got)
				}
				if math.Abs(now.SpentUSD-priced(want, bot.DefaultPrices())) > 1e-9 {
					t.Errorf("spent %v, want %v at the price table", now.SpentUSD, priced(want, bot.DefaultPrices()))
				}
				if now.Day != "2026-03-02" || now.Month != "2026-03" {
					t.Errorf("day %s month %s", now.Day, now.Month)
				}
				if now.MonthUSD <= now.DayUSD || math.Abs(now.MonthUSD-now.SpentUSD) > 1e-9 {
					t.Errorf("month %v, day %v, since start %v: the month holds both days", now.MonthUSD, now.DayUSD, now.SpentUSD)
				}

				// A restart keeps the day's and the month's estimate, and a
				// read the day billed already is not billed again.
				sb2 := startSpendBot(t, spendOptions{api: api, srv: srv, dir: sb.dir})
				time.Sleep(5 * time.Minute)
				sb2.stop()
				after := sb2.meter.Now()
				if math.Abs(after.MonthUSD-now.MonthUSD) > 1e-9 || math.Abs(after.DayUSD-now.DayUSD) > 1e-9 {
					t.Errorf("after a restart: day %v month %v, want %v %v", after.DayUSD, after.MonthUSD, now.DayUSD, now.MonthUSD)
				}
				if n := srv.Billed()[twitter.ChargeDMRead]; n != want[twitter.ChargeDMRead] {
					t.Errorf("the fake billed %d DM reads after the restart, %d before: the restart read nothing new", n, want[twitter.ChargeDMRead])
				}
			})
		})
	}
}

// TestBudgetWithholdsAndResumes: past budget.daily the commands still
// run, their replies are withheld and logged so, and at 00:00 UTC replies
// go out again.
func TestBudgetWithholdsAndResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		toDate(time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC))
		// Only replies cost: 3 fit in 0.035, and the 80 % warning comes
		// after the third.
		prices := bot.Prices{twitter.ChargeOwnedRead: 0, twitter.ChargeUserRead: 0, twitter.ChargeDMRead: 0}
		sb := startSpendBot(t, spendOptions{api: "v2", listen: []string{bot.InboxMentions}, daily: 0.035, prices: prices})
		srv := sb.srv
		for i, cmd := range []string{"led on", "led off", "fan 10%", "fan 20%", "fan 30%"} {
			srv.Post(sb.alice, "@mypi "+cmd, 0)
			time.Sleep(2 * time.Minute)
			if got, want := len(srv.Replies()), min(i+1, 3); got != want {
				t.Fatalf("after %q: %d replies, want %d", cmd, got, want)
			}
		}
		if n := len(sb.log.with(t, "command")); n != 5 {
			t.Errorf("%d command lines, want 5: every command still runs", n)
		}
		withheld := 0
		for _, r := range sb.log.with(t, "command") {
			if r["result"] == bot.ResultWithheld {
				withheld++
				if r["ran"] != true {
					t.Errorf("withheld line %v: ran should be true", r)
				}
			}
		}
		if withheld != 2 {
			t.Errorf("%d withheld, want 2", withheld)
		}
		if n := len(sb.log.with(t, "spend today passed 80% of budget.daily; at 100% replies and notify DMs stop until 00:00 UTC")); n != 1 {
			t.Errorf("%d 80%% warnings, want 1", n)
		}
		if n := len(sb.log.with(t, "budget.daily reached: no replies or notify DMs until 00:00 UTC; commands still run")); n != 1 {
			t.Errorf("%d cap lines, want 1", n)
		}
		st := sb.bot.Status()
		if st.Spend == nil || !st.Spend.Capped || st.Commands.Today[bot.ResultWithheld] != 2 {
			t.Errorf("status %+v %+v: want capped, 2 withheld", st.Spend, st.Commands)
		}

		// 00:00 UTC: a new day's budget.
		toDate(time.Date(2026, 3, 2, 0, 0, 30, 0, time.UTC))
		srv.Post(sb.alice, "@mypi led on", 0)
		time.Sleep(2 * time.Minute)
		sb.stop()
		if got := len(srv.Replies()); got != 4 {
			t.Errorf("%d replies after 00:00 UTC, want 4: the new day answers again", got)
		}
		if n := len(sb.log.with(t, "a new UTC day: replies and notify DMs go out again")); n != 1 {
			t.Errorf("%d resume lines, want 1", n)
		}
	})
}

// TestNoCreditsSlowRetry: with the credits used up (402) the bot says what
// to do, asks again only every 15 minutes, never in a loop, and goes on by
// itself after the top-up.
func TestNoCreditsSlowRetry(t *testing.T) {
	for _, capped := range []bool{false, true} {
		name := map[bool]string{false: "402", true: "usage capped"}[capped]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				toDate(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
				sb := startSpendBot(t, spendOptions{api: "v2"})
				srv := sb.srv
				time.Sleep(2 * time.Minute)
				before := srv.Requests(twitter.EndpointMentions) + srv.Requests(twitter.EndpointDMEvents)
				if capped {
					srv.CapUsage(true)
				} else {
					srv.UseUpCredits(true)
				}
				srv.Post(sb.alice, "@mypi led on", 0)
				time.Sleep(time.Hour)
				during := srv.Requests(twitter.EndpointMentions) + srv.Requests(twitter.EndpointDMEvents) - before
				// Two inboxes, one request each at most every 15 minutes.
				if during > 2*5 {
					t.Errorf("%d requests in an hour without credit, want at most 10 (each inbox every 15 minutes)", during)
				}
				fix := "your X API credits are used up: top up in the developer console"
				msg := "X API credits used up: nothing is read or sent until there is credit"
				if capped {
					fix, msg = "spending cap set in the developer console", "the app's spending cap is reached: nothing is read or sent until it allows"
				}
				lines := sb.log.with(t, msg)
				if len(lines) == 0 {
					t.Fatalf("no %q line", msg)
				}
				for _, l := range lines {
					if !strings.Contains(l["fix"].(string), fix) || l["retry_at"] == nil || l["retry_in"] == nil {
						t.Errorf("line %v: want the fix %q and the next try", l, fix)
					}
				}
				srv.UseUpCredits(false)
				srv.CapUsage(false)
				time.Sleep(20 * time.Minute)
				sb.stop()
				if n := len(srv.Replies()); n != 1 {
					t.Errorf("%d replies after the top-up, want 1: led on runs and is answered", n)
				}
			})
		})
	}
}

// TestCommandLogGolden: one command of each result, and the lines around
// them, as a person reading the log sees them (testdata/commandlog.golden;
// go test -run TestCommandLogGolden -update rewrites it).
func TestCommandLogGolden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		toDate(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
		prices := bot.Prices{twitter.ChargeOwnedRead: 0, twitter.ChargeUserRead: 0, twitter.ChargeDMRead: 0}
		sb := startSpendBot(t, spendOptions{api: "v2", listen: []string{bot.InboxMentions}, daily: 0.045, prices: prices, maxAge: time.Minute})
		srv := sb.srv
		for _, p := range []struct {
			who  twitter.User
			text string
			age  time.Duration
		}{
			{sb.alice, "@mypi led on", 0},
			{sb.alice, "@mypi pump on", 0},
			{sb.alice, "@mypi xyzzy", 0},
			{sb.alice, "@mypi led off", 90 * time.Second}, // newer than the last poll, older than max_age
			{sb.bob, "@mypi led on", 0},
			{sb.alice, "@mypi fan 40%", 0},
		} {
			srv.Post(p.who, p.text, p.age)
			time.Sleep(2 * time.Minute)
		}
		sb.stop()
		var b strings.Builder
		for _, r := range sb.log.records(t) {
			if r["level"] == "DEBUG" {
				continue
			}
			// The handler writes the local zone: the golden file is UTC.
			if ts, err := time.Parse(time.RFC3339Nano, r["time"].(string)); err == nil {
				r["time"] = ts.UTC().Format(time.RFC3339)
			}
			line, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		golden(t, "commandlog.golden", b.String())
		results := map[string]bool{}
		for _, r := range sb.log.with(t, "command") {
			results[r["result"].(string)] = true
		}
		for _, r := range bot.Results {
			if !results[r] {
				t.Errorf("no command line with result %s", r)
			}
		}
	})
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if flag.Lookup("update").Value.String() == "true" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -run %s -update rewrites it):\ngot:\n%s\nwant:\n%s", path, t.Name(), got, want)
	}
}

// TestHeartbeatAndPollLines: an "alive" line at info level every 15
// minutes, and at debug level one line per poll that says what it found
// and when the next one is.
func TestHeartbeatAndPollLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		toDate(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
		sb := startSpendBot(t, spendOptions{api: "v2", listen: []string{bot.InboxMentions}, debug: true})
		sb.srv.Post(sb.alice, "@mypi led on", 0)
		time.Sleep(31 * time.Minute)
		sb.stop()
		alive := sb.log.with(t, "alive")
		if len(alive) != 2 {
			t.Errorf("%d alive lines in 31 minutes, want 2", len(alive))
		}
		for _, a := range alive {
			if a["level"] != "INFO" || a["polls"] == nil || a["delivery"] != bot.DeliveryPoll {
				t.Errorf("alive line %v", a)
			}
		}
		var polls []string
		for _, r := range sb.log.records(t) {
			if m, _ := r["msg"].(string); strings.HasPrefix(m, "mentions: ") && r["level"] == "DEBUG" {
				polls = append(polls, m)
			}
		}
		if len(polls) < 30 {
			t.Fatalf("%d poll lines in 31 minutes at 60s, want a line per poll", len(polls))
		}
		if !slices.Contains(polls, "mentions: 1 new; next poll 09:02:00, 999998 left until 09:15:00") {
			t.Errorf("no line for the poll that found led on, in %q", polls[:3])
		}
	})
}
