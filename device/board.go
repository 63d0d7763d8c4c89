package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/tweetpi/tweetpi/config"
)

// DefaultThermalPath is where Linux shows the CPU temperature in
// millidegrees Celsius.
const DefaultThermalPath = "/sys/class/thermal/thermal_zone0/temp"

// watchPoll bounds how long an input watcher waits for an edge before it
// checks whether the board is closing (Close also halts the pin, which
// wakes periph's drivers at once).
const watchPoll = time.Second

// eventBuffer is how many input changes wait for a slow reader before the
// oldest is dropped.
const eventBuffer = 16

// Caller is who sent a command.
type Caller struct {
	// ID is the numeric X user id: what allow lists are matched by. Only
	// a caller with one is asked to confirm (a confirm device's command
	// waits for the same ID's yes): callers that are not a person on X
	// (MQTT, schedules) leave it empty.
	ID       string
	Username string // handle without @, for messages only: a name is never matched (anyone can take a free one)
	// Local is a person at the device itself (tweetpi do) or the owner's
	// file (a schedule): device allow lists and confirmation do not apply.
	// The bot never sets it.
	Local bool
	// CommandID is the command's own id (the post's or DM event's), which
	// a command on a device of another node carries to that node as its
	// at-most-once id; "" when the command has none (a schedule).
	CommandID string
}

// PinSource finds a pin by the name the config gives it. cmd passes one
// over periph's gpioreg; tests and the demo pass a Sim's Pin method.
type PinSource func(name string) (gpio.PinIO, error)

// Options are what Open needs besides the devices and the pins.
type Options struct {
	Logger      *slog.Logger // nil: no logs
	Start       time.Time    // when the program started, for the uptime; zero: when Open ran
	ThermalPath string       // CPU temperature in millidegrees; "": DefaultThermalPath
	// UserID resolves an @handle of a device's allow list (without the @,
	// any case) to the user id it names; ok is false while it is not
	// known, and the handle then lets nobody in. nil: handles let nobody in,
	// only ids do. cmd passes the bot's, which resolves them at start.
	UserID func(handle string) (id string, ok bool)

	// Interlocks are groups of device names of which one at most is on;
	// InterlockWait is how long the others must have been off before one
	// goes on (config.Config's keys of the same names; 0: no wait).
	Interlocks    [][]string
	InterlockWait time.Duration

	// Schedules run on the board once RunSchedules is called. Location is
	// their time zone (nil: time.Local); Now their wall clock (nil:
	// time.Now; tests move it to play a suspend or a clock that jumps).
	Schedules []config.Schedule
	Location  *time.Location
	Now       func() time.Time

	// I2C and OneWire open the sensors' buses; a board with sensors needs
	// the one its sensors use. ReadTimeout bounds one sensor read (0:
	// DefaultReadTimeout).
	I2C         I2CSource
	OneWire     OneWireSource
	ReadTimeout time.Duration
	// WatchInputs watches every input for changes, not only the notify
	// ones, so that a Feed sees them (MQTT turns it on).
	WatchInputs bool
	// Fleet reaches the devices of other nodes (config.Device.Remote); a
	// board with such devices needs one.
	Fleet Fleet
}

// Result is what came of a command text.
type Result struct {
	Reply    string // short human text, at most MaxReply characters, no links
	Ran      bool   // some action ran
	Rejected bool   // not understood or not allowed: nothing ran
	// NotUnderstood: rejected because the text holds no command (a word
	// that is no device or verb, a bad duration); Rejected without it is a
	// refusal (a device the caller may not use, a yes with nothing to say
	// yes to).
	NotUnderstood bool
}

// Event is a debounced change of a notify input.
type Event struct {
	Device string     // the device's name
	Word   string     // the level in the config's words: "open"
	Level  gpio.Level // the level read
	At     time.Time  // when the change settled
}

// String is "door: open".
func (e Event) String() string { return e.Device + ": " + e.Word }

