// Package device is everything between a command text and a pin: the
// devices (outputs, pwm, inputs) over periph.io's gpio interfaces, the
// command language, the timers of pulse, blink and max_on, the safe state,
// the status text, and Sim, a backend of in-memory pins.
//
// It knows nothing of X: the bot hands Board.Run a text and its author and
// posts the Result's reply. It never initialises periph's host drivers or
// looks pins up in gpioreg; the caller passes a PinSource (cmd passes
// periph's, tests and the demo a Sim's).
//
// Safety is its first job: Open sets every output to its initial level,
// max_on turns an output off by itself, Halt and Close drive every output
// to its safe level (off, honouring active_low), and a command text either
// passes every check or runs nothing.
package device
