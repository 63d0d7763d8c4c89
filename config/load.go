package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options change how a configuration is loaded.
type Options struct {
	// Getenv reads the environment (TWEETPI_CONSUMER_KEY...). nil: no environment.
	Getenv func(string) string
	// InsecurePerms accepts secret files readable by group or others.
	InsecurePerms bool
	// Pins returns the names of the board's pins (periph's gpioreg after
	// host.Init, aliases included). With the periph backend each device's
	// pin must be one of them; it is called only then. nil, or no names (a
	// machine without GPIO), checks only the shape of the names, as for the
	// sim backend.
	Pins func() []string
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

// maxFile is the largest configuration file read.
const maxFile = 1 << 20

// Load reads, decodes, fills defaults and validates the file at path, and
// takes the keys from the environment, *_file keys or the file, in that
// order. A file that holds a key and can be read by group or others is
// refused unless opt.InsecurePerms. Every problem is reported at once, as
// Errors; a missing key is not a problem here (see Twitter.CheckKeys).
func Load(path string, opt Options) (*Config, error) {
	fail := func(msg string) (*Config, error) {
		return nil, Errors{{File: path, Msg: msg}}
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fail("no such file; copy config.example.yaml there and edit it, or name another file with -config or TWEETPI_CONFIG")
	}
	if err != nil {
		return fail("cannot be read: " + reason(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail("cannot be read: " + reason(err))
	}
	if fi.IsDir() {
		return fail("is a directory; name the config.yaml file in it")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return fail("cannot be read: " + reason(err))
	}
	if len(data) > maxFile {
		return fail(fmt.Sprintf("is larger than %d bytes; is it the right file?", maxFile))
	}

	c, d := parse(path, data, opt)
	if line, key, elsewhere := d.firstInline(); line > 0 && exposed(path, fi.Mode(), opt) && !opt.InsecurePerms {
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		d.addf(line, key, "",
			"this file holds a secret and can be read by group or others (mode %04o); run chmod 600 %s, or move the %s",
			fi.Mode().Perm(), abs, elsewhere)
	}
	return d.result(c)
}

// Parse is Load on bytes: name is used in messages and relative *_file
// paths start at its directory. It cannot check the permissions of the
// file the bytes came from; Load does.
func Parse(name string, data []byte, opt Options) (*Config, error) {
	c, d := parse(name, data, opt)
	return d.result(c)
}

func (d *decoder) result(c *Config) (*Config, error) {
	if len(d.errs) > 0 {
		d.scrub(c)
		sortErrors(d.errs)
		return nil, d.errs
	}
	return c, nil
}

// parse decodes and checks data; the problems are in the decoder.
func parse(name string, data []byte, opt Options) (*Config, *decoder) {
	d := newDecoder(name)
	d.data = data
	c := Default()
	c.Path = name
	c.Twitter.file = name
	doc, ok := d.yaml(data)
	if !ok {
		return c, d
	}
	d.root(doc, c)
	if c.StateDir != "" && !filepath.IsAbs(c.StateDir) {
		c.StateDir = filepath.Join(filepath.Dir(name), c.StateDir)
	}
	d.keys(&c.Twitter, filepath.Dir(name), opt)
	d.mqttFiles(c.MQTT, filepath.Dir(name), opt)
	if c.GPIO.Backend == BackendPeriph && opt.Pins != nil && slices.ContainsFunc(c.Devices, func(dev Device) bool { return dev.Pin != "" }) {
		d.board = opt.Pins()
	}
	c.validate(d)
	return c, d
}

var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// yaml parses data into a node tree, reporting syntax errors with a fix.
func (d *decoder) yaml(data []byte) (doc *yaml.Node, ok bool) {
	defer func() {
		if r := recover(); r != nil { // the parser must never take the daemon down
			d.add(0, "", "", "is not valid YAML (the parser gave up); check the indentation and quotes")
			doc, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	doc = &yaml.Node{}
	if err := dec.Decode(doc); errors.Is(err, io.EOF) {
		return nil, true
	} else if err != nil {
		d.syntax(err, data)
		return nil, false
	}
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		d.addf(more.Line, "", "", "a second YAML document starts here (after ---); keep everything in one")
		return nil, false
	} else if !errors.Is(err, io.EOF) {
		d.syntax(err, data)
		return nil, false
	}
	return doc, true
}

var (
	unquotedAt = regexp.MustCompile(`(^|[\s\[,:{-])@`)
	tabIndent  = regexp.MustCompile(`^ *\t`)
)

// syntax turns a YAML syntax error into a problem with a line and a fix.
func (d *decoder) syntax(err error, data []byte) {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	fix := "check the indentation and the quotes on this line and the one before"
	if line == 0 {
		fix = "check the indentation and the quotes"
	}
	lines := strings.Split(string(data), "\n")
	find := func(re *regexp.Regexp) int {
		if line > 0 && line <= len(lines) && re.MatchString(lines[line-1]) {
			return line
		}
		return slices.IndexFunc(lines, re.MatchString) + 1
	}
	// yaml.v3 quotes the source in a few messages (an alias's name); the
	// text may be a secret, so it is never shown.
	if strings.HasPrefix(msg, "unknown anchor") || strings.HasPrefix(msg, "anchor ") {
		msg = "an alias (*name) refers to an anchor (&name) that is not defined"
		fix = `a value that starts with * must be in quotes, like "*abc"`
		if l := find(unquotedAlias); l > 0 {
			line = l
		}
	}
	msg = quotedInYAML.ReplaceAllString(msg, "(text not shown)")
	if strings.Contains(msg, "cannot start any token") {
		if l := find(tabIndent); l > 0 {
			line, fix = l, "YAML indents with spaces, not tabs; replace the tabs"
		} else if l := find(unquotedAt); l > 0 {
			line, fix = l, `a value that starts with @ must be quoted, like "@alice"`
		}
	}
	d.addf(line, "", "", "not valid YAML: %s; %s", msg, fix)
}
