package audio

import (
	"context"
	"fmt"
	"time"
)

// Transmitter sends talk bursts from the microphone: capture → encode →
// packets, one burst per Talk call.
type Transmitter struct {
	Capture    Capturer
	Packetizer *Packetizer
}

// Talk opens the microphone and sends the burst's packets with send until
// ctx ends (the floor was released or revoked), then sends the burst's
// last packet and stops the microphone. send must not keep the payload.
// It returns the number of frames sent.
func (t *Transmitter) Talk(ctx context.Context, burst uint32, send func(payload []byte)) (frames uint32, err error) {
	if err := t.Packetizer.Begin(burst); err != nil {
		return 0, fmt.Errorf("talk: %w", err)
	}
	if err := t.Capture.Start(); err != nil {
		return 0, fmt.Errorf("talk: %w", err)
	}
	pcm := make([]int16, FrameSamples)
	for ctx.Err() == nil {
		if err = t.Capture.ReadFrame(pcm); err != nil {
			break
		}
		// ReadFrame returns when the frame is complete: its first sample
		// was captured one frame earlier.
		p, aerr := t.Packetizer.Add(pcm, time.Now().Add(-FrameDuration))
		if aerr != nil {
			err = aerr
			break
		}
		if p != nil {
			send(p)
		}
	}
	// Always end the burst, so listeners stop at once rather than after
	// their silence timeout.
	send(t.Packetizer.End())
	if serr := t.Capture.Stop(); err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return t.Packetizer.Frames(), fmt.Errorf("talk: %w", err)
	}
	return t.Packetizer.Frames(), nil
}
