package device_test

import (
	"context"
	"fmt"

	"periph.io/x/conn/v3/gpio"

	"github.com/tweetpi/tweetpi/config"
	"github.com/tweetpi/tweetpi/device"
)

func Example() {
	devices := []config.Device{
		{Name: "led", Pin: "GPIO17", Kind: config.KindOutput},
		{Name: "fan", Pin: "GPIO18", Kind: config.KindPWM, FrequencyHz: 25000},
		{Name: "door", Pin: "GPIO22", Kind: config.KindInput, Pull: "up", High: "open", Low: "closed"},
		{Name: "pump", Pin: "GPIO27", Kind: config.KindOutput, Allow: []string{"@alice"}},
	}
	// On a Pi, cmd passes periph's pins; here they are in memory.
	sim := device.NewSim()
	board, err := device.Open(devices, sim.Pin, device.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer board.Close() // every output off

	bob := device.Caller{ID: "222", Username: "bob"}
	ctx := context.Background()
	for _, text := range []string{"@mypi led on", "fan 40%", "door", "pump on", "lde off", "led on; pump on"} {
		r := board.Run(ctx, text, bob)
		fmt.Printf("%-16s -> %s\n", text, r.Reply)
	}
	fmt.Println("GPIO17 is", sim.Get("GPIO17").Level(), "and GPIO18 runs at", sim.Get("GPIO18").Duty())
	sim.SetInput("GPIO22", gpio.Low)
	fmt.Println(board.Run(ctx, "door", bob).Reply)
	// Output:
	// @mypi led on     -> led on
	// fan 40%          -> fan 40%
	// door             -> door is open
	// pump on          -> you may not use pump
	// lde off          -> no device "lde"; did you mean led?
	// led on; pump on  -> nothing run: command 2: you may not use pump
	// GPIO17 is High and GPIO18 runs at 40%
	// door is closed
}

func ExampleParse() {
	devices := []config.Device{{Name: "pump", Pin: "GPIO27", Kind: config.KindOutput, MaxOn: 300e9, Aliases: []string{"water"}}}
	for _, text := range []string{"water pulse 1m30s; pump", "pump pulse 10m"} {
		acts, err := device.Parse(text, devices)
		fmt.Println(acts, err)
	}
	// Output:
	// [pump pulse 1m30s pump] <nil>
	// [] pump pulse 10m refused: it must be 10ms to 5m (pump's max_on)
}
