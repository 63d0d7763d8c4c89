//go:build !nodemo

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/twittertest"
)

// demoConfig is the demo's configuration; the keys and the URL are the fake
// API's, filled in at run time.
const demoConfig = `twitter:
  consumer_key: %q
  consumer_secret: %q
  access_token: %q
  access_token_secret: %q
  api: %s
  api_url: %s
  listen: [mentions, dms]
  allow: ["@alice"]
  delivery: stream
state_dir: %s
gpio:
  backend: sim
devices:
  led:  {pin: GPIO17, kind: output, initial: off}
  pump: {pin: GPIO27, kind: output, max_on: 5m, aliases: [water]}
  fan:  {pin: GPIO18, kind: pwm, frequency: 25kHz}
  door: {pin: GPIO22, kind: input, pull: down, notify: true, high: open, low: closed}
  heater: {pin: GPIO5, kind: output}
  cooler: {pin: GPIO6, kind: output}
  tank: {kind: ds18b20, address: 28-00000a1b2c3d}
interlocks: [[heater, cooler]]
`

// cmdDemo plays a scripted conversation through the real daemon: the real
// config loader, API client, bot, state file and device code, against the
// fake X API over loopback and simulated pins.
func cmdDemo(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	api, verbose := demoFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("demo takes no arguments")
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	srv := twittertest.NewServer(twittertest.Options{Handle: "mypi"})
	defer srv.Close()
	alice, mallory := srv.AddUser("alice"), srv.AddUser("mallory")
	dir, err := os.MkdirTemp("", "tweetpi-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	k := srv.Credentials()
	text := fmt.Sprintf(demoConfig, k.ConsumerKey, k.ConsumerSecret, k.AccessToken, k.AccessTokenSecret, *api, srv.URL, dir)
	cfg, err := config.Parse("demo.yaml", []byte(text), config.Options{})
	if err != nil {
		return fmt.Errorf("demo config: %w", err)
	}
	var logw io.Writer = io.Discard
	if *verbose {
		logw = e.stderr
	}
	logger := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sim := device.NewSim()
	d, err := newDaemon(cfg, logger, daemonOptions{sim: sim})
	if err != nil {
		return err
	}
	events := make(chan twittertest.Event, 16)
	srv.Watch(func(ev twittertest.Event) { events <- ev })

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.run(runCtx) }()
	defer func() {
		stop()
		<-done
		d.close()
	}()

	w := e.stdout
	pins := func() string {
		return fmt.Sprintf("led=%s pump=%s fan=%d%% door=%s heater=%s cooler=%s",
			onOff(sim.Get("GPIO17").Level()), onOff(sim.Get("GPIO27").Level()),
			int((sim.Get("GPIO18").Duty()*100+gpio.DutyMax/2)/gpio.DutyMax), openClosed(sim.Get("GPIO22").Level()),
			onOff(sim.Get("GPIO5").Level()), onOff(sim.Get("GPIO6").Level()))
	}
	fmt.Fprintf(w, "tweetpi demo: the daemon against a fake X API (%s) over loopback and simulated pins; no keys, no Pi.\n", *api)
	fmt.Fprintf(w, "account @mypi; allowed: @alice; devices: led (GPIO17), pump (GPIO27, max_on 5m), fan (GPIO18, pwm), door (GPIO22, input),\n")
	fmt.Fprintf(w, "heater (GPIO5) and cooler (GPIO6), interlocked, and tank (a simulated DS18B20 on 1-Wire)\n")
	fmt.Fprintf(w, "delivery: the X Activity API stream: each post and DM reaches the daemon as it is made, instead of\n")
	fmt.Fprintf(w, "at the next poll (poll_interval %s: %s on average); polls every %s fill its gaps\n\n",
		config.FormatDuration(cfg.Twitter.PollInterval), config.FormatDuration(cfg.Twitter.PollInterval/2), config.FormatDuration(cfg.Twitter.ReconcileInterval))

	// Wait until both inboxes have their starting point and the stream is up.
	if err := waitFor(ctx, 10*time.Second, func() bool {
		return srv.Requests(twitter.EndpointMentions) > 0 && srv.Requests(twitter.EndpointDMEvents) > 0 && srv.StreamConnections() > 0
	}); err != nil {
		return fmt.Errorf("the daemon did not start reading: %w", err)
	}
	fmt.Fprintf(w, "%-10s %s\n\n", "pins", pins())

	var sent time.Time // when the latest post or DM was made
	var wantTo string  // the post the next answer must reply to
	say := func(who twitter.User, msg string) {
		fmt.Fprintf(w, "%-10s %s\n", "@"+who.Username, msg)
		sent, wantTo = time.Now(), srv.Post(who, msg, 0).ID
	}
	dm := func(who twitter.User, msg string) {
		fmt.Fprintf(w, "%-10s (DM) %s\n", "@"+who.Username, msg)
		sent, wantTo = time.Now(), ""
		srv.SendDM(who, msg, 0)
	}
	answer := func(wantDM bool, why ...string) error {
		select {
		case ev := <-events:
			took := ""
			if !sent.IsZero() {
				took = fmt.Sprintf("  [answered %s after it was sent]", time.Since(sent).Round(100*time.Microsecond))
			}
			switch {
			case ev.DM != nil && wantDM:
				fmt.Fprintf(w, "%-10s (DM to @%s) %s%s\n", "@mypi", handleOf(ev.DM.To, alice, mallory), ev.DM.Text, took)
			case ev.Reply != nil && !wantDM && (wantTo == "" || ev.Reply.InReplyTo == wantTo):
				fmt.Fprintf(w, "%-10s %s%s\n", "@mypi", ev.Reply.Text, took)
			default:
				return fmt.Errorf("unexpected answer %+v", ev)
			}
		case <-time.After(10 * time.Second):
			return errors.New("no answer within 10s")
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, s := range why {
			fmt.Fprintf(w, "%-10s (%s)\n", "", s)
		}
		fmt.Fprintf(w, "%-10s %s\n\n", "pins", pins())
		// A moment to read it: the answers come faster than the eye.
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	}
	steps := []struct {
		title string
		act   func() error
	}{
		{"an allowed user turns the led on", func() error {
			say(alice, "@mypi led on")
			return answer(false)
		}},
		{"a stranger is ignored; pwm", func() error {
			// The daemon takes what the stream brings in order: had it
			// answered the stranger, that answer would come first.
			say(mallory, "@mypi led off")
			fmt.Fprintf(w, "%-10s (not allowed: logged, not answered)\n", "")
			say(alice, "@mypi fan 40%")
			return answer(false)
		}},
		{"a pulse ends by itself", func() error {
			say(alice, "@mypi pump pulse 2s")
			if err := answer(false); err != nil {
				return err
			}
			if err := waitFor(ctx, 5*time.Second, func() bool { return sim.Get("GPIO27").Level() == gpio.Low }); err != nil {
				return errors.New("the pump did not go off by itself")
			}
			fmt.Fprintf(w, "%-10s %s (2s later, by itself)\n\n", "pins", pins())
			return nil
		}},
		{"an interlock: the heater goes off before the cooler goes on", func() error {
			say(alice, "@mypi heater on")
			if err := answer(false); err != nil {
				return err
			}
			say(alice, "@mypi cooler on")
			return answer(false, "interlock_wait: the heater is off 500ms before the cooler goes on")
		}},
		{"a sensor", func() error {
			say(alice, "@mypi tank")
			return answer(false, "a DS18B20 takes 750ms to measure")
		}},
		{"a typo", func() error {
			say(alice, "@mypi lde off")
			return answer(false)
		}},
		{"a DM command", func() error {
			dm(alice, "status")
			return answer(true, "status reads the tank too")
		}},
		{"an input change arrives as a DM", func() error {
			fmt.Fprintf(w, "%-10s (the door opens: GPIO22 goes high)\n", "")
			sent = time.Time{}
			sim.SetInput("GPIO22", gpio.High)
			return answer(true)
		}},
	}
	start := time.Now()
	for _, s := range steps {
		if err := s.act(); err != nil {
			return fmt.Errorf("demo step %q: %w", s.title, err)
		}
	}
	stop()
	if err := <-done; err != nil {
		return fmt.Errorf("the daemon stopped: %w", err)
	}
	done <- nil // for the deferred wait
	d.close()
	fmt.Fprintf(w, "stopped: outputs safe: %s\n", pins())
	fmt.Fprintf(w, "\n%d replies and DMs sent, in %s, over the stream (%d polls of the mentions in all).\n",
		len(srv.Replies())+len(srv.SentDMs()), time.Since(start).Round(100*time.Millisecond), srv.Requests(twitter.EndpointMentions))
	fmt.Fprintf(w, "Next: deploy/config.example.yaml, tweetpi check, tweetpi verify (it says whether X gives your app the stream).\n")
	return nil
}

func onOff(l gpio.Level) string {
	if l == gpio.High {
		return "on"
	}
	return "off"
}

func openClosed(l gpio.Level) string {
	if l == gpio.High {
		return "open"
	}
	return "closed"
}

func handleOf(id string, users ...twitter.User) string {
	for _, u := range users {
		if u.ID == id {
			return u.Username
		}
	}
	return id
}

// waitFor polls cond until it holds or the time is up.
func waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
