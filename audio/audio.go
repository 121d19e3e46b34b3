// Package audio is the handset's voice path: PortAudio capture and
// playback, Opus encoding, voice packets, the receive jitter buffer with
// loss concealment, Ogg Opus recordings, signal tones and spoken prompts.
//
// Everything runs at 16 kHz mono in 20 ms frames (320 samples): one
// PortAudio buffer is one Opus frame, so a frame is never split or
// resampled on the hot path, and neither path allocates per frame.
//
//	send:    Capturer → Encoder → Packetizer → payload (uplink)
//	receive: payload → Receiver (Jitter → Decoder, PLC/FEC → speed-up) → Output → Player
//
// The receive path never throws speech away to keep the delay down: the
// jitter buffer's delay follows each speaker's measured jitter, a stall
// holds the turn, and the backlog it leaves is played faster (pauses
// skipped, voice time-compressed with its pitch kept) until the delay is
// back at the target; whole frames go only beyond a hard bound of seconds.
package audio

import (
	"sync/atomic"
	"time"
)

const (
	SampleRate    = 16000
	FrameSamples  = 320 // 20 ms
	FrameDuration = 20 * time.Millisecond
)

// Capturer is a microphone.
type Capturer interface {
	Start() error
	// ReadFrame fills pcm (FrameSamples long) with the next 20 ms. An input
	// overflow (samples lost because we were late) is counted, not an error.
	ReadFrame(pcm []int16) error
	Stop() error
	Close() error
}

// Player is a speaker.
type Player interface {
	Start() error
	// WriteFrame plays pcm (FrameSamples long), blocking while the device's
	// buffer is full: the device paces the caller. An underflow (the device
	// ran dry because we were late) is counted, not an error.
	WriteFrame(pcm []int16) error
	Stop() error
	Close() error
}

// DeviceStats are a device's counters.
type DeviceStats struct {
	Frames     uint64 // frames read or written
	Overflows  uint64 // capture: input overflowed (samples lost)
	Underflows uint64 // playback: output underflowed (a gap was heard)
}

type deviceCounters struct {
	frames, overflows, underflows atomic.Uint64
}

func (c *deviceCounters) snapshot() DeviceStats {
	return DeviceStats{Frames: c.frames.Load(), Overflows: c.overflows.Load(), Underflows: c.underflows.Load()}
}
