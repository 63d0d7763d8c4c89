package main

import (
	"flag"
	"log/slog"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/twitter"
	"github.com/tweetpi/tweetpi/twitter/bot"
)

// configFlags are the flags every command that reads the configuration has.
type configFlags struct {
	path     string
	insecure bool
}

func addConfigFlags(fs *flag.FlagSet) *configFlags {
	cf := &configFlags{}
	fs.StringVar(&cf.path, "config", "", "configuration `file` (default $TWEETPI_CONFIG, else $CREDENTIALS_DIRECTORY/config.yaml, else "+config.DefaultPath+")")
	fs.BoolVar(&cf.insecure, "insecure-perms", false, "accept secret files that group or others can read (not recommended)")
	return cf
}

// load reads the configuration the flags and environment name.
func (cf *configFlags) load(e *env) (*config.Config, error) {
	path := cf.path
	if path == "" {
		path = config.PathFrom(e.getenv)
	}
	return config.Load(path, config.Options{Getenv: e.getenv, InsecurePerms: cf.insecure, Pins: boardPins})
}

// boardPins are the pin names periph knows here, for config.Options.Pins:
// a pin name this board lacks is a configuration error, with its line.
// host.Init runs once per process; the drivers that failed are logged
// when the pins are opened.
func boardPins() []string {
	if initPeriph(slog.New(slog.DiscardHandler)) != nil {
		return nil
	}
	return pinNames()
}

// clientOptions are the API client settings of a configuration: the
// daemon, verify and the tests build their clients from it.
func clientOptions(cfg *config.Config) twitter.Options {
	t := cfg.Twitter
	return twitter.Options{
		API:     t.API,
		BaseURL: t.APIURL,
		Credentials: twitter.Credentials{
			ConsumerKey:       t.ConsumerKey.Reveal(),
			ConsumerSecret:    t.ConsumerSecret.Reveal(),
			AccessToken:       t.AccessToken.Reveal(),
			AccessTokenSecret: t.AccessTokenSecret.Reveal(),
		},
		UserAgent: "tweetpi/" + appVersion(),
	}
}

// activity is the Activity API client the bot streams with, nil with
// delivery: poll.
func activity(cfg *config.Config, opt twitter.Options) (bot.Activity, error) {
	if cfg.Twitter.Delivery == config.DeliveryPoll {
		return nil, nil
	}
	a, err := twitter.NewActivity(opt)
	if err != nil {
		return nil, err
	}
	return a, nil
}
