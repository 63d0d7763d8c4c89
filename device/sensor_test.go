package device

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/onewire/onewiretest"
	"periph.io/x/conn/v3/physic"

	"github.com/tweetpi/tweetpi/config"
)

// The sensor tests run periph's real drivers against recorded bus traffic
// (conntest playback): the register reads and writes the datasheets
// describe, with the datasheets' example values.

const tankID = "28-00000a1b2c3d"

// tankROM is tank's 64-bit ROM code on the wire, least significant byte
// first: family 28, the serial 00000a1b2c3d, and its CRC.
func tankROM() []byte {
	rom := []byte{0x28, 0x3d, 0x2c, 0x1b, 0x0a, 0x00, 0x00, 0}
	rom[7] = onewire.CalcCRC(rom[:7])
	return rom
}

// scratchpad is a DS18B20's scratchpad with the raw temperature t
// (sixteenths of °C, datasheet table 1), 12-bit configuration, and CRC.
func scratchpad(t uint16) []byte {
	p := []byte{byte(t), byte(t >> 8), 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10, 0}
	p[8] = onewire.CalcCRC(p[:8])
	return p
}

func w1Cmd(cmd byte) []byte { return append(append([]byte{0x55}, tankROM()...), cmd) }

// ds18b20Ops is the traffic of opening a DS18B20 and one read: Read
// Scratchpad (the driver checks the resolution), Convert T with the
// strong pull-up, Read Scratchpad.
func ds18b20Ops(raw uint16) []onewiretest.IO {
	return []onewiretest.IO{
		{W: w1Cmd(0xBE), R: scratchpad(0x0550), Pull: onewire.WeakPullup}, // 85°C: the power-on value
		{W: w1Cmd(0x44), Pull: onewire.StrongPullup},
		{W: w1Cmd(0xBE), R: scratchpad(raw), Pull: onewire.WeakPullup},
	}
}

func sensorBoard(t *testing.T, specs []config.Device, opt Options) *Board {
	t.Helper()
	sim := NewSim()
	b, err := Open(specs, sim.Pin, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func oneWire(p *onewiretest.Playback) OneWireSource {
	return func(bus string) (onewire.BusCloser, error) { return p, nil }
}

func i2cBus(p i2c.BusCloser) I2CSource {
	return func(bus string) (i2c.BusCloser, error) { return p, nil }
}

var tank = config.Device{Name: "tank", Kind: config.KindDS18B20, Address: tankID}

func TestDS18B20(t *testing.T) {
	for _, tt := range []struct {
		raw  uint16
		want string
	}{ // DS18B20 datasheet, table 1
		{0x07D0, "tank 125.0°C"},
		{0x0191, "tank 25.1°C"}, // 25.0625
		{0x00A2, "tank 10.1°C"}, // 10.125
		{0x0008, "tank 0.5°C"},
		{0xFFF8, "tank -0.5°C"},
		{0xFF5E, "tank -10.1°C"},
		{0xFC90, "tank -55.0°C"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &onewiretest.Playback{Ops: ds18b20Ops(tt.raw), DontPanic: true}
				b := sensorBoard(t, []config.Device{tank}, Options{OneWire: oneWire(bus)})
				start := time.Now()
				if r := b.Run(t.Context(), "tank", alice); r.Reply != tt.want || r.Rejected || r.Ran {
					t.Errorf("reply %+v, want %q", r, tt.want)
				}
				if got := time.Since(start); got < 750*time.Millisecond {
					t.Errorf("read in %s; a 12-bit conversion takes 750ms", got)
				}
				if err := bus.Close(); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

func TestDS18B20Failures(t *testing.T) {
	for _, tt := range []struct {
		name string
		ops  []onewiretest.IO
		want string
	}{
		{"still 85°C: no conversion", ds18b20Ops(0x0550), "tank: no reading (read 85.0°C, its power-on value: it did not convert; check its three wires (3.3V power, not parasitic) and the 4.7k pull-up)"},
		{"bad CRC", func() []onewiretest.IO {
			ops := ds18b20Ops(0x0191)
			ops[2].R = append([]byte(nil), ops[2].R...)
			ops[2].R[0] ^= 1
			return ops
		}(), "tank: no reading (read failed; check its three wires (3.3V power, not parasitic) and the 4.7k pull-up)"},
		{"no answer at all", []onewiretest.IO{{W: w1Cmd(0xBE), R: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, Pull: onewire.WeakPullup}},
			"tank: no reading (not answering; check its three wires (3.3V power, not parasitic) and the 4.7k pull-up)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bus := &onewiretest.Playback{Ops: tt.ops, DontPanic: true}
				b := sensorBoard(t, []config.Device{tank}, Options{OneWire: oneWire(bus)})
				if r := b.Run(t.Context(), "tank", alice); r.Reply != tt.want {
					t.Errorf("reply %q, want %q", r.Reply, tt.want)
				}
			})
		})
	}
}

// BME280 calibration and data: dig_T1..dig_P9 and adc_T, adc_P are the
// compensation example of Bosch's BMP280 datasheet (section 3.12, the
// BME280 shares the registers and formulas); dig_H1..H6 are a real
// BME280's (periph's recording), adc_H 0x6A00.
var (
	bmeTP   = []byte{0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC, 0x7D, 0x8E, 0x43, 0xD6, 0xD0, 0x0B, 0x27, 0x0B, 0x8C, 0x00, 0xF9, 0xFF, 0x8C, 0x3C, 0xF8, 0xC6, 0x70, 0x17, 0x00, 0x4B}
	bmeH    = []byte{0x6E, 0x01, 0x00, 0x13, 0x05, 0x00, 0x1E}
	bmeData = []byte{0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x6A, 0x00}
)

// bme280Ops is the traffic of opening a BME280 at 0x76 with periph's
// default oversampling (4x each) and one forced-mode read (datasheet
// 5.4: id, calibration, ctrl_meas/ctrl_hum/config, forced mode, status,
// data burst).
func bme280Ops(data []byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x76, W: []byte{0xD0}, R: []byte{0x60}},
		{Addr: 0x76, W: []byte{0x88}, R: bmeTP},
		{Addr: 0x76, W: []byte{0xE1}, R: bmeH},
		{Addr: 0x76, W: []byte{0xF4, 0x6C, 0xF2, 0x03, 0xF5, 0xA0, 0xF4, 0x6C}},
		{Addr: 0x76, W: []byte{0xF4, 0x6D}},
		{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x00}},
		{Addr: 0x76, W: []byte{0xF7}, R: data},
	}
}

