package config

// The words of the command language, the one list of them: device's verbs
// are these constants, and no device or alias may be named one of them.
const (
	WordHelp   = "help"   // the verbs and the device names
	WordStatus = "status" // every device's state; after a name, that device's
	WordOn     = "on"
	WordOff    = "off"
	WordToggle = "toggle"
	WordPulse  = "pulse"
	WordBlink  = "blink"
	WordAll    = "all" // every device at once (all off)

	WordYes       = "yes"       // confirms the command that waits for the person's yes
	WordSchedules = "schedules" // the schedules and their next run
)

// ReservedWords are the words of the command language; no device or alias
// may be named one of them.
var ReservedWords = []string{WordHelp, WordStatus, WordOn, WordOff, WordToggle, WordPulse, WordBlink, WordAll, WordYes, WordSchedules}
