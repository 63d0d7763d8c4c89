package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
)

// cmdAuth runs the PIN-based (oob) OAuth 1.0a flow: it gets a request
// token, prints the page where the device account signs in, reads the PIN
// the page shows, and trades it for the account's access token and secret,
// which it writes into the configuration (or prints, with -print).
func cmdAuth(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error {
	cf := addConfigFlags(fs)
	printOnly := fs.Bool("print", false, "print the access token and secret instead of writing them into the configuration file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("auth takes no arguments")
	}
	path := cf.path
	if path == "" {
		path = config.PathFrom(e.getenv)
	}
	cfg, err := cf.load(e)
	if err != nil {
		return err
	}
	t := cfg.Twitter
	if t.ConsumerKey == "" || t.ConsumerSecret == "" {
		return configErr(fmt.Errorf("%s: auth needs the consumer key and secret (the app's \"API key and secret\" in the developer portal): "+
			"set twitter.consumer_key and twitter.consumer_secret, or %s and %s", path, config.KeyEnv("consumer_key"), config.KeyEnv("consumer_secret")))
	}
	if !*printOnly {
		for _, k := range []string{"access_token", "access_token_secret"} {
			if src := t.KeySources[k]; src != "" && src != "inline" {
				fmt.Fprintf(e.stderr, "tweetpi: note: %s now comes from %s, which wins over the file; remove it there to use the new one\n", k, src)
			}
		}
	}

	flow, err := twitter.NewPINFlow(twitter.Options{
		BaseURL:     t.APIURL,
		Credentials: twitter.Credentials{ConsumerKey: t.ConsumerKey.Reveal(), ConsumerSecret: t.ConsumerSecret.Reveal()},
		UserAgent:   "tweetpi/" + appVersion(),
	})
	if err != nil {
		return configErr(err)
	}
	host := hostOf(cmp.Or(t.APIURL, twitter.DefaultBaseURL))
	authURL, err := flow.Start(ctx)
	if err != nil {
		return pinErr(ctx, host, err, configErr(errors.New("the API refused the consumer key and secret: check them against the app's \"Keys and tokens\" page in the developer portal, "+
			"and that the app has user authentication (OAuth 1.0a) set up with a callback URL")))
	}
	fmt.Fprintf(e.stdout, "1. Open this page in a browser and sign in as the device's account:\n\n   %s\n\n2. Authorize the app, then type the PIN the page shows here: ", authURL)
	pin, err := readLine(ctx, e.stdin)
	if err != nil {
		return fmt.Errorf("reading the PIN: %w", err)
	}
	pin = strings.TrimSpace(pin)
	if pin == "" {
		return errors.New("no PIN given; run tweetpi auth again")
	}
	token, secret, err := flow.Finish(ctx, pin)
	if err != nil {
		return pinErr(ctx, host, err, errors.New("the API refused the PIN (wrong, or more than a few minutes old): run tweetpi auth again and type the PIN the page shows"))
	}
	fmt.Fprintln(e.stdout)
	if *printOnly {
		fmt.Fprintf(e.stdout, "Put these in the configuration (or in %s and %s); keep them secret:\n\n  access_token: %q\n  access_token_secret: %q\n",
			config.KeyEnv("access_token"), config.KeyEnv("access_token_secret"), token, secret)
		return nil
	}
	if err := config.SetKeys(path, map[string]string{"access_token": token, "access_token_secret": secret}); err != nil {
		return fmt.Errorf("writing the keys (use -print to see them instead): %w", err)
	}
	fmt.Fprintf(e.stdout, "Wrote the access token and secret into %s (mode 0600). Check them with: tweetpi verify -config %s\n", path, path)
	return nil
}

// pinErr is what auth says when a step of the PIN flow failed: nothing at
// a stop, the network's trouble in plain words, refused when the API
// refused the keys or the PIN (by the error's kind), else the error.
func pinErr(ctx context.Context, host string, err, refused error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if p := netProblem(host, err); p != nil {
		return p
	}
	if twitter.KindOf(err) == twitter.KindUnauthorized {
		return refused
	}
	return err
}

// readLine reads one line, or gives up when ctx ends.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := bufio.NewReader(r).ReadString('\n')
		if err == io.EOF && s != "" {
			err = nil
		}
		ch <- result{s, err}
	}()
	select {
	case res := <-ch:
		return res.s, res.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
