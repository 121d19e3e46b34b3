package ptt

import (
	"context"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/mqtt"
)

// What push-to-talk is given: each part behind the smallest interface
// that does the job, so a test hands in fakes (board/boardtest,
// audio/audiotest, agent/ptt/ptttest) and the agent the real things.

// Link is the part of the broker connection push-to-talk uses
// (*mqtt.Client): floor messages, voice, recording reports.
type Link interface {
	// Publish sends a message; at QoS 1 the token completes on the
	// broker's acknowledgement.
	Publish(topic string, qos byte, retained bool, payload []byte) paho.Token
	// Subscribe registers h for filter, now and after every reconnect.
	Subscribe(filter string, qos byte, h mqtt.Handler)
	// Unsubscribe forgets filter.
	Unsubscribe(filter string)
	// State says whether the link is up, and closes the channel at the
	// next change.
	State() (up bool, changed <-chan struct{})
}

// Models is what the platform says of this member and its groups
// (*platformsync.Engine).
type Models interface {
	// Watch returns the current model (nil before the first sync; never
	// modified) and a channel closed when it is replaced.
	Watch() (*platform.Model, <-chan struct{})
	// Active is the group push-to-talk talks and listens to (0: none).
	Active() int64
	// SetActive records the user's choice of group.
	SetActive(gid int64)
}

// Sound is an opened sound card. Push-to-talk builds the voice path on it
// (Opus, packets, jitter buffer, tones, prompts) and closes both devices
// when it stops.
type Sound struct {
	Capture audio.Capturer
	Play    audio.Player
	// Latency is how long a frame written to Play takes to be heard (for
	// the mouth-to-ear figure in status).
	Latency time.Duration
	// Stats, when set, reads the devices' counters for status.
	Stats func() (capture, playback audio.DeviceStats)
	// Name says which devices these are, for the log.
	Name string
}

// Prompter speaks texts on the speaker, one after the other
// (*audio.Prompter).
type Prompter interface {
	// Say queues text; an error means it was dropped.
	Say(text string) error
	// Play queues a clip of 16 kHz samples (a missed voice message) in
	// the same order; an error means it was dropped.
	Play(pcm []int16) error
	// Pending is how many texts and clips are not yet on the speaker.
	Pending() int
	// Run renders the queued texts until ctx ends.
	Run(ctx context.Context) error
}

// LEDs are the handset's indicators; a nil one is not there.
type LEDs struct {
	Transmitting, Receiving, Online board.LED
}

// Uploader stores a recorded burst on the platform and returns its URL
// (the corp API's file-upload).
type Uploader interface {
	Upload(ctx context.Context, name string, data []byte) (url string, err error)
}

// UploadFunc is an Uploader made of a function.
type UploadFunc func(ctx context.Context, name string, data []byte) (string, error)

func (f UploadFunc) Upload(ctx context.Context, name string, data []byte) (string, error) {
	return f(ctx, name, data)
}

var (
	_ Link     = (*mqtt.Client)(nil)
	_ Prompter = (*audio.Prompter)(nil)
)
