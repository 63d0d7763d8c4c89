package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Warnings are what loads but is likely not what was meant, one a line,
// naming the file, line and key where they can; they never show a key.
// `tweetpi check` prints them.
func (c *Config) Warnings() []string {
	if c.Agent() {
		return append(c.mqttWarnings(), c.agentWarnings()...)
	}
	out := keyWarnings(&c.Twitter)
	out = append(out, c.allowWarnings()...)
	out = append(out, c.mqttWarnings()...)
	return out
}

// allowWarnings: a device's allow only narrows twitter.allow, so an entry
// that is not in twitter.allow lets nobody in. A handle cannot be told
// from an id before the handles are looked up at start: an entry is named
// only when it surely is outside (a handle when twitter.allow has no ids,
// an id when it has no handles).
func (c *Config) allowWarnings() []string {
	handles, ids := map[string]bool{}, map[string]bool{}
	for _, a := range c.Twitter.Allow {
		if h, ok := strings.CutPrefix(a, "@"); ok {
			handles[strings.ToLower(h)] = true
		} else {
			ids[a] = true
		}
	}
	var out []string
	for _, d := range c.Devices {
		for _, a := range d.Allow {
			h, isHandle := strings.CutPrefix(a, "@")
			inside := isHandle && (handles[strings.ToLower(h)] || len(ids) > 0) ||
				!isHandle && (ids[a] || len(handles) > 0)
			if inside {
				continue
			}
			out = append(out, fmt.Sprintf("%sdevices.%s.allow: %s is not in twitter.allow, so it cannot command %s (a device's allow only narrows twitter.allow); add %s to twitter.allow too, or remove it here",
				c.where(d.Line), d.Name, quote(a), d.Name, quote(a)))
		}
	}
	return out
}

// where is "FILE:LINE: " for a warning.
func (c *Config) where(line int) string {
	switch {
	case c.Path == "":
		return ""
	case line > 0:
		return fmt.Sprintf("%s:%d: ", c.Path, line)
	}
	return c.Path + ": "
}

var plainItem = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// flowList renders a single value as the YAML list it was likely meant to
// be: "@alice, @bob" as ["@alice", "@bob"], dms as [dms]. An item that
// plain YAML would misread (a leading @, a colon) is quoted.
func flowList(s string) string {
	parts := strings.Split(s, ",")
	items := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !plainItem.MatchString(p) {
			p = quote(p)
		}
		items = append(items, p)
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// agentWarnings: an agent takes its commands from the broker, whose ACL
// decides who may send them; a device's allow list names X users, whom
// only the gateway sees.
func (c *Config) agentWarnings() []string {
	var out []string
	for _, d := range c.Devices {
		if len(d.Allow) > 0 {
			out = append(out, fmt.Sprintf("%sdevices.%s.allow: this tweetpi is a fleet agent (mqtt:, no twitter:), which takes commands from the broker only, where X users' allow lists do not apply; give %s's local name on the gateway this allow list instead",
				c.where(d.Line), d.Name, d.Name))
		}
	}
	return out
}
