package device

import (
	"fmt"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/onewire"
	"periph.io/x/conn/v3/physic"
)

// The Sim's sensors: in-memory chips that answer the real periph drivers
// as the datasheets say the chips do, for `tweetpi demo` and a config with
// `gpio: {backend: sim}`. Every I2C bus has a BME280 at 0x76 and 0x77 and
// an AHT20 at 0x38; every 1-Wire id with family 28 answers as a DS18B20.
// Their readings are plausible and fixed: the BME280 gives the example of
// Bosch's BMP280 datasheet (25.08°C, 1006.5hPa) and 42% humidity, the AHT20
// 22.5°C and 40%, a DS18B20 21.4°C unless SetTemperature says otherwise.

// I2C returns the simulated I2C bus called name (any name: "1"), made on
// first use. The method value s.I2C is an I2CSource.
func (s *Sim) I2C(name string) (i2c.BusCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.i2c == nil {
		s.i2c = map[string]*simI2C{}
	}
	b, ok := s.i2c[name]
	if !ok {
		b = &simI2C{name: name, bme: map[uint16]*simBME280{0x76: newSimBME280(), 0x77: newSimBME280()}}
		s.i2c[name] = b
	}
	return b, nil
}

// OneWire returns the simulated 1-Wire bus. The method value s.OneWire is
// a OneWireSource.
func (s *Sim) OneWire(name string) (onewire.BusCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w1 == nil {
		s.w1 = &simW1{temps: map[onewire.Address]int16{}}
	}
	return s.w1, nil
}

// SetTemperature makes the simulated DS18B20 with the kernel id (like
// 28-00000a1b2c3d) read c degrees Celsius, in its steps of 1/16 °C.
func (s *Sim) SetTemperature(id string, c float64) error {
	a, err := w1Address(id)
	if err != nil {
		return err
	}
	if _, err := s.OneWire(""); err != nil {
		return err
	}
	s.w1.mu.Lock()
	defer s.w1.mu.Unlock()
	s.w1.temps[a] = int16(c * 16)
	return nil
}

// simI2C is one simulated I2C bus.
type simI2C struct {
	name string
	mu   sync.Mutex
	bme  map[uint16]*simBME280
	aht  simAHT20
}

func (b *simI2C) String() string                    { return "sim I2C" + b.name }
func (b *simI2C) Close() error                      { return nil }
func (b *simI2C) SetSpeed(f physic.Frequency) error { return nil }

// Tx implements i2c.Bus.
func (b *simI2C) Tx(addr uint16, w, r []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.bme[addr]; ok {
		return c.tx(w, r)
	}
	if addr == 0x38 {
		return b.aht.tx(w, r)
	}
	return fmt.Errorf("sim I2C%s: no device at %#02x (a NACK)", b.name, addr)
}

// simBME280 is a BME280's register map (datasheet section 5).
type simBME280 struct {
	reg [256]byte
	ptr byte
}

func newSimBME280() *simBME280 {
	c := &simBME280{}
	c.reg[0xD0] = 0x60 // chip id: BME280
	// dig_T1..dig_P9: the BMP280 datasheet's compensation example (3.12);
	// 0xA1 dig_H1 and 0xE1.. dig_H2..H6: a real BME280's.
	copy(c.reg[0x88:], []byte{
		0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC, // T1 27504, T2 26435, T3 -1000
		0x7D, 0x8E, 0x43, 0xD6, 0xD0, 0x0B, 0x27, 0x0B, 0x8C, 0x00, // P1 36477, P2 -10685, P3 3024, P4 2855, P5 140
		0xF9, 0xFF, 0x8C, 0x3C, 0xF8, 0xC6, 0x70, 0x17, // P6 -7, P7 15500, P8 -14600, P9 6000
		0x00, 0x4B, // 0xA0 unused, H1 75
	})
	copy(c.reg[0xE1:], []byte{0x6E, 0x01, 0x00, 0x13, 0x05, 0x00, 0x1E})
	// Data: adc_P 415148, adc_T 519888 (the datasheet's), adc_H 0x6A00.
	copy(c.reg[0xF7:], []byte{0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x6A, 0x00})
	return c
}

// tx: a write of one byte sets the register pointer; more bytes are
// register-value pairs (datasheet 6.2.1); a read goes on from the pointer.
func (c *simBME280) tx(w, r []byte) error {
	if len(w) == 1 {
		c.ptr = w[0]
	} else {
		for i := 0; i+1 < len(w); i += 2 {
			if w[i] >= 0xF2 && w[i] <= 0xF5 {
				c.reg[w[i]] = w[i+1]
			}
		}
	}
	for i := range r {
		r[i] = c.reg[c.ptr]
		c.ptr++
	}
	if c.reg[0xF4]&3 == 1 { // forced mode: one measurement, then sleep
		c.reg[0xF4] &^= 3
	}
	return nil
}

// simAHT20 answers the AHT20's commands (datasheet 5.4): status 0x71,
// initialise 0xBE, measure 0xAC; a read returns status, 20 bits of
// humidity, 20 of temperature and a CRC-8.
type simAHT20 struct{ measured bool }

func (c *simAHT20) tx(w, r []byte) error {
	if len(w) > 0 && w[0] == 0xAC {
		c.measured = true
	}
	if len(r) == 0 {
		return nil
	}
	if len(w) == 1 && w[0] == 0x71 {
		r[0] = 0x18 // calibrated, idle
		return nil
	}
	hum := uint32(0x66666)  // 40.0 %
	temp := uint32(0x5CCCC) // 22.5 °C
	data := []byte{0x18, byte(hum >> 12), byte(hum >> 4), byte(hum<<4) | byte(temp>>16), byte(temp >> 8), byte(temp), 0}
	if !c.measured {
		data[0] |= 0x80 // busy
	}
	data[6] = crc8(data[:6])
	copy(r, data)
	return nil
}

// crc8 is the Sensirion/ASAIR CRC-8: polynomial 0x31, start 0xFF.
func crc8(b []byte) byte {
	crc := byte(0xFF)
	for _, x := range b {
		crc ^= x
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x31
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// simW1 is a simulated 1-Wire bus of DS18B20s.
type simW1 struct {
	mu    sync.Mutex
	temps map[onewire.Address]int16 // sixteenths of °C, by address
}

func (b *simW1) String() string { return "sim 1-Wire" }
func (b *simW1) Close() error   { return nil }

// Search implements onewire.Bus: the DS18B20s given a temperature.
func (b *simW1) Search(alarmOnly bool) ([]onewire.Address, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []onewire.Address
	for a := range b.temps {
		out = append(out, a)
	}
	return out, nil
}

// Tx implements onewire.Bus: Match ROM (0x55) and an address of family 28,
// then Convert T (0x44), Read Scratchpad (0xBE) or a write of the
// configuration (0x4E, 0x48), as the DS18B20 datasheet's function commands.
func (b *simW1) Tx(w, r []byte, _ onewire.Pullup) error {
	if len(w) < 10 || w[0] != 0x55 || w[1] != 0x28 {
		return fmt.Errorf("sim 1-Wire: no presence pulse for %x", w)
	}
	var a onewire.Address
	for i := range 8 {
		a |= onewire.Address(w[1+i]) << (8 * i)
	}
	if w[9] != 0xBE {
		return nil
	}
	b.mu.Lock()
	t, ok := b.temps[a]
	b.mu.Unlock()
	if !ok {
		t = 343 // 21.4375 °C
	}
	pad := []byte{byte(t), byte(t >> 8), 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10, 0}
	pad[8] = onewire.CalcCRC(pad[:8])
	copy(r, pad)
	return nil
}
