package floor_test

import (
	"fmt"
	"time"

	"github.com/pttagent/pttagent/agent/floor"
)

// A press, the platform's grant with a 30 s limit, and the release: the
// agent carries out each action in one place.
func ExampleStep() {
	cfg := floor.Config{DefaultTalkTime: time.Minute, Warning: 5 * time.Second, ResponseTimeout: 3 * time.Second}
	var s floor.State
	for _, in := range []floor.Input{
		{Kind: floor.KeyPress, Group: 80000528},
		{Kind: floor.Granted, Group: 80000528, Req: 1, TalkTime: 30 * time.Second},
		{Kind: floor.KeyRelease},
		{Kind: floor.FloorIdle, Group: 80000528},
	} {
		var acts []floor.Action
		s, acts = floor.Step(s, in, cfg)
		fmt.Printf("→ %s:", s.Phase)
		for _, a := range acts {
			switch a.Kind {
			case floor.SendRequest:
				fmt.Print(" send request")
			case floor.SendRelease:
				fmt.Print(" send release")
			case floor.PlayTone:
				fmt.Print(" tone ", a.Tone)
			case floor.StartCapture:
				fmt.Print(" mic on")
			case floor.StopCapture:
				fmt.Print(" mic off")
			case floor.StartTimer:
				fmt.Printf(" timer %d in %s", a.Timer, a.After)
			}
		}
		fmt.Println()
	}
	// Output:
	// → pending-request: send request timer 1 in 3s
	// → has-permission: tone grant mic on timer 2 in 25s timer 3 in 30s
	// → pending-release: mic off send release timer 1 in 3s
	// → idle:
}
