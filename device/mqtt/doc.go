// Package mqtt puts a tweetpi's devices on an MQTT broker (MQTT 5, through
// paho.golang, with a connection manager modelled on autopaho's): Home
// Assistant's device-based discovery, a retained state topic for each
// device, set topics that take one command in the post language,
// availability with a will, and MQTT 5 request/response (response topic
// and correlation data).
//
// Topics, with NODE the node's name and DEV a device's:
//
//	tweetpi/NODE/availability     online (retained) once connected; offline as the will and at a clean stop
//	tweetpi/NODE/DEV/state        retained, on every change and at connect: on/off, 0-100, the input's word
//	tweetpi/NODE/DEV/set          a command without the name: on, off, toggle, pulse 30s, blink 3, 40%
//	tweetpi/NODE/cpu_temperature  retained, °C with one decimal, where the board has a thermal zone
//	tweetpi/NODE/devices          retained, its devices' kinds and limits, for the fleet's gateway (Announcement)
//	tweetpi/NODE/replies/GATEWAY  its answers to GATEWAY's requests, in its own tree
//	DISCOVERY/device/NODE/config  retained, Home Assistant's device-based discovery payload
//
// The fleet: a gateway (the tweetpi with the X keys) names devices of
// other nodes; its Fleet follows every node's availability, announcement
// and states, and sends a command for one as an MQTT 5 request on that
// node's set topic (fleet.go). The node runs it under its own rules and
// answers; nothing is sent twice or run twice, and nothing runs after the
// gateway stopped waiting for it.
//
// It never goes around the device rules: a command from the broker runs
// through the Board like a post does (max_on, the safe state and whatever
// else the board enforces), a retained command is never run, a message
// with correlation data runs at most once (its id is in the Ledger before
// it runs), and an expired message is not run. It never logs the broker
// password. The broker going away never stops the caller: Run reconnects
// with a capped, jittered backoff until its context ends.
package mqtt