// Board is the devices of one configuration on their pins. Its methods are
// safe for concurrent use. Apply changes its configuration in place (a
// reload): the board, its feeds, its events and its uptime go on.
type Board struct {
	log     *slog.Logger
	start   time.Time
	thermal string
	userID  func(handle string) (string, bool)

	watchInputs bool  // every input is watched, not only notify ones
	feeds       feeds // the Watch feeds of state changes

	// cur is the configuration's part of the board (layout.go): stored
	// under mu, read by a method once, at its start.
	cur      atomic.Pointer[layout]
	applyMu  sync.Mutex    // one Apply at a time
	reloaded chan struct{} // a value after each Apply that changed the schedules: RunSchedules looks again

	events   chan Event
	ctx      context.Context // the board's life: jobs and watchers end with it
	stop     context.CancelFunc
	watchers sync.WaitGroup
	once     sync.Once
	closeErr error

	loc *time.Location
	now func() time.Time

	fleet Fleet // the devices of other nodes (fleet.go); the layout has them

	mu      sync.Mutex // guards everything below and every dev's state
	closed  bool
	running int                 // background jobs
	idle    chan struct{}       // closed while running is 0
	epoch   uint64              // bumped by all off and Halt: a command waiting on an interlock gives up
	pending map[string]*pending // confirmations waiting for a yes, by user id (confirm.go)
}

// dev is one device on its pin.
type dev struct {
	spec   config.Device // changed in place (allow, confirm, aliases) under Board.mu only
	pin    gpio.PinIO    // nil for a sensor
	freq   physic.Frequency
	sensor *sensor   // sensors only (sensor.go)
	watch  *watching // the input's watcher, while one runs

	// Guarded by Board.mu.
	on     bool               // output on, or pwm duty above 0
	pct    int                // pwm duty
	gen    uint64             // bumped by every command; a job acts only while its gen is current
	cancel context.CancelFunc // the running job, if any
	job    string             // "pulse", "blink" or "max_on" while one runs
	offAt  time.Time          // when the job turns it off
	off    time.Time          // when it last went off (Open counts): interlock_wait runs from here
}

// watching is an input's watcher: cancel and Halt the pin to stop it.
type watching struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Open takes every device's pin: outputs go to their initial level, pwm to
// its initial duty (0% or 100%), inputs to input with their pull, and a
// watcher starts for each notify input. On any failure it drives what it
// had set back to the safe level and returns an error that names the
// device, the pin and a fix.
func Open(specs []config.Device, pins PinSource, opt Options) (*Board, error) {
	if pins == nil {
		return nil, errors.New("device: no pin source")
	}
	if err := checkSpecs(specs); err != nil {
		return nil, err
	}
	b := newBoard(opt)
	p, err := b.plan(&layout{}, specs, pins, opt)
	if err != nil {
		return nil, err
	}
	l := p.next
	b.mu.Lock()
	for i, d := range l.devs {
		if err := b.setup(d, "open"); err != nil {
			for _, t := range l.devs[:i+1] { // only what was touched
				if serr := b.safe(t, "close"); serr != nil {
					b.log.Error("pin set", "device", t.spec.Name, "err", serr)
				}
			}
			b.mu.Unlock()
			p.abandon()
			return nil, err
		}
	}
	b.cur.Store(l)
	b.mu.Unlock()
	for _, d := range l.devs {
		b.startWatch(d)
	}
	return b, nil
}

