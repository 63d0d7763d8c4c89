package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dghubble/oauth1"

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

	base := strings.TrimRight(t.APIURL, "/")
	if base == "" {
		base = twitter.DefaultBaseURL
	}
	oc := &oauth1.Config{
		ConsumerKey:    t.ConsumerKey.Reveal(),
		ConsumerSecret: t.ConsumerSecret.Reveal(),
		CallbackURL:    "oob",
		Endpoint: oauth1.Endpoint{
			RequestTokenURL: base + "/oauth/request_token",
			AuthorizeURL:    base + "/oauth/authorize",
			AccessTokenURL:  base + "/oauth/access_token",
		},
		// oauth1 makes its requests without a context: this client adds ours.
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: ctxTransport{ctx, http.DefaultTransport}},
	}
	reqToken, reqSecret, err := oc.RequestToken()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if strings.Contains(err.Error(), "invalid status 401") {
			return configErr(errors.New("the API refused the consumer key and secret: check them against the app's \"Keys and tokens\" page in the developer portal, " +
				"and that the app has user authentication (OAuth 1.0a) set up with a callback URL"))
		}
		return fmt.Errorf("request token: %w", err)
	}
	authURL, err := oc.AuthorizationURL(reqToken)
	if err != nil {
		return err
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
	token, secret, err := oc.AccessToken(reqToken, reqSecret, pin)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if strings.Contains(err.Error(), "invalid status 401") {
			return errors.New("the API refused the PIN (wrong, or more than a few minutes old): run tweetpi auth again and type the PIN the page shows")
		}
		return fmt.Errorf("access token: %w", err)
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

type ctxTransport struct {
	ctx  context.Context
	next http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(r.WithContext(t.ctx))
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
