package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dghubble/oauth1"
	"gopkg.in/yaml.v3"

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
	if err := setKeys(path, map[string]string{"access_token": token, "access_token_secret": secret}); err != nil {
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

// setKeys writes keys (twitter.<name>: "value") into the YAML file at path,
// changing only their lines, so comments and layout stay; a key not in the
// file is added at the top of the twitter: block. The file is replaced
// atomically with mode 0600.
func setKeys(path string, keys map[string]string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := editKeys(data, keys)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeConfigAtomic(path, out)
}

// editKeys is setKeys on bytes.
func editKeys(data []byte, keys map[string]string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	lines := strings.SplitAfter(string(data), "\n")
	var tw *yaml.Node
	var twKey *yaml.Node
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "twitter" {
				twKey, tw = m.Content[i], m.Content[i+1]
			}
		}
	}
	var add []string
	for _, k := range []string{"access_token", "access_token_secret"} {
		v, ok := keys[k]
		if !ok {
			continue
		}
		quoted := fmt.Sprintf("%q", v)
		var val *yaml.Node
		if tw != nil && tw.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(tw.Content); i += 2 {
				if tw.Content[i].Value == k {
					val = tw.Content[i+1]
				}
			}
		}
		if val == nil {
			add = append(add, k+": "+quoted)
			continue
		}
		if val.Kind != yaml.ScalarNode || val.Line < 1 || val.Line > len(lines) || strings.Contains(val.Value, "\n") {
			return nil, fmt.Errorf("twitter.%s at line %d is not a one-line value; write it as %s: \"\" and run auth again", k, val.Line, k)
		}
		line := lines[val.Line-1]
		start := val.Column - 1
		if val.Tag == "!!null" && val.Value == "" {
			// "access_token:" with nothing after it: the column is past the key.
			start = strings.Index(line, ":") + 1
			quoted = " " + quoted
		}
		end, err := scalarEnd(line, start, val.Style)
		if err != nil {
			return nil, fmt.Errorf("twitter.%s at line %d: %w", k, val.Line, err)
		}
		lines[val.Line-1] = line[:start] + quoted + line[end:]
	}
	if len(add) > 0 {
		switch {
		case tw != nil && tw.Kind == yaml.MappingNode && len(tw.Content) > 0 && tw.Style&yaml.FlowStyle == 0:
			first := tw.Content[0]
			indent := strings.Repeat(" ", first.Column-1)
			var block string
			for _, a := range add {
				block += indent + a + "\n"
			}
			lines[first.Line-1] = block + lines[first.Line-1]
		case tw == nil:
			var block string
			if n := len(lines); n > 0 && lines[n-1] != "" && !strings.HasSuffix(lines[n-1], "\n") {
				block = "\n"
			}
			block += "twitter:\n"
			for _, a := range add {
				block += "  " + a + "\n"
			}
			lines = append(lines, block)
		default:
			line := 0
			if twKey != nil {
				line = twKey.Line
			}
			return nil, fmt.Errorf("the twitter: block at line %d is empty or on one line; write it as a block with access_token: \"\" and access_token_secret: \"\" lines, and run auth again", line)
		}
	}
	out := []byte(strings.Join(lines, ""))
	// The edit must leave a file that says what we meant.
	var check struct {
		Twitter map[string]any `yaml:"twitter"`
	}
	if err := yaml.Unmarshal(out, &check); err != nil {
		return nil, fmt.Errorf("the edited file does not parse (left unchanged): %w", err)
	}
	for k, v := range keys {
		if got, _ := check.Twitter[k].(string); got != v {
			return nil, fmt.Errorf("the edit of twitter.%s did not take (file left unchanged)", k)
		}
	}
	return out, nil
}

// scalarEnd is where the scalar that starts at line[start:] ends.
func scalarEnd(line string, start int, style yaml.Style) (int, error) {
	if start > len(line) {
		return 0, errors.New("value past the end of its line")
	}
	rest := line[start:]
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			switch rest[i] {
			case '\\':
				i++
			case '"':
				return start + i + 1, nil
			}
		}
		return 0, errors.New("unterminated double-quoted value")
	case style&yaml.SingleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				return start + i + 1, nil
			}
		}
		return 0, errors.New("unterminated single-quoted value")
	case style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, errors.New("a block scalar")
	}
	end := len(strings.TrimRight(rest, "\r\n"))
	if i := strings.Index(rest, " #"); i >= 0 && i < end {
		end = i
	}
	return start + len(strings.TrimRight(rest[:end], " \t")), nil
}

// writeConfigAtomic replaces path (a config, or the safe list) with data: a temp file in the same directory
// with mode 0600 (and the old file's owner, when allowed), fsync, rename,
// fsync of the directory.
func writeConfigAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if fi, err := os.Stat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			_ = f.Chown(int(st.Uid), int(st.Gid)) // best effort: keeps a root-edited file the service's
		}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	_ = d.Sync()
	return nil
}
