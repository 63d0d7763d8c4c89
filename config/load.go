package config

// STUB: the loader's signatures; the real strict loader replaces this file.

import (
	"os"
	"path/filepath"
)

// Options change how a configuration is loaded.
type Options struct {
	// Getenv reads the environment (TWEETPI_CONSUMER_KEY...). nil: no environment.
	Getenv func(string) string
	// InsecurePerms accepts secret files readable by group or others.
	InsecurePerms bool
}

// PathFrom returns the configuration path to use when no -config flag is
// given: $TWEETPI_CONFIG, else $CREDENTIALS_DIRECTORY/config.yaml, else
// DefaultPath.
func PathFrom(getenv func(string) string) string {
	if p := getenv("TWEETPI_CONFIG"); p != "" {
		return p
	}
	if d := getenv("CREDENTIALS_DIRECTORY"); d != "" {
		return filepath.Join(d, "config.yaml")
	}
	return DefaultPath
}

// Load reads, decodes, fills defaults and validates the file at path.
// A validation failure is an *Errors listing every problem.
func Load(path string, opt Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, opt)
}

// Parse is Load on bytes; name is used in messages.
func Parse(name string, data []byte, opt Options) (*Config, error) {
	c := &Config{Path: name}
	return c, nil
}

// Error is one problem in a configuration file.
type Error struct {
	File  string
	Line  int    // 0 when not tied to a line
	Key   string // dotted: devices.pump.max_on
	Value string // the bad value as written ("" for a missing key); never a secret
	Msg   string // what is wrong and how to fix it
}

func (e *Error) Error() string { return e.File + ": " + e.Key + ": " + e.Msg }

// Errors is every problem found in one file.
type Errors []*Error

func (es Errors) Error() string {
	s := ""
	for i, e := range es {
		if i > 0 {
			s += "\n"
		}
		s += e.Error()
	}
	return s
}