// bmeDatasheet computes the BME280 datasheet's floating-point
// compensation (section 8.1) of the test's calibration and data.
func bmeDatasheet() (tC, pPa, h float64) {
	u16 := func(b []byte, i int) float64 { return float64(uint16(b[i]) | uint16(b[i+1])<<8) }
	s16 := func(b []byte, i int) float64 { return float64(int16(uint16(b[i]) | uint16(b[i+1])<<8)) }
	T1, T2, T3 := u16(bmeTP, 0), s16(bmeTP, 2), s16(bmeTP, 4)
	P1, P2, P3, P4, P5, P6, P7, P8, P9 := u16(bmeTP, 6), s16(bmeTP, 8), s16(bmeTP, 10), s16(bmeTP, 12), s16(bmeTP, 14), s16(bmeTP, 16), s16(bmeTP, 18), s16(bmeTP, 20), s16(bmeTP, 22)
	H1, H2, H3 := float64(bmeTP[25]), s16(bmeH, 0), float64(bmeH[2])
	H4 := float64(int16(bmeH[3])<<4 | int16(bmeH[4]&0xF))
	H5 := float64(int16(bmeH[4])>>4 | int16(bmeH[5])<<4)
	H6 := float64(int8(bmeH[6]))
	adcP := float64(int32(bmeData[0])<<12 | int32(bmeData[1])<<4 | int32(bmeData[2])>>4)
	adcT := float64(int32(bmeData[3])<<12 | int32(bmeData[4])<<4 | int32(bmeData[5])>>4)
	adcH := float64(int32(bmeData[6])<<8 | int32(bmeData[7]))

	v1 := (adcT/16384.0 - T1/1024.0) * T2
	v2 := (adcT/131072.0 - T1/8192.0) * (adcT/131072.0 - T1/8192.0) * T3
	fine := v1 + v2
	tC = fine / 5120.0

	v1 = fine/2.0 - 64000.0
	v2 = v1 * v1 * P6 / 32768.0
	v2 = v2 + v1*P5*2.0
	v2 = v2/4.0 + P4*65536.0
	v1 = (P3*v1*v1/524288.0 + P2*v1) / 524288.0
	v1 = (1.0 + v1/32768.0) * P1
	p := 1048576.0 - adcP
	p = (p - v2/4096.0) * 6250.0 / v1
	v1 = P9 * p * p / 2147483648.0
	v2 = p * P8 / 32768.0
	pPa = p + (v1+v2+P7)/16.0

	h = fine - 76800.0
	h = (adcH - (H4*64.0 + H5/16384.0*h)) * (H2 / 65536.0 * (1.0 + H6/67108864.0*h*(1.0+H3/67108864.0*h)))
	h = h * (1.0 - H1*h/524288.0)
	return tC, pPa, min(max(h, 0), 100)
}

