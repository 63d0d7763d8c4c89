package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestExampleLetsNobodyIn: deploy/config.example.yaml is installed as
// /etc/tweetpi/config.yaml, so it must let nobody in: twitter.allow and
// every device's allow are empty, and each commented example, uncommented
// as it stands, is refused (a placeholder must not be someone's handle).
func TestExampleLetsNobodyIn(t *testing.T) {
	data, err := os.ReadFile("../deploy/config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("config.yaml", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Twitter.Allow) != 0 {
		t.Errorf("twitter.allow is %q; the installed file must let nobody in", c.Twitter.Allow)
	}
	for _, d := range c.Devices {
		if len(d.Allow) != 0 {
			t.Errorf("devices.%s.allow is %q; the installed file must name nobody", d.Name, d.Allow)
		}
	}

	// Each commented allow example, uncommented in place, must fail to load.
	example := regexp.MustCompile(`^(\s*)#\s*(allow: \[.+\])\s*$`)
	lines := strings.Split(string(data), "\n")
	tried := 0
	for i, l := range lines {
		m := example.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		edited := append([]string(nil), lines...)
		indent := m[1]
		for j := i + 1; j < len(lines) && j < i+10; j++ {
			if lines[j] == indent+"allow: []" {
				edited[j] = "" // the example takes the place of the empty list below it
				break
			}
		}
		edited[i] = indent + m[2]
		tried++
		_, err := Parse("config.yaml", []byte(strings.Join(edited, "\n")), Options{})
		if err == nil {
			t.Errorf("line %d uncommented (%s) loads: a placeholder must not be a handle someone could hold", i+1, strings.TrimSpace(m[2]))
			continue
		}
		if !strings.Contains(err.Error(), "placeholder") {
			t.Errorf("line %d uncommented: %v; want it named a placeholder", i+1, err)
		}
	}
	if tried < 2 {
		t.Errorf("found %d commented allow examples; want the global and the pump's", tried)
	}
}
