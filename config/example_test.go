package config_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/tweetpi/tweetpi/config"
)

func ExampleParse() {
	data := []byte(`twitter:
  allow: ["@alice"]
  listen: [mentions, dms]
devices:
  led: {pin: GPIO17, kind: output}
  door: {pin: GPIO22, kind: input, pull: up, high: open, low: closed}
`)
	getenv := func(k string) string {
		if k == "TWEETPI_CONSUMER_KEY" {
			return "example-consumer-key"
		}
		return ""
	}
	c, err := config.Parse("config.yaml", data, config.Options{Getenv: getenv})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range c.Devices {
		fmt.Println(d.Name, d.Kind, d.Pin, "line", d.Line)
	}
	fmt.Println("poll every", c.Twitter.PollInterval, "via", c.Twitter.API)
	fmt.Println("consumer key:", c.Twitter.ConsumerKey, "from", c.Twitter.KeySources["consumer_key"])
	fmt.Println("missing:", c.Twitter.MissingKeys())
	// Output:
	// led output GPIO17 line 5
	// door input GPIO22 line 6
	// poll every 1m0s via v2
	// consumer key: [redacted] from env TWEETPI_CONSUMER_KEY
	// missing: [consumer_secret access_token access_token_secret]
}

func ExampleParse_errors() {
	data := []byte(`twitter:
  poll_interval: 1 minute
devices:
  pump: {pin: GPIO27, kind: output, max_on: "5 minutes", pins: GPIO4}
`)
	_, err := config.Parse("config.yaml", data, config.Options{})
	var problems config.Errors
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Println(p)
		}
	}
	// Output:
	// config.yaml:2: twitter.poll_interval: "1 minute" is not a duration; write it like 5m or 90s
	// config.yaml:4: devices.pump.pins: unknown key; did you mean pin?
	// config.yaml:4: devices.pump.max_on: "5 minutes" is not a duration; write it like 5m or 90s
}

func ExampleLoad() {
	path := config.PathFrom(os.Getenv) // $TWEETPI_CONFIG, $CREDENTIALS_DIRECTORY/config.yaml or /etc/tweetpi/config.yaml
	c, err := config.Load(path, config.Options{Getenv: os.Getenv})
	if err != nil {
		fmt.Fprintln(os.Stderr, err) // every problem, one a line, with file:line
		return
	}
	if err := c.Twitter.CheckKeys(); err != nil { // only for the commands that talk to the API
		fmt.Fprintln(os.Stderr, err)
	}
}
