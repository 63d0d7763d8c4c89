package device

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/aht20"
	"periph.io/x/devices/v3/bmxx80"
	"periph.io/x/devices/v3/ds18b20"

	"github.com/tweetpi/tweetpi/config"
)

// DefaultReadTimeout bounds one sensor read, waiting for a read still
// under way included: a DS18B20 converts for 750 ms at 12 bits, a BME280
// for some 40 ms, an AHT20 for 80 ms; the rest is the bus. A read that
// takes longer is answered "no answer in 3s": a hung bus never holds a
// reply, the board's lock or another device.
const DefaultReadTimeout = 3 * time.Second

// ds18b20Bits is the resolution asked of a DS18B20: its factory setting,
// so that opening one never writes its EEPROM.
const ds18b20Bits = 12

// I2CSource opens an I2C bus by the number the config gives it: "1" is
// /dev/i2c-1. cmd passes one over periph's i2creg; tests a recorded bus.
type I2CSource func(bus string) (i2c.BusCloser, error)

// OneWireSource opens a 1-Wire bus: "" the first, or the N of the kernel's
// w1_bus_masterN. cmd passes one over periph's netlink driver.
type OneWireSource func(bus string) (onewire.BusCloser, error)

// Quantity is one thing a sensor measures, named as Home Assistant's MQTT
// sensors name them.
type Quantity struct {
	Key         string // "temperature", "humidity" or "pressure"; unique within a sensor
	Unit        string // "°C", "%" or "hPa": replies and MQTT states use it
	DeviceClass string // Home Assistant's device_class: temperature, humidity, atmospheric_pressure
	Decimals    int    // digits after the point in replies and states
}

func quantities(kind string) []Quantity {
	t := Quantity{"temperature", "°C", "temperature", 1}
	h := Quantity{"humidity", "%", "humidity", 0}
	p := Quantity{"pressure", "hPa", "atmospheric_pressure", 1}
	switch kind {
	case config.KindDS18B20:
		return []Quantity{t}
	case config.KindBME280:
		return []Quantity{t, h, p}
	case config.KindAHT20:
		return []Quantity{t, h}
	}
	return nil
}

// Sensor describes one sensor device, for MQTT and Home Assistant
// discovery: a Home Assistant sensor per quantity.
type Sensor struct {
	Device     string     // the device's name
	Kind       string     // config.KindDS18B20, KindBME280 or KindAHT20
	Quantities []Quantity // what it reports, in this order
}

// Value is one quantity as read.
type Value struct {
	Quantity
	Value float64 // in Quantity.Unit
}

// State is the value as an MQTT state: "21.4", no unit.
func (v Value) State() string {
	return strconv.FormatFloat(v.Value, 'f', v.Decimals, 64)
}

// String is the value with its unit: "21.4°C".
func (v Value) String() string { return v.State() + v.Unit }

// Reading is what one read of a sensor gave: values read just now, or an
// error; never an older value.
type Reading struct {
	Device string
	At     time.Time // when the read ended
	Values []Value   // in the order of Sensor.Quantities; nil with Err
	Err    error
}

// String is the reply: "tank 21.4°C", "room 21.4°C, 45%, 1013.2hPa", or
// "tank: no reading (no answer in 3s; check its wiring and pull-up)".
func (r Reading) String() string {
	if r.Err != nil {
		var re *readError
		if errors.As(r.Err, &re) {
			return r.Device + ": no reading (" + re.short + ")"
		}
		return r.Device + ": no reading (" + r.Err.Error() + ")"
	}
	parts := make([]string, len(r.Values))
	for i, v := range r.Values {
		parts[i] = v.String()
	}
	return r.Device + " " + strings.Join(parts, ", ")
}

// Value returns the value of the quantity key, and whether it was read.
func (r Reading) Value(key string) (Value, bool) {
	for _, v := range r.Values {
		if v.Key == key {
			return v, true
		}
	}
	return Value{}, false
}

// readError is a failed read: short is for the reply, err for the log.
type readError struct {
	short string
	err   error
}

func (e *readError) Error() string {
	if e.err == nil {
		return e.short
	}
	return e.short + ": " + e.err.Error()
}

func (e *readError) Unwrap() error { return e.err }

// senser is what the periph drivers do for us.
type senser interface {
	Sense(*physic.Env) error
}

