// Package device is everything between a command text and a pin: the
// devices (outputs, pwm, inputs) over periph.io's gpio interfaces, the
// sensors over periph.io's drivers (devices/v3), the command language, the
// timers of pulse, blink and max_on, interlocks, confirmations, schedules,
// the safe state, the status text, and Sim, a backend of in-memory pins and
// simulated sensor chips.
//
// It knows nothing of X: the bot hands Board.Run a text and its author and
// posts the Result's reply. It never initialises periph's host drivers,
// looks pins up in gpioreg or opens a bus; the caller passes a PinSource
// and, for sensors, an I2CSource and a OneWireSource (cmd passes periph's,
// tests recorded buses, the demo a Sim's).
//
// Safety is its first job: Open sets every output to its initial level,
// max_on turns an output off by itself, Halt and Close drive every output
// to its safe level (off, honouring active_low), two devices of an
// interlock group are never on together, and a command text either passes
// every check or runs nothing. A slow or hung sensor never holds a reply,
// the board or another device.
//
// A board may also name devices of other tweetpi nodes (a fleet): it
// checks their commands with the local ones (the kind and max_on their
// node announced, the allow lists, the node online) and hands them, in
// their place in the list, to a Fleet (device/mqtt's), without holding
// its lock while the node answers. Their safety is their node's.
package device
