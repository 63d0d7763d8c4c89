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
package device