// sensor is one sensor device on its bus.
type sensor struct {
	spec    config.Device
	bus     string                 // its bus's key in busSet: "i2c:1", "w1:"
	open    func() (senser, error) // makes the driver; the first read calls it, and the next after a failure
	timeout time.Duration
	hint    string // what to check when it does not answer

	busy chan struct{} // a token while a read runs: a hung read keeps it
	drv  senser        // guarded by busy
}

// read reads the sensor within its timeout. It never waits longer, even
// when the driver hangs: the hung read keeps the sensor busy (and its
// goroutine) until the bus answers, and the reads after it say so.
func (s *sensor) read(ctx context.Context) Reading {
	r := Reading{Device: s.spec.Name}
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	fail := func(short string, err error) Reading {
		r.At, r.Err = time.Now(), &readError{short: short, err: err}
		return r
	}
	select {
	case s.busy <- struct{}{}:
	case <-t.C:
		return fail(fmt.Sprintf("its last read has not ended after %s: the bus may hang; %s", fmtDuration(s.timeout), s.hint), nil)
	case <-ctx.Done():
		return fail("not read: "+ctx.Err().Error(), ctx.Err())
	}
	done := make(chan Reading, 1)
	go func() {
		defer func() { <-s.busy }()
		done <- s.sense()
	}()
	select {
	case got := <-done:
		return got
	case <-t.C:
		return fail(fmt.Sprintf("no answer in %s; %s", fmtDuration(s.timeout), s.hint), nil)
	case <-ctx.Done():
		return fail("not read: "+ctx.Err().Error(), ctx.Err())
	}
}

// sense runs the driver. The caller holds the busy token.
func (s *sensor) sense() (r Reading) {
	r.Device = s.spec.Name
	defer func() {
		if p := recover(); p != nil { // a driver's bug must not take the daemon down
			s.drv = nil
			r.Values, r.Err = nil, &readError{short: "driver failed; " + s.hint, err: fmt.Errorf("panic: %v", p)}
		}
		r.At = time.Now()
	}()
	if s.drv == nil {
		drv, err := s.open()
		if err != nil {
			r.Err = &readError{short: "not answering; " + s.hint, err: err}
			return r
		}
		s.drv = drv
	}
	var e physic.Env
	if err := s.drv.Sense(&e); err != nil {
		s.drv = nil // start again next time: it may have been unplugged
		r.Err = &readError{short: "read failed; " + s.hint, err: err}
		return r
	}
	for _, q := range quantities(s.spec.Kind) {
		var v float64
		switch q.Key {
		case "temperature":
			v = float64(e.Temperature-physic.ZeroCelsius) / float64(physic.Celsius)
			if v < -60 || v > 130 {
				r.Err = &readError{short: fmt.Sprintf("read %.1f°C, which no such sensor measures; %s", v, s.hint)}
				return r
			}
			if s.spec.Kind == config.KindDS18B20 && e.Temperature == 85*physic.Celsius+physic.ZeroCelsius {
				// The scratchpad's power-on value (datasheet): no conversion
				// took place. periph's own check for it compares against 85 K.
				r.Err = &readError{short: "read 85.0°C, its power-on value: it did not convert; " + s.hint}
				return r
			}
		case "humidity":
			if !hasHumidity(s.drv) {
				continue // a BMP280 where a BME280 was written: it has no humidity
			}
			v = float64(e.Humidity) / float64(physic.PercentRH)
		case "pressure":
			v = float64(e.Pressure) / float64(100*physic.Pascal)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			r.Err = &readError{short: "read no number; " + s.hint}
			return r
		}
		r.Values = append(r.Values, Value{Quantity: q, Value: v})
	}
	return r
}

// hasHumidity: bmxx80 also drives the BMP280, which has none.
func hasHumidity(drv senser) bool {
	st, ok := drv.(fmt.Stringer)
	return !ok || !strings.HasPrefix(st.String(), "BMP")
}