func TestBME280(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{Ops: bme280Ops(bmeData), DontPanic: true}
		b := sensorBoard(t, []config.Device{{Name: "room", Kind: config.KindBME280, Bus: "1", Address: "0x76"}}, Options{I2C: i2cBus(bus)})
		r := b.ReadSensor(t.Context(), "room")
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		wantT, wantP, wantH := bmeDatasheet()
		// The datasheet's own example: 25.08 °C and 100653.27 Pa.
		if math.Abs(wantT-25.08) > 0.01 || math.Abs(wantP-100653.27) > 0.5 {
			t.Fatalf("the test's datasheet formula gives %.2f°C %.2fPa, want 25.08°C 100653.27Pa", wantT, wantP)
		}
		for _, c := range []struct {
			key       string
			want, tol float64
		}{{"temperature", wantT, 0.01}, {"pressure", wantP / 100, 0.01}, {"humidity", wantH, 0.2}} {
			v, ok := r.Value(c.key)
			if !ok || math.Abs(v.Value-c.want) > c.tol {
				t.Errorf("%s = %v (read %t), want %.3f", c.key, v.Value, ok, c.want)
			}
		}
		want := fmt.Sprintf("room %.1f°C, %.0f%%, %.1fhPa", wantT, wantH, wantP/100)
		if got := r.String(); got != want {
			t.Errorf("reply %q, want %q", got, want)
		}
		if err := bus.Close(); err != nil {
			t.Error(err)
		}
	})
}

// A BMP280 where a BME280 was written: temperature and pressure, no
// humidity (and no stale or made-up number for it).
func TestBME280IsABMP280(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ops := []i2ctest.IO{
			{Addr: 0x77, W: []byte{0xD0}, R: []byte{0x58}},
			{Addr: 0x77, W: []byte{0x88}, R: bmeTP},
			{Addr: 0x77, W: []byte{0xF4, 0x6C, 0xF5, 0xA0, 0xF4, 0x6C}},
			{Addr: 0x77, W: []byte{0xF4, 0x6D}},
			{Addr: 0x77, W: []byte{0xF3}, R: []byte{0x00}},
			{Addr: 0x77, W: []byte{0xF7}, R: bmeData[:6]},
		}
		bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
		b := sensorBoard(t, []config.Device{{Name: "room", Kind: config.KindBME280, Bus: "1", Address: "0x77"}}, Options{I2C: i2cBus(bus)})
		if r := b.Run(t.Context(), "room", alice); r.Reply != "room 25.1°C, 1006.5hPa" {
			t.Errorf("reply %q", r.Reply)
		}
	})
}

func TestAHT20(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// AHT20 datasheet 5.4: status (0x1C: calibrated), trigger 0xAC 0x33
		// 0x00, 80 ms, then status, 20 bits of humidity, 20 of temperature
		// and the CRC: RH = S/2^20*100 = 50%, T = S/2^20*200-50 = 25°C.
		data := []byte{0x1C, 0x80, 0x00, 0x06, 0x00, 0x00, 0}
		data[6] = crc8(data[:6])
		bus := &i2ctest.Playback{Ops: []i2ctest.IO{
			{Addr: 0x38, W: []byte{0x71}, R: []byte{0x1C}},
			{Addr: 0x38, W: []byte{0xAC, 0x33, 0x00}},
			{Addr: 0x38, R: data},
		}, DontPanic: true}
		b := sensorBoard(t, []config.Device{{Name: "shed", Kind: config.KindAHT20, Bus: "1", Address: "0x38"}}, Options{I2C: i2cBus(bus)})
		if r := b.Run(t.Context(), "shed", alice); r.Reply != "shed 25.0°C, 50%" {
			t.Errorf("reply %q", r.Reply)
		}
		if err := bus.Close(); err != nil {
			t.Error(err)
		}
	})
}

// flakyBus fails while broken is set, else plays its recording.
type flakyBus struct {
	*i2ctest.Playback
	broken bool
}

