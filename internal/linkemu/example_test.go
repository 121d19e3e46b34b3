package linkemu_test

import (
	"log"
	"time"

	"github.com/pttagent/pttagent/internal/linkemu"
)

// A handset in a namespace of its own, linked to this process's namespace
// (the platform side) over a 4G link that later stalls for a handover.
func Example() {
	handset, err := linkemu.NewNamespace("handset")
	if err != nil {
		log.Fatal(err) // a test would t.Skip when not root, and t.Cleanup the Close
	}
	defer handset.Close()

	profile, err := linkemu.Preset("4g") // or linkemu.LTE
	if err != nil {
		log.Fatal(err)
	}
	link, err := linkemu.New(linkemu.Config{Handset: handset.Name(), Profile: profile, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer link.Close() // before the namespace's Close: its devices go with it

	// A program in the handset's namespace reaches the platform side only
	// across the link.
	ping := handset.Command("ping", "-c", "3", link.PlatformAddr().String())
	if err := ping.Start(); err != nil {
		log.Fatal(err)
	}
	link.Stall(2 * time.Second)
	if err := ping.Wait(); err != nil {
		log.Fatal(err)
	}
	log.Printf("downlink: %+v", link.Stats(linkemu.Downlink))
}