// w1Address turns the kernel's name of a 1-Wire device, family-serial in
// hex ("28-00000a1b2c3d"), into periph's address: the family code in the
// low byte, the 48-bit serial, and the CRC of both in the high byte, as the
// ROM sends them.
func w1Address(id string) (onewire.Address, error) {
	fam, serial, ok := strings.Cut(id, "-")
	f, err1 := strconv.ParseUint(fam, 16, 8)
	n, err2 := strconv.ParseUint(serial, 16, 48)
	if !ok || err1 != nil || err2 != nil || len(serial) != 12 {
		return 0, fmt.Errorf("1-Wire id %q: write it as /sys/bus/w1/devices lists it, like 28-00000a1b2c3d", id)
	}
	a := f | n<<8
	var rom [7]byte
	for i := range rom {
		rom[i] = byte(a >> (8 * i))
	}
	return onewire.Address(a | uint64(onewire.CalcCRC(rom[:]))<<56), nil
}

var i2cAddrWord = regexp.MustCompile(`^0x[0-9a-f]{2}$`)

// checkSensor is Open's defence against a sensor the config did not check.
func checkSensor(s config.Device) error {
	switch s.Kind {
	case config.KindDS18B20:
		if _, err := w1Address(s.Address); err != nil {
			return fmt.Errorf("%s: %v", where(s), err)
		}
	default:
		if s.I2CAddress() == 0 || !i2cAddrWord.MatchString(s.Address) {
			return fmt.Errorf("%s: I2C address %q; write it like 0x76", where(s), s.Address)
		}
		if _, err := strconv.Atoi(s.Bus); err != nil {
			return fmt.Errorf("%s: I2C bus %q; write its number, like 1 for /dev/i2c-1", where(s), s.Bus)
		}
	}
	return nil
}

// busSet opens each bus the sensors use once, by key ("i2c:1", "w1:").
type busSet struct {
	opt    Options
	i2c    map[string]i2c.BusCloser
	w1     map[string]onewire.BusCloser
	opened []io.Closer // the buses it opened, not those it was given
}

// newBusSet is a set that has the buses of prev's sensors already.
func newBusSet(opt Options, prev *layout) *busSet {
	bs := &busSet{opt: opt, i2c: map[string]i2c.BusCloser{}, w1: map[string]onewire.BusCloser{}}
	for k, b := range prev.i2c {
		bs.i2c[k] = b
	}
	for k, b := range prev.w1 {
		bs.w1[k] = b
	}
	return bs
}

// sensor makes the sensor for s on its bus, opening the bus if it is the
// first sensor on it. The chip itself is not talked to until a read: a
// sensor unplugged at start leaves the outputs working and says so when
// read. A bus that does not open is a setup error, with the fix.
func (bs *busSet) sensor(s config.Device, timeout time.Duration) (*sensor, error) {
	sn := &sensor{spec: s, timeout: timeout, busy: make(chan struct{}, 1)}
	switch s.Kind {
	case config.KindDS18B20:
		bus, err := bs.oneWire(s)
		if err != nil {
			return nil, err
		}
		addr, err := w1Address(s.Address)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where(s), err)
		}
		sn.bus = "w1:" + s.Bus
		sn.hint = "check its three wires (3.3V power, not parasitic) and the 4.7k pull-up"
		sn.open = func() (senser, error) { return ds18b20.New(bus, addr, ds18b20Bits) }
	case config.KindBME280:
		bus, err := bs.i2cBus(s)
		if err != nil {
			return nil, err
		}
		sn.bus = "i2c:" + s.Bus
		sn.hint = fmt.Sprintf("check its wiring and address (i2cdetect -y %s)", s.Bus)
		addr := s.I2CAddress()
		sn.open = func() (senser, error) {
			opts := bmxx80.DefaultOpts
			return bmxx80.NewI2C(bus, addr, &opts)
		}
	case config.KindAHT20:
		bus, err := bs.i2cBus(s)
		if err != nil {
			return nil, err
		}
		sn.bus = "i2c:" + s.Bus
		sn.hint = fmt.Sprintf("check its wiring (i2cdetect -y %s shows 38)", s.Bus)
		sn.open = func() (senser, error) {
			opts := aht20.DefaultOpts
			return aht20.NewI2C(bus, &opts)
		}
	default:
		return nil, fmt.Errorf("%s: kind %s is not a sensor", where(s), s.Kind)
	}
	return sn, nil
}

