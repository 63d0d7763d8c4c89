package mqtt

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tweetpi/tweetpi/config"
)

// MemoryFile is the file in the state directory that remembers which
// discovery components were published, so that a device taken out of the
// configuration is removed from Home Assistant at the next start: Home
// Assistant keeps a component a newer payload leaves out, and removes one
// sent with only its platform (home-assistant.io, integrations/mqtt,
// "Device discovery payload").
const MemoryFile = "mqtt-discovery.json"

// published is what MemoryFile holds.
type published struct {
	Topic      string            `json:"topic"`      // the discovery topic they went to
	Components map[string]string `json:"components"` // component id -> platform
}

// loadPublished reads what was published last; nothing when dir is "" or
// the file does not exist. The node is the file's one writer: what an
// interrupted write left goes first.
func loadPublished(dir string) (published, error) {
	if dir == "" {
		return published{}, nil
	}
	_, _ = config.RemoveTemp(filepath.Join(dir, MemoryFile))
	data, err := os.ReadFile(filepath.Join(dir, MemoryFile))
	if errors.Is(err, fs.ErrNotExist) {
		return published{}, nil
	}
	if err != nil {
		return published{}, err
	}
	var p published
	if err := json.Unmarshal(data, &p); err != nil {
		return published{}, err
	}
	return p, nil
}

// savePublished remembers what was published.
func savePublished(dir string, p published) error {
	if dir == "" {
		return nil
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return config.WriteFile(filepath.Join(dir, MemoryFile), append(data, '\n'), 0o600)
}
