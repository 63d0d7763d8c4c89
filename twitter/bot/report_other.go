//go:build !unix

package bot

// inMemory: no way to tell here; the status file is written as on a card.
func inMemory(string) bool { return false }

// processAlive: no way to tell here; the file's presence decides.
func processAlive(int) bool { return true }