func newBoard(opt Options) *Board {
	b := &Board{
		log:      opt.Logger,
		start:    opt.Start,
		thermal:  opt.ThermalPath,
		userID:   opt.UserID,
		events:   make(chan Event, eventBuffer),
		idle:     make(chan struct{}),
		pending:  map[string]*pending{},
		reloaded: make(chan struct{}, 1),
		loc:      opt.Location,
		now:      opt.Now,
		fleet:    opt.Fleet,
	}
	b.watchInputs = opt.WatchInputs
	close(b.idle)
	if b.loc == nil {
		b.loc = time.Local
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.start.IsZero() {
		b.start = time.Now()
	}
	if b.thermal == "" {
		b.thermal = DefaultThermalPath
	}
	b.ctx, b.stop = context.WithCancel(context.Background())
	b.cur.Store(&layout{})
	return b
}

// lay is the board's configuration now.
func (b *Board) lay() *layout { return b.cur.Load() }

// checkSpecs is the defence against a config that was not validated.
func checkSpecs(specs []config.Device) error {
	names := map[string]string{}
	pins := map[string]string{}
	for _, s := range specs {
		if s.Name == "" {
			return fmt.Errorf("%s: a device has no name; give it a lower-case name", where(s))
		}
		switch {
		case s.Remote() && s.NodeDevice == "":
			return fmt.Errorf("%s: node %s but no device; name the device on that node", where(s), s.Node)
		case s.Remote():
			// another node's: its kind and pin are that node's
		default:
			if err := checkLocal(s, pins); err != nil {
				return err
			}
		}
		for _, n := range append([]string{s.Name}, s.Aliases...) {
			n = strings.ToLower(n)
			if other, dup := names[n]; dup {
				return fmt.Errorf("%s: name %q is also device %s's; names and aliases must be unique", where(s), n, other)
			}
			if isCommandWord(n) {
				return fmt.Errorf("%s: %q is a command word; name the device otherwise", where(s), n)
			}
			names[n] = s.Name
		}
	}
	return nil
}

// checkLocal checks a device of this board: its kind, pin and pull.
func checkLocal(s config.Device, pins map[string]string) error {
	switch s.Kind {
	case config.KindOutput, config.KindPWM, config.KindInput:
	case config.KindDS18B20, config.KindBME280, config.KindAHT20:
		if err := checkSensor(s); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s: kind %q; use output, pwm, input, ds18b20, bme280 or aht20", where(s), s.Kind)
	}
	switch {
	case config.IsSensor(s.Kind):
		// on a bus, not a pin
	case s.Pin == "":
		return fmt.Errorf("%s: no pin; give it one, such as pin: GPIO17 (tweetpi pins lists them)", where(s))
	default:
		if other, dup := pins[s.Pin]; dup {
			return fmt.Errorf("%s: pin %s is also device %s's; give each device its own pin", where(s), s.Pin, other)
		}
		pins[s.Pin] = s.Name
	}
	if s.Kind == config.KindInput && (s.Pull != "" && s.Pull != "up" && s.Pull != "down" && s.Pull != "none") {
		return fmt.Errorf("%s: pull %q; use up, down or none", where(s), s.Pull)
	}
	return nil
}

func where(s config.Device) string {
	if s.Line > 0 {
		return fmt.Sprintf("device %s (config line %d)", s.Name, s.Line)
	}
	return "device " + s.Name
}

// driver names the periph driver behind a pin, for messages.
func driver(p gpio.PinIO) string {
	for {
		r, ok := p.(gpio.RealPin)
		if !ok {
			break
		}
		q := r.Real()
		if q == nil || q == p {
			break
		}
		p = q
	}
	return fmt.Sprintf("%T", p)
}

const pinFix = "check that no other program or overlay holds the pin and that the user is in group gpio"

// setup puts a device's pin in its starting state; by says why in the
// log ("open", "reload"). b.mu is held.
func (b *Board) setup(d *dev, by string) error {
	s := d.spec
	// What the pin did before is unknown: count it as just gone off, once
	// the line is at its starting level (a wait from before the write
	// would end early by the write's time, as the kernel sees the line).
	defer func() { d.off = time.Now() }()
	switch s.Kind {
	case config.KindOutput:
		if err := b.drive(d, s.Initial, by); err != nil {
			return fmt.Errorf("%s: pin %s (%s) to its initial level: %v; %s", where(s), s.Pin, driver(d.pin), err, pinFix)
		}
	case config.KindPWM:
		pct := 0
		if s.Initial {
			pct = 100
		}
		if err := b.duty(d, pct, by); err != nil {
			return fmt.Errorf("%s: pin %s (%s) cannot do PWM at %s: %v; use a pin with hardware PWM (on a Raspberry Pi GPIO12, GPIO13, GPIO18 or GPIO19, with the pwm overlay) or make it kind: output", where(s), s.Pin, driver(d.pin), d.freq, err)
		}
	case config.KindInput:
		edge := gpio.NoEdge
		if b.watches(s) {
			edge = gpio.BothEdges
		}
		if err := d.pin.In(pull(s.Pull), edge); err != nil {
			return fmt.Errorf("%s: pin %s (%s) as input with pull %s and edges %s: %v; %s", where(s), s.Pin, driver(d.pin), pullWord(s.Pull), edge, err, pinFix)
		}
	}
	return nil
}

func pull(s string) gpio.Pull {
	switch s {
	case "up":
		return gpio.PullUp
	case "down":
		return gpio.PullDown
	}
	return gpio.Float
}

func pullWord(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func offLevel(s config.Device) gpio.Level { return gpio.Level(s.ActiveLow) }

// drive sets an output on or off. b.mu is held.
func (b *Board) drive(d *dev, on bool, by string) error {
	l := gpio.Level(on != d.spec.ActiveLow)
	if err := d.pin.Out(l); err != nil {
		return err
	}
	d.wentOff(!on)
	d.on = on
	b.changed(d)
	b.log.Info("pin set", "device", d.spec.Name, "pin", d.spec.Pin, "level", l.String(), "state", onWord(on), "by", by)
	return nil
}

// duty sets a pwm's duty in percent. b.mu is held.
func (b *Board) duty(d *dev, pct int, by string) error {
	dt := gpio.DutyMax * gpio.Duty(pct) / 100 // DutyMax*100 fits in a Duty (int32)
	if pct >= 100 {
		dt = gpio.DutyMax
	}
	if d.spec.ActiveLow {
		dt = gpio.DutyMax - dt
	}
	if err := d.pin.PWM(dt, d.freq); err != nil {
		return err
	}
	d.wentOff(pct == 0)
	d.pct, d.on = pct, pct > 0
	b.changed(d)
	b.log.Info("pin set", "device", d.spec.Name, "pin", d.spec.Pin, "duty", strconv.Itoa(pct)+"%", "by", by)
	return nil
}

// safe drives an output or pwm to its safe level. For pwm this stops the
// PWM and holds the pin at the off level. b.mu is held.
func (b *Board) safe(d *dev, by string) error {
	if d.spec.Kind != config.KindOutput && d.spec.Kind != config.KindPWM {
		return nil
	}
	l := offLevel(d.spec)
	if err := d.pin.Out(l); err != nil {
		return fmt.Errorf("%s: pin %s (%s) to its safe level %s: %v", where(d.spec), d.spec.Pin, driver(d.pin), l, err)
	}
	d.wentOff(true)
	d.on, d.pct = false, 0
	b.changed(d)
	b.log.Info("pin set", "device", d.spec.Name, "pin", d.spec.Pin, "level", l.String(), "state", "off", "by", by)
	return nil
}

// cancelJob stops the device's background job and makes any job that is
// already past its wait do nothing. b.mu is held.
func (d *dev) cancelJob() {
	d.gen++
	if d.cancel != nil {
		d.cancel()
		d.cancel = nil
	}
	d.job, d.offAt = "", time.Time{}
}

// startJob runs fn in the background for d. fn's steps call b.step. b.mu
// is held.
func (b *Board) startJob(d *dev, kind string, offIn time.Duration, fn func(ctx context.Context, gen uint64)) {
	ctx, cancel := context.WithCancel(b.ctx)
	d.cancel, d.job, d.offAt = cancel, kind, time.Now().Add(offIn)
	gen := d.gen
	if b.running == 0 {
		b.idle = make(chan struct{})
	}
	b.running++
	go func() {
		defer func() {
			cancel()
			b.mu.Lock()
			if d.gen == gen {
				d.cancel, d.job, d.offAt = nil, "", time.Time{}
			}
			b.running--
			if b.running == 0 {
				close(b.idle)
			}
			b.mu.Unlock()
		}()
		fn(ctx, gen)
	}()
}

// step waits for wait, then runs act under b.mu if the job is still the
// device's. It reports whether the job goes on.
func (b *Board) step(ctx context.Context, d *dev, gen uint64, wait time.Duration, act func() error) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if d.gen != gen || ctx.Err() != nil {
		return false
	}
	if err := act(); err != nil {
		b.log.Error("pin set", "device", d.spec.Name, "pin", d.spec.Pin, "err", err)
		return false
	}
	return true
}

// Wait blocks until no pulse, blink or max_on timer is running, or ctx
// ends.
func (b *Board) Wait(ctx context.Context) error {
	b.mu.Lock()
	idle := b.idle
	b.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pending describes the running background jobs, "" when none: "pump off
// in 5m". For `tweetpi do` to say what it waits for.
func (b *Board) Pending() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var parts []string
	for _, d := range b.lay().devs {
		if d.job != "" {
			parts = append(parts, fmt.Sprintf("%s off in %s (%s)", d.spec.Name, fmtDuration(time.Until(d.offAt).Round(time.Millisecond)), d.job))
		}
	}
	return strings.Join(parts, ", ")
}

// Halt drives every output and pwm to its safe level (off, honouring
// active_low) and cancels every pulse, blink and max_on timer. It tries
// every device and returns all the errors. The board stays usable.
func (b *Board) Halt() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.halt("halt")
}

