package bot_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// TestDMIdleDayCost: a day of DM polls at 60 s with nothing new (40 old
// DMs in the account), then DM commands: what the fake returned (raw
// reads) and what X bills for it (each DM event once per UTC day), and the
// dollars at the price table. The figures go in the README's "What it
// costs".
func TestDMIdleDayCost(t *testing.T) {
	for _, api := range []string{"v2", "v1.1"} {
		t.Run(api, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				toDate(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
				srv := twittertest.NewServer(twittertest.Options{Handle: "mypi", InMemory: true, Tier: twittertest.TierBasic})
				defer srv.Close()
				alice := srv.AddUser("alice")
				for i := range 40 {
					srv.SendDM(alice, "old", time.Duration(40-i)*time.Minute)
				}
				sb := startSpendBot(t, spendOptions{api: api, listen: []string{bot.InboxDMs}, srv: srv})
				toDate(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
				reqs, raw, billed := srv.Requests(twitter.EndpointDMEvents), srv.Reads(twitter.EndpointDMEvents), srv.Billed()[twitter.ChargeDMRead]
				price := bot.DefaultPrices()[twitter.ChargeDMRead]
				t.Logf("idle day: %d dm_events requests returned %d DM events ($%.2f if each were billed); X bills %d ($%.3f)",
					reqs, raw, float64(raw)*price, billed, float64(billed)*price)
				if billed > 2 {
					t.Errorf("an idle day billed %d DM event reads, want the newest event once a day", billed)
				}
				if raw > reqs {
					t.Errorf("an idle day read %d events in %d requests: more than the newest one each", raw, reqs)
				}

				// Commands, each answered by DM, 10 minutes apart.
				const n = 10
				reqs0, raw0, billed0 := srv.Requests(twitter.EndpointDMEvents), srv.Reads(twitter.EndpointDMEvents), srv.Billed()
				for range n {
					srv.SendDM(alice, "led on", 0)
					time.Sleep(10 * time.Minute)
				}
				sb.stop()
				if got := len(srv.SentDMs()); got != n {
					t.Fatalf("%d DMs answered, want %d", got, n)
				}
				b := srv.Billed()
				dmReads := b[twitter.ChargeDMRead] - billed0[twitter.ChargeDMRead]
				cost := float64(dmReads)*price + float64(b[twitter.ChargeDMSend]-billed0[twitter.ChargeDMSend])*bot.DefaultPrices()[twitter.ChargeDMSend]
				extra := srv.Reads(twitter.EndpointDMEvents) - raw0 - (srv.Requests(twitter.EndpointDMEvents) - reqs0)
				t.Logf("%d DM commands: %d events read beyond one a request; X bills %d DM event reads and %d DMs sent: $%.3f a command",
					n, extra, dmReads, n, cost/n)
				if per := float64(extra) / n; per > 4 {
					t.Errorf("a DM command read %.1f events beyond the polls' one, want at most 4", per)
				}
			})
		})
	}
}