func (f *flakyBus) Tx(addr uint16, w, r []byte) error {
	if f.broken {
		return errors.New("i2c: remote I/O error")
	}
	return f.Playback.Tx(addr, w, r)
}

// A read that fails says so; the value read before is never shown as
// fresh, and the next good read shows the new value.
func TestSensorNeverStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ops := bme280Ops(bmeData)
		ops = append(ops, ops[4:]...) // a second read
		bus := &flakyBus{Playback: &i2ctest.Playback{Ops: ops, DontPanic: true}}
		b := sensorBoard(t, []config.Device{{Name: "room", Kind: config.KindBME280, Bus: "1", Address: "0x76"}}, Options{I2C: i2cBus(bus)})
		first := b.Run(t.Context(), "room", alice).Reply
		if !strings.HasPrefix(first, "room 25.1°C") {
			t.Fatalf("first read %q", first)
		}
		bus.broken = true
		r := b.Run(t.Context(), "room", alice)
		if r.Reply != "room: no reading (read failed; check its wiring and address (i2cdetect -y 1))" {
			t.Errorf("failed read: %q", r.Reply)
		}
		if s := b.Status(); strings.Contains(s, "25.1") || !strings.Contains(s, "room: no reading") {
			t.Errorf("status after a failed read: %q", s)
		}
		if got := b.ReadSensor(t.Context(), "room"); got.Err == nil || got.Values != nil {
			t.Errorf("ReadSensor %+v: a failure has no values", got)
		}
	})
}

// hangBus never answers until released: a hung I2C bus.
type hangBus struct {
	release chan struct{}
	calls   chan struct{}
}

func (h *hangBus) String() string                    { return "hang" }
func (h *hangBus) Close() error                      { return nil }
func (h *hangBus) SetSpeed(f physic.Frequency) error { return nil }
func (h *hangBus) Tx(addr uint16, w, r []byte) error {
	h.calls <- struct{}{}
	<-h.release
	return errors.New("released")
}

// A hung bus holds neither the reply, nor the board, nor the other
// devices: the read gives up after its timeout, and the reads after it
// say that the last has not ended, without touching the bus again.
func TestSensorHungBus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &hangBus{release: make(chan struct{}), calls: make(chan struct{}, 10)}
		specs := []config.Device{
			{Name: "room", Kind: config.KindBME280, Bus: "1", Address: "0x76"},
			{Name: "led", Kind: config.KindOutput, Pin: "GPIO17"},
		}
		b := sensorBoard(t, specs, Options{I2C: i2cBus(bus)})
		done := make(chan Result)
		go func() { done <- b.Run(t.Context(), "status", alice) }()
		<-bus.calls
		start := time.Now()
		if r := b.Run(t.Context(), "led on", alice); r.Reply != "led on" || time.Since(start) != 0 {
			t.Errorf("led on during the hung read: %q after %s", r.Reply, time.Since(start))
		}
		r := <-done
		if got := time.Since(start); got != DefaultReadTimeout {
			t.Errorf("status answered after %s, want %s", got, DefaultReadTimeout)
		}
		if want := "room: no reading (no answer in 3s; check its wiring and address (i2cdetect -y 1)), led on"; !strings.HasPrefix(r.Reply, want) {
			t.Errorf("status %q, want it to start %q", r.Reply, want)
		}
		if r := b.Run(t.Context(), "room", alice); !strings.Contains(r.Reply, "its last read has not ended after 3s: the bus may hang") {
			t.Errorf("second read: %q", r.Reply)
		}
		if n := len(bus.calls); n != 0 {
			t.Errorf("the bus was asked %d more times while hung", n)
		}
		close(bus.release)
	})
}