func (bs *busSet) i2cBus(s config.Device) (i2c.Bus, error) {
	if b, ok := bs.i2c["i2c:"+s.Bus]; ok {
		return b, nil
	}
	if bs.opt.I2C == nil {
		return nil, fmt.Errorf("%s: no I2C here: this program was started without I2C buses", where(s))
	}
	b, err := bs.opt.I2C(s.Bus)
	if err == nil && b == nil {
		err = errors.New("no such bus")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: I2C bus %s: %v; turn I2C on (raspi-config, or dtparam=i2c_arm=on in /boot/firmware/config.txt, then reboot), check that /dev/i2c-%s exists and that the user is in group i2c", where(s), s.Bus, err, s.Bus)
	}
	bs.i2c["i2c:"+s.Bus] = b
	bs.opened = append(bs.opened, b)
	return b, nil
}

func (bs *busSet) oneWire(s config.Device) (onewire.Bus, error) {
	if b, ok := bs.w1["w1:"+s.Bus]; ok {
		return b, nil
	}
	if bs.opt.OneWire == nil {
		return nil, fmt.Errorf("%s: no 1-Wire here: this program was started without 1-Wire buses", where(s))
	}
	b, err := bs.opt.OneWire(s.Bus)
	if err == nil && b == nil {
		err = errors.New("no such bus")
	}
	if err != nil {
		name := "the first 1-Wire bus"
		if s.Bus != "" {
			name = "1-Wire bus w1_bus_master" + s.Bus
		}
		return nil, fmt.Errorf("%s: %s: %v; turn the kernel's 1-Wire on (dtoverlay=w1-gpio in /boot/firmware/config.txt, then reboot) and check /sys/bus/w1/devices", where(s), name, err)
	}
	bs.w1["w1:"+s.Bus] = b
	bs.opened = append(bs.opened, b)
	return b, nil
}

func (b *Board) readTimeout(opt Options) time.Duration {
	if opt.ReadTimeout > 0 {
		return opt.ReadTimeout
	}
	return DefaultReadTimeout
}

func (b *Board) closeBuses(buses []io.Closer) {
	for _, c := range buses {
		if err := c.Close(); err != nil {
			b.log.Warn("sensor bus close", "err", err)
		}
	}
}

// Sensors describes the board's sensors, in config order.
func (b *Board) Sensors() []Sensor {
	var out []Sensor
	for _, d := range b.lay().devs {
		if d.sensor != nil {
			out = append(out, Sensor{Device: d.spec.Name, Kind: d.spec.Kind, Quantities: quantities(d.spec.Kind)})
		}
	}
	return out
}

// ReadSensor reads the sensor called name now, within the read timeout.
func (b *Board) ReadSensor(ctx context.Context, name string) Reading {
	d := b.lay().byName[name]
	if d == nil || d.sensor == nil {
		return Reading{Device: name, At: time.Now(), Err: &readError{short: "no such sensor"}}
	}
	return b.readSensor(ctx, d)
}

func (b *Board) readSensor(ctx context.Context, d *dev) Reading {
	r := d.sensor.read(ctx)
	if r.Err != nil {
		b.log.Warn("sensor read", "device", d.sensor.spec.Name, "err", r.Err)
	}
	return r
}

// ReadSensors reads every sensor now, all at once, within the read
// timeout; the readings are in config order.
func (b *Board) ReadSensors(ctx context.Context) []Reading {
	return b.readSome(ctx, b.lay(), func(*dev) bool { return true })
}

func (b *Board) readSome(ctx context.Context, l *layout, want func(*dev) bool) []Reading {
	var sensors []*dev
	for _, d := range l.devs {
		if d.sensor != nil && want(d) {
			sensors = append(sensors, d)
		}
	}
	out := make([]Reading, len(sensors))
	var wg sync.WaitGroup
	for i, d := range sensors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = b.readSensor(ctx, d)
		}()
	}
	wg.Wait()
	return out
}

// SensorFeed reads every sensor every interval and sends the readings
// (failures included) until ctx ends or the board closes; then it closes
// the channel. A reader that falls behind skips readings rather than
// receiving old ones.
func (b *Board) SensorFeed(ctx context.Context, every time.Duration) <-chan Reading {
	out := make(chan Reading)
	go func() {
		defer close(out)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for _, r := range b.ReadSensors(ctx) {
				select {
				case out <- r:
				case <-ctx.Done():
					return
				case <-b.ctx.Done():
					return
				}
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			case <-b.ctx.Done():
				return
			}
		}
	}()
	return out
}
