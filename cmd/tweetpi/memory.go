package main

import "runtime/debug"

// daemonGCPercent is the garbage collector's GOGC for `tweetpi run`.
//
// The daemon's live heap is about 1 MiB. At Go's default of 100 the heap
// may grow to the collector's minimum goal, 4 MiB, before each collection,
// and the pages it frees go back to the kernel only slowly: over the first
// minutes of a command a second the RSS climbed from 10 to 16 MiB (heap
// profiles showed no object that stayed: the live heap stays flat). At 50
// the minimum goal is 2 MiB: the RSS stays some 2 MiB lower, for a
// collection every few seconds of a core that is otherwise idle.
const daemonGCPercent = 50

// tuneGC sets the daemon's GC goal, unless the environment's GOGC says
// otherwise (systemctl edit tweetpi: Environment=GOGC=100).
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(daemonGCPercent)
	}
}
