package mqtt

import "strings"

// Root is the first level of every tweetpi topic.
const Root = "tweetpi"

// Availability payloads (Home Assistant's defaults too).
const (
	Online  = "online"
	Offline = "offline"
)

// AvailabilityTopic is where a node says whether it is online:
// tweetpi/NODE/availability.
func AvailabilityTopic(node string) string { return Root + "/" + node + "/availability" }

// StateTopic is where a node publishes a device's state:
// tweetpi/NODE/DEV/state.
func StateTopic(node, device string) string { return Root + "/" + node + "/" + device + "/state" }

// SetTopic is where a node takes commands for a device:
// tweetpi/NODE/DEV/set.
func SetTopic(node, device string) string { return Root + "/" + node + "/" + device + "/set" }

// CPUTopic is where a node publishes its CPU temperature:
// tweetpi/NODE/cpu_temperature. Node topics have three levels and device
// topics four, so no device name can clash with it.
func CPUTopic(node string) string { return Root + "/" + node + "/cpu_temperature" }

// DiscoveryTopic is Home Assistant's device-based discovery topic for a
// node: PREFIX/device/NODE/config.
func DiscoveryTopic(prefix, node string) string { return prefix + "/device/" + node + "/config" }

// setFilter matches every set topic of a node.
func setFilter(node string) string { return Root + "/" + node + "/+/set" }

// setDevice returns the device a set topic of node names.
func setDevice(node, topic string) (string, bool) {
	rest, ok := strings.CutPrefix(topic, Root+"/"+node+"/")
	if !ok {
		return "", false
	}
	dev, ok := strings.CutSuffix(rest, "/set")
	if !ok || dev == "" || strings.Contains(dev, "/") {
		return "", false
	}
	return dev, true
}

// validTopic reports whether a topic may be published to: not empty, no
// wildcards, no NUL, at most 1024 bytes.
func validTopic(t string) bool {
	return t != "" && len(t) <= 1024 && !strings.ContainsAny(t, "+#\x00")
}
