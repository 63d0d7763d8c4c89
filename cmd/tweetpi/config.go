package main

import (
	"flag"

	"github.com/tweetpi/tweetpi/config"
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
	return config.Load(path, config.Options{Getenv: e.getenv, InsecurePerms: cf.insecure})
}