func (b *Board) halt(by string) error {
	b.epoch++
	var errs []error
	for _, d := range b.lay().devs {
		d.cancelJob()
		if err := b.safe(d, by); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close halts the board, stops the input watchers and closes Events.
// Calling it again returns the first result.
func (b *Board) Close() error {
	b.shutdown(true)
	return b.closeErr
}

// Release stops the watchers and timers and closes Events but leaves
// every output as it is: for `tweetpi do "led on"`, whose point is the
// level it leaves. A running pulse, blink or max_on timer is cancelled, so
// Wait first. Calling Close or Release again does nothing.
func (b *Board) Release() {
	b.shutdown(false)
}

func (b *Board) shutdown(halt bool) {
	b.once.Do(func() {
		b.mu.Lock()
		l := b.lay()
		if halt {
			b.closeErr = b.halt("close")
		} else {
			for _, d := range l.devs {
				d.cancelJob()
			}
		}
		b.closed = true
		idle := b.idle
		b.mu.Unlock()
		b.stop()
		for _, d := range l.devs {
			if d.watch != nil {
				_ = d.pin.Halt() // wakes WaitForEdge
			}
		}
		b.watchers.Wait()
		<-idle
		b.closeBuses(l.busList())
		close(b.events)
		b.closeFeeds()
	})
}

// Events are the debounced changes of the notify inputs. A reader that
// falls behind loses the oldest. The channel is closed by Close.
func (b *Board) Events() <-chan Event { return b.events }

// startWatch starts d's watcher if d is an input whose changes are
// watched. Call it once d's pin is set up, without b.mu.
func (b *Board) startWatch(d *dev) {
	if !b.watches(d.spec) {
		return
	}
	ctx, cancel := context.WithCancel(b.ctx)
	w := &watching{cancel: cancel, done: make(chan struct{})}
	d.watch = w
	b.watchers.Add(1)
	go b.watchLoop(ctx, d, w, d.pin.Read())
}

// stopWatch stops d's watcher, if it has one, and waits for it to end.
func (b *Board) stopWatch(d *dev) {
	w := d.watch
	if w == nil {
		return
	}
	w.cancel()
	_ = d.pin.Halt() // wakes WaitForEdge
	<-w.done
	d.watch = nil
}

// watchLoop reports d's debounced changes on b.events until ctx ends.
// last is the level when its pin was set up.
func (b *Board) watchLoop(ctx context.Context, d *dev, w *watching, last gpio.Level) {
	defer b.watchers.Done()
	defer close(w.done)
	for ctx.Err() == nil {
		t0 := time.Now()
		if !d.pin.WaitForEdge(watchPoll) {
			if time.Since(t0) < watchPoll/2 {
				// A driver that returns at once: don't spin.
				pause(ctx, watchPoll)
			}
			continue
		}
		// Debounce: wait until the pin has been quiet for the debounce time.
		for d.spec.Debounce > 0 && ctx.Err() == nil && d.pin.WaitForEdge(d.spec.Debounce) {
		}
		if ctx.Err() != nil {
			return
		}
		l := d.pin.Read()
		if l == last {
			continue
		}
		last = l
		ev := Event{Device: d.spec.Name, Word: word(d.spec, l), Level: l, At: time.Now()}
		b.log.Info("input changed", "device", d.spec.Name, "pin", d.spec.Pin, "level", l.String(), "word", ev.Word)
		b.changed(d)
		if d.spec.Notify {
			b.send(ev)
		}
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// send never blocks: when the buffer is full the oldest event goes.
func (b *Board) send(ev Event) {
	for range 2 {
		select {
		case b.events <- ev:
			return
		default:
		}
		select {
		case old := <-b.events:
			b.log.Warn("input change dropped: nobody read it", "device", old.Device, "word", old.Word)
		default:
		}
	}
	b.log.Warn("input change dropped: nobody read it", "device", ev.Device, "word", ev.Word)
}

func word(s config.Device, l gpio.Level) string {
	if l {
		if s.High != "" {
			return s.High
		}
		return "high"
	}
	if s.Low != "" {
		return s.Low
	}
	return "low"
}

func onWord(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// Safe drives every output and pwm of specs to its safe level (off,
// honouring active_low) without setting any initial level: for `tweetpi
// safe` after the daemon exits. It goes on past a failing pin and returns
// every error. Inputs are left alone.
func Safe(specs []config.Device, pins PinSource) error {
	if pins == nil {
		return errors.New("device: no pin source")
	}
	var errs []error
	for _, s := range specs {
		if s.Kind != config.KindOutput && s.Kind != config.KindPWM {
			continue
		}
		p, err := pins(s.Pin)
		if err == nil && p == nil {
			err = errors.New("no such pin")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: pin %s: %w", where(s), s.Pin, err))
			continue
		}
		if err := p.Out(offLevel(s)); err != nil {
			errs = append(errs, fmt.Errorf("%s: pin %s (%s) to its safe level %s: %v; %s", where(s), s.Pin, driver(p), offLevel(s), err, pinFix))
		}
	}
	return errors.Join(errs...)
}

// readTemp reads the CPU temperature: "48.3°C", or "" where there is none.
func readTemp(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	m, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || m < -100000 || m > 200000 {
		return ""
	}
	return strconv.FormatFloat(float64(m)/1000, 'f', 1, 64) + "°C"
}
