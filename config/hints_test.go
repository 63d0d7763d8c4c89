package config

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestListHintIsValidYAML: the fix offered for a single value where a
// list belongs is itself valid YAML that gives the list meant; for
// allow: "@alice" that is ["@alice"], since [@alice] is not YAML.
func TestListHintIsValidYAML(t *testing.T) {
	hint := regexp.MustCompile(`write it in brackets, like (\[.*\])$`)
	for _, tc := range []struct {
		key, value string
		want       []string
	}{
		{"allow", `"@alice"`, []string{"@alice"}},
		{"allow", `"@alice, @bob"`, []string{"@alice", "@bob"}},
		{"allow", `"12345"`, []string{"12345"}},
		{"allow", `'@Bob_99'`, []string{"@Bob_99"}},
		{"listen", "dms", []string{"dms"}},
		{"listen", "mentions, dms", []string{"mentions", "dms"}},
		{"listen", `"dms"`, []string{"dms"}},
	} {
		_, err := Parse("c.yaml", []byte("twitter:\n  "+tc.key+": "+tc.value+"\n"), Options{})
		if err == nil {
			t.Errorf("%s: %s loads", tc.key, tc.value)
			continue
		}
		m := hint.FindStringSubmatch(err.Error())
		if m == nil {
			t.Errorf("%s: %s: %v; want a fix in brackets", tc.key, tc.value, err)
			continue
		}
		c, err := Parse("c.yaml", []byte("twitter:\n  "+tc.key+": "+m[1]+"\n"), Options{})
		if err != nil {
			t.Errorf("%s: %s: the fix %s does not load: %v", tc.key, tc.value, m[1], err)
			continue
		}
		got := c.Twitter.Allow
		if tc.key == "listen" {
			got = c.Twitter.Listen
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %s: the fix %s gives %q, want %q", tc.key, tc.value, m[1], got, tc.want)
		}
	}
}

// TestWarnings: what loads but is likely wrong is a warning that never
// shows a key: a device allow naming someone outside twitter.allow (nobody
// can use the device through that entry), a key too short or too long to
// be whole, the same key in two places.
func TestWarnings(t *testing.T) {
	const good = "AbCdEfGh12345678IjKlMnOp"
	for _, tc := range []struct {
		name, yaml string
		env        map[string]string
		want       []string // substrings, one a warning, in order
	}{
		{
			name: "device allow outside",
			yaml: `twitter:
  allow: ["@alice", "@Carol"]
devices:
  pump: {pin: GPIO27, kind: output, allow: ["@bob", "@ALICE", "@carol"]}
`,
			want: []string{`c.yaml:4: devices.pump.allow: "@bob" is not in twitter.allow, so it cannot command pump (a device's allow only narrows twitter.allow); add "@bob" to twitter.allow too, or remove it here`},
		},
		{
			name: "ids outside",
			yaml: `twitter:
  allow: ["12345"]
devices:
  pump: {pin: GPIO27, kind: output, allow: ["12345", "678"]}
`,
			want: []string{`devices.pump.allow: "678" is not in twitter.allow`},
		},
		{
			name: "global empty",
			yaml: "devices:\n  pump: {pin: GPIO27, kind: output, allow: [\"@alice\"]}\n",
			want: []string{`devices.pump.allow: "@alice" is not in twitter.allow`},
		},
		{
			// A handle against ids: which id is whose is known only at start.
			name: "cannot tell",
			yaml: "twitter:\n  allow: [\"12345\"]\ndevices:\n  pump: {pin: GPIO27, kind: output, allow: [\"@alice\"]}\n",
		},
		{
			name: "short and duplicate keys",
			yaml: "twitter:\n  consumer_key: \"abc123\"\n  consumer_secret: \"" + good + "\"\n  access_token: \"12-abc\"\n  access_token_secret: \"" + good + "\"\n  allow: [\"1\"]\n",
			want: []string{
				"twitter.consumer_key (inline) is only 6 characters long; X's keys are 25 to 50: check that all of it was copied",
				"twitter.access_token (inline) is only 6 characters long",
				"twitter.access_token_secret is the same as twitter.consumer_secret",
			},
		},
		{
			name: "long key from env",
			yaml: "twitter:\n  allow: [\"1\"]\n",
			env:  map[string]string{"TWEETPI_CONSUMER_SECRET": strings.Repeat(good, 5)},
			want: []string{"twitter.consumer_secret (env TWEETPI_CONSUMER_SECRET) is 120 characters long; X's keys are 25 to 50: check that only the key was copied"},
		},
		{
			name: "good keys",
			yaml: "twitter:\n  consumer_key: \"" + good + "\"\n  consumer_secret: \"" + good + "x\"\n  access_token: \"12-" + good + "\"\n  access_token_secret: \"" + good + "y\"\n  allow: [\"1\"]\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("c.yaml", []byte(tc.yaml), Options{Getenv: envMap(tc.env)})
			if err != nil {
				t.Fatal(err)
			}
			got := c.Warnings()
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q, want %d: %q", got, len(tc.want), tc.want)
			}
			for i, w := range got {
				if !strings.Contains(w, tc.want[i]) {
					t.Errorf("warning %d: %q, want %q", i, w, tc.want[i])
				}
				if strings.Contains(w, good[:10]) || strings.Contains(w, "abc123") {
					t.Errorf("warning %d shows a key: %q", i, w)
				}
			}
		})
	}
}