func TestSensorOpenErrors(t *testing.T) {
	failI2C := func(string) (i2c.BusCloser, error) {
		return nil, errors.New("open /dev/i2c-1: no such file or directory")
	}
	failW1 := func(string) (onewire.BusCloser, error) {
		return nil, errors.New("netlink-onewire: no onewire buses found")
	}
	for _, tt := range []struct {
		dev  config.Device
		opt  Options
		want []string
	}{
		{config.Device{Name: "room", Kind: config.KindBME280, Bus: "1", Address: "0x76"}, Options{I2C: failI2C},
			[]string{"device room", "I2C bus 1", "no such file", "dtparam=i2c_arm=on", "group i2c"}},
		{tank, Options{OneWire: failW1}, []string{"device tank", "1-Wire", "no onewire buses", "dtoverlay=w1-gpio"}},
		{tank, Options{}, []string{"device tank", "no 1-Wire here"}},
		{config.Device{Name: "room", Kind: config.KindBME280, Bus: "1", Address: "76"}, Options{}, []string{"device room", `I2C address "76"`}},
		{config.Device{Name: "tank", Kind: config.KindDS18B20, Address: "28-xyz"}, Options{}, []string{"device tank", "1-Wire id"}},
	} {
		t.Run(tt.want[1], func(t *testing.T) {
			sim := NewSim()
			led := config.Device{Name: "led", Kind: config.KindOutput, Pin: "GPIO17"}
			b, err := Open([]config.Device{led, tt.dev}, sim.Pin, tt.opt)
			if err == nil {
				b.Close()
				t.Fatal("opened")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if sim.Get("GPIO17").Changes() != 0 {
				t.Errorf("a pin was driven")
			}
		})
	}
}

// A sensor that is not there at start leaves the board working.
func TestSensorAbsentAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &i2ctest.Playback{DontPanic: true} // nothing answers
		b := sensorBoard(t, []config.Device{
			{Name: "room", Kind: config.KindBME280, Bus: "1", Address: "0x76"},
			{Name: "led", Kind: config.KindOutput, Pin: "GPIO17"},
		}, Options{I2C: i2cBus(bus)})
		if r := b.Run(t.Context(), "led on; room", alice); r.Reply != "led on; room: no reading (not answering; check its wiring and address (i2cdetect -y 1))" {
			t.Errorf("reply %q", r.Reply)
		}
	})
}

func TestSensorsDescribed(t *testing.T) {
	synctest.Test(t, testSensorsDescribed)
}

func testSensorsDescribed(t *testing.T) {
	sim := NewSim()
	b, err := Open([]config.Device{
		{Name: "led", Kind: config.KindOutput, Pin: "GPIO17"},
		tank,
		{Name: "room", Kind: config.KindBME280, Bus: "1", Address: "0x76"},
		{Name: "shed", Kind: config.KindAHT20, Bus: "1", Address: "0x38"},
	}, sim.Pin, Options{I2C: sim.I2C, OneWire: sim.OneWire})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var got []string
	for _, s := range b.Sensors() {
		var qs []string
		for _, q := range s.Quantities {
			qs = append(qs, q.Key+"/"+q.Unit+"/"+q.DeviceClass)
		}
		got = append(got, s.Device+" "+s.Kind+": "+strings.Join(qs, " "))
	}
	want := []string{
		"tank ds18b20: temperature/°C/temperature",
		"room bme280: temperature/°C/temperature humidity/%/humidity pressure/hPa/atmospheric_pressure",
		"shed aht20: temperature/°C/temperature humidity/%/humidity",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Sensors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range b.ReadSensors(t.Context()) {
		if r.Err != nil || len(r.Values) == 0 {
			t.Errorf("sim %s: %+v", r.Device, r)
		}
		for _, v := range r.Values {
			if _, err := fmt.Sscanf(v.State(), "%g", new(float64)); err != nil || strings.ContainsAny(v.State(), "°%h") {
				t.Errorf("state %q is not a bare number", v.State())
			}
		}
	}
}

func TestSensorFeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim := NewSim()
		b, err := Open([]config.Device{tank}, sim.Pin, Options{OneWire: sim.OneWire})
		if err != nil {
			t.Fatal(err)
		}
		feed := b.SensorFeed(t.Context(), time.Minute)
		r := <-feed
		if r.String() != "tank 21.4°C" {
			t.Errorf("first: %v", r)
		}
		if err := sim.SetTemperature(tankID, 23.5); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r = <-feed
		if r.String() != "tank 23.5°C" || time.Since(start) < time.Minute-time.Second {
			t.Errorf("second: %v after %s", r, time.Since(start))
		}
		b.Close()
		for range feed {
		}
	})
}

// w1Address against Maxim's application note 27: the ROM code
// A2 00 00 00 01 B8 1C 02 (CRC A2, serial 0000 0001 B81C, family 02).
func TestW1Address(t *testing.T) {
	a, err := w1Address("02-00000001b81c")
	if err != nil || a != 0xA200000001B81C02 {
		t.Errorf("w1Address = %#x, %v; want 0xa200000001b81c02", uint64(a), err)
	}
	for _, bad := range []string{"28", "28-123", "zz-00000a1b2c3d", "28-00000a1b2c3dff"} {
		if _, err := w1Address(bad); err == nil {
			t.Errorf("w1Address(%q) took it", bad)
		}
	}
}
