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

// DevicesTopic is where a node announces its devices to the fleet's
// gateway, retained: tweetpi/NODE/devices, a JSON object (Announcement)
// of each device's kind and the limits the gateway checks before it sends
// a command.
func DevicesTopic(node string) string { return Root + "/" + node + "/devices" }

// ReplyTopic is where node answers the requests of gateway:
// tweetpi/NODE/replies/GATEWAY, inside the answering node's own topics, so
// a broker ACL that lets each node write only its own tree also keeps one
// node from answering for another.
func ReplyTopic(node, gateway string) string { return Root + "/" + node + "/replies/" + gateway }

// DiscoveryTopic is Home Assistant's device-based discovery topic for a
// node: PREFIX/device/NODE/config.
func DiscoveryTopic(prefix, node string) string { return prefix + "/device/" + node + "/config" }

// Filters of what a gateway follows of every node.
const (
	availabilityFilter = Root + "/+/availability"
	devicesFilter      = Root + "/+/devices"
	stateFilter        = Root + "/+/+/state"
)

// replyFilter matches the answers to gateway's requests, from every node.
func replyFilter(gateway string) string { return Root + "/+/replies/" + gateway }

// topicNode is the node of a topic tweetpi/NODE/..., and the levels after it.
func topicNode(topic string) (node string, rest []string, ok bool) {
	parts := strings.Split(topic, "/")
	if len(parts) < 3 || parts[0] != Root || parts[1] == "" {
		return "", nil, false
	}
	return parts[1], parts[2:], true
}

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
