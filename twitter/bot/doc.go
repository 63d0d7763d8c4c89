// Package bot is tweetpi's bot: it takes posts and DM events from its
// sources (today the mention poll and the DM poll; a PushSource such as
// the Activity API stream plugs in beside them), puts every one through
// the same checks in one place (taken before, the account's own, who, the
// clock, max_age), records it in the state directory's Ledger before it
// runs, calls the Handler, and answers through the outbox, paced so no
// rate limit is ever exceeded.
//
// The Ledger (the state file and the lock that keeps a second daemon away)
// stands on its own: a fleet agent, which has no X keys, uses it for the
// at-most-once of its MQTT commands (Ledger.Take).
//
// It imports the twitter client, never the reverse, and never the device
// package: cmd wires a Handler to it.
package bot
