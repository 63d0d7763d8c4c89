package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// SetKeys writes keys (twitter.<name>: "value") into the YAML file at path,
// changing only their lines, so comments and layout stay; a key not in the
// file is added at the top of the twitter: block. The file is replaced
// atomically with mode 0600 (WriteFile), after the temp files of an earlier
// write that was cut short are removed.
func SetKeys(path string, keys map[string]string) error {
	RemoveTemp(path) // what it cannot remove is left for the next time; never read
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := EditKeys(data, keys)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteFile(path, out, 0o600)
}

// EditKeys is SetKeys on bytes: it returns the edited file.
func EditKeys(data []byte, keys map[string]string) ([]byte, error) {
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
