package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
)

// cmdVerify asks the API who the keys belong to (one users/me call, the
// scarcest endpoint: 25 a day on Free) and prints it with the rate limits
// the answer carried and how far the local clock is from the API's.
func cmdVerify(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	cf := addConfigFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("verify takes no arguments")
	}
	cfg, err := cf.load(e)
	if err != nil {
		return err
	}
	if cfg.Agent() {
		return configErr(fmt.Errorf("%s: this tweetpi is a fleet agent (mqtt: and no twitter: section): it holds no X keys, so there is nothing to verify; run tweetpi verify on the gateway", cfg.Path))
	}
	if err := cfg.Twitter.CheckKeys(); err != nil {
		return configErr(err)
	}
	client, err := twitter.New(clientOptions(cfg))
	if err != nil {
		return configErr(err)
	}
	base := cfg.Twitter.APIURL
	if base == "" {
		base = twitter.DefaultBaseURL
	}
	me, err := client.Me(ctx)
	if err != nil {
		if p := netProblem(hostOf(base), err); p != nil {
			return p
		}
		return verifyErr(err)
	}
	fmt.Fprintf(e.stdout, "the keys belong to @%s (id %s)\n", me.Username, me.ID)
	fmt.Fprintf(e.stdout, "api: %s at %s\n", client.Version(), base)
	now := time.Now()
	if d := client.ServerDate(); !d.IsZero() {
		off := now.Sub(d).Truncate(time.Second)
		fmt.Fprintf(e.stdout, "server clock: %s (the local clock is %s)\n", d.UTC().Format(time.RFC3339), describeOffset(off))
	}
	printLimits(e.stdout, client.RateLimits(), now)
	printDelivery(ctx, e.stdout, cfg, me.ID)
	return nil
}

// printDelivery says which delivery the keys get: the stream when X gives
// the app its token and subscriptions, polls otherwise, with X's words and
// the fix. It changes nothing at X and does not connect to the stream.
func printDelivery(ctx context.Context, w io.Writer, cfg *config.Config, accountID string) {
	act, err := twitter.NewActivity(clientOptions(cfg))
	if err != nil {
		fmt.Fprintf(w, "delivery: polls (%v)\n", err)
		return
	}
	l := cfg.Twitter.Listen
	c := act.CheckStream(ctx, accountID, twitter.EventTypes(slices.Contains(l, config.InboxMentions), slices.Contains(l, config.InboxDMs))...)
	var re *twitter.RefusedError
	switch {
	case errors.As(c.Err, &re):
		fmt.Fprintf(w, "delivery: polls, not the stream: %v\n  to get the stream: %s\n", re, re.Fix())
	case c.Err != nil:
		fmt.Fprintf(w, "delivery: the stream could not be checked (%v); the daemon tries it at start and polls meanwhile\n", c.Err)
	default:
		fmt.Fprintln(w, "delivery: the stream (X Activity API), with polls to fill its gaps")
		for _, s := range c.Subscriptions {
			fmt.Fprintf(w, "  subscribed: %s for id %s (subscription %s, tag %q)\n", s.EventType, s.UserID, s.ID, s.Tag)
		}
		if len(c.Missing) > 0 {
			fmt.Fprintf(w, "  to subscribe at start: %s\n", strings.Join(c.Missing, ", "))
		}
	}
}

// verifyErr explains a failed users/me: what is wrong and what to change.
func verifyErr(err error) error {
	var ae *twitter.APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Kind {
	case twitter.KindUnauthorized:
		return configErr(fmt.Errorf("the API refused the keys (%v): they are wrong, revoked, or the local clock is far off. To fix it, %s", ae, twitter.Fix(err)))
	case twitter.KindForbidden:
		return configErr(fmt.Errorf("the API does not let these keys in (%v). To fix it, %s", ae, twitter.Fix(err)))
	case twitter.KindNoCredits:
		return fmt.Errorf("the keys are good, but X answered 402 (%v): %s", ae, twitter.Fix(err))
	case twitter.KindUsageCapped:
		return fmt.Errorf("the keys are good, but X answered that the app is usage-capped (%v): %s", ae, twitter.Fix(err))
	case twitter.KindRateLimited:
		return fmt.Errorf("users/me is rate limited (25 a day on the Free tier); try again after %s: %w", ae.Reset.Local().Format(time.Kitchen), err)
	}
	return err
}

func describeOffset(d time.Duration) string {
	switch {
	case d > -2*time.Second && d < 2*time.Second:
		return "in step"
	case d > 0:
		return fmt.Sprintf("%s ahead", d)
	}
	return fmt.Sprintf("%s behind", -d)
}

func printLimits(w io.Writer, limits map[string]twitter.RateLimit, now time.Time) {
	if len(limits) == 0 {
		fmt.Fprintln(w, "rate limits: none sent")
		return
	}
	eps := make([]string, 0, len(limits))
	for ep := range limits {
		eps = append(eps, ep)
	}
	sort.Strings(eps)
	fmt.Fprintln(w, "rate limits seen (other endpoints show theirs once the daemon calls them):")
	for _, ep := range eps {
		rl := limits[ep]
		fmt.Fprintf(w, "  %-18s limit %d, remaining %d, resets %s\n", ep, rl.Limit, rl.Remaining, describeReset(rl.Reset, now))
		if rl.DayLimit > 0 {
			fmt.Fprintf(w, "  %-18s 24-hour limit %d, remaining %d, resets %s\n", "", rl.DayLimit, rl.DayRemaining, describeReset(rl.DayReset, now))
		}
	}
}

func describeReset(t, now time.Time) string {
	if t.IsZero() {
		return "(not sent)"
	}
	in := t.Sub(now).Round(time.Second)
	if in < 0 {
		in = 0
	}
	return fmt.Sprintf("%s (in %s)", t.Local().Format("15:04:05"), in)
}
