// Package adapt is the link adaptation of the send path: from what the
// network says about a talk burst — loss, jitter, voice queueing behind
// itself — to the Opus encoder's settings: bitrate, in-band FEC and the
// loss it prepares for. Pure (Step(state, input) → state, setting) so the
// rules are table-tested; the agent feeds it the media client's reports
// (uplink/media) or, over MQTT, its publish backlog, and applies the
// setting with audio.Encoder's setters.
//
// The rules: step the bitrate down at once when voice queues (over 200
// ms) or the jitter says a queue is building; step it down when the loss
// averaged over reports passes 10 % (two steps past 25 %); step up one
// level only after five clean reports in a row — additive increase after
// multiplicative decrease, as congestion control does, so the bitrate
// settles below what the link carries instead of oscillating about it.
// Loss moves the bitrate only on average: at a cell edge's 5 % random
// loss one second in eight loses 3 packets of 25 (12 %), and a lower
// bitrate does not make the air lose less — FEC is what helps there. Over
// UDP, FEC follows the loss at once (on from 1 %, off under 0.5 %); over
// MQTT it is off: TCP never loses a frame, so FEC would only spend bits.
package adapt

import (
	"math"
	"time"
)

// Path is how voice travels.
type Path string

const (
	UDP  Path = "udp"
	MQTT Path = "mqtt"
)

// Config bounds the adaptation.
type Config struct {
	// MaxBitrate is the configured bitrate (audio.bitrate): never above.
	MaxBitrate int
	// MinBitrate is the floor (default 8000: Opus wideband speech stays
	// intelligible; below it Opus drops to narrowband).
	MinBitrate int
	// Thresholds; zero takes the defaults below.
	QueueHigh  time.Duration // voice queued this long: step down (200 ms)
	QueueHuge  time.Duration // this long: two steps (1 s)
	JitterHigh float64       // ms (120: cellular jitter alone is ~40–85)
	LossHigh   float64       // share (0.10)
	LossHuge   float64       // share (0.25)
	UpAfter    int           // clean reports in a row before a step up (5)
}

func (c Config) withDefaults() Config {
	if c.MaxBitrate <= 0 {
		c.MaxBitrate = 20000
	}
	if c.MinBitrate <= 0 {
		c.MinBitrate = 8000
	}
	c.MinBitrate = min(c.MinBitrate, c.MaxBitrate)
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.QueueHigh <= 0 {
		c.QueueHigh = 200 * time.Millisecond
	}
	if c.QueueHuge <= 0 {
		c.QueueHuge = time.Second
	}
	def(&c.JitterHigh, 120)
	def(&c.LossHigh, 0.10)
	def(&c.LossHuge, 0.25)
	if c.UpAfter <= 0 {
		c.UpAfter = 5
	}
	return c
}

// Input is one report about the link (about once a second while talking).
type Input struct {
	Path Path
	// Loss is the share of packets lost (0–1): the worse of the uplink's
	// and the listeners' (media.Report.Loss). Always 0 over MQTT.
	Loss float64
	// JitterMs is the interarrival jitter (media.Report.JitterMs).
	JitterMs float64
	// Queue is how long voice waits behind itself on the way: over UDP
	// the relay's measured queueing delay on the talker's uplink or a
	// listener's downlink (media.Report.QueueMs), over
	// MQTT the voice published and not yet written out.
	Queue time.Duration
}

// Setting is what the encoder should use.
type Setting struct {
	Bitrate      int  // bit/s
	FEC          bool // in-band FEC
	ExpectedLoss int  // percent, for the FEC's strength
}

// State is the adaptation's memory between reports.
type State struct {
	Level int     // step of the bitrate ladder (0: MaxBitrate)
	Good  int     // clean reports in a row
	Loss  float64 // the loss FEC prepares for: up at once, down slowly
	// LossAvg is the loss averaged over reports (each new one counts a
	// third): what the bitrate follows.
	LossAvg float64
	FEC     bool
}

// ladder is the bitrates tried, highest first: MaxBitrate, then the
// common Opus speech rates below it down to MinBitrate.
func (c Config) ladder() []int {
	l := []int{c.MaxBitrate}
	for _, r := range []int{32000, 24000, 20000, 16000, 12000, 10000, 8000, 6000} {
		if r < c.MaxBitrate && r >= c.MinBitrate {
			l = append(l, r)
		}
	}
	return l
}

// Setting is what to use in state s on path p: at the start of a burst
// (with the last burst's state: what was learnt about the link is kept)
// and when the path changes (FEC goes when voice moves to MQTT).
func (c Config) Setting(s State, p Path) Setting {
	return c.setting(s, p)
}

// Step takes one report.
func (c Config) Step(s State, in Input) (State, Setting) {
	c = c.withDefaults()
	loss := max(0, min(1, in.Loss))
	if in.Path == MQTT {
		loss = 0
	}
	// Fast attack, slow decay: one lossy second counts at once, a clean
	// one only lowers the estimate by a third.
	if loss >= s.Loss {
		s.Loss = loss
	} else {
		s.Loss = s.Loss*2/3 + loss/3
	}
	s.LossAvg = s.LossAvg*2/3 + loss/3
	steps := 0
	switch {
	case in.Queue >= c.QueueHuge || s.LossAvg >= c.LossHuge:
		steps = 2
	case in.Queue >= c.QueueHigh || in.JitterMs >= c.JitterHigh || s.LossAvg >= c.LossHigh:
		steps = 1
	}
	clean := in.Queue < c.QueueHigh/4 && in.JitterMs < c.JitterHigh/3 && s.LossAvg < c.LossHigh/2
	switch {
	case steps > 0:
		s.Level += steps
		s.Good = 0
	case clean:
		s.Good++
		if s.Good >= c.UpAfter {
			s.Level--
			s.Good = 0
		}
	default:
		s.Good = 0
	}
	s.Level = max(0, min(s.Level, len(c.ladder())-1))
	switch {
	case in.Path != UDP:
		s.FEC = false
	case s.Loss >= 0.01:
		s.FEC = true
	case s.Loss < 0.005:
		s.FEC = false
	}
	return s, c.setting(s, in.Path)
}

func (c Config) setting(s State, p Path) Setting {
	c = c.withDefaults()
	l := c.ladder()
	out := Setting{Bitrate: l[max(0, min(s.Level, len(l)-1))]}
	if p == UDP && s.FEC {
		out.FEC = true
		out.ExpectedLoss = max(1, min(30, int(math.Ceil(s.Loss*100))))
	}
	return out
}

// Per-packet overhead on the wire, bytes, with IPv4. Over UDP: IP 20,
// UDP 8, RTP 12, the media header 10, the SRTP tag 16, the voice header
// 21. Over MQTT: IP 20, TCP 32 (with timestamps), a TLS 1.3 record 22, the
// MQTT fixed header 2 and topic 2+31 ("ptt/dev/dev-0001/voice/80000528"),
// the voice header 21. Each frame adds a 2-byte length in both.
const (
	overheadUDP  = 20 + 8 + 12 + 10 + 16 + 21
	overheadMQTT = 20 + 32 + 22 + 2 + 2 + 31 + 21
)

// WireBitrate is what a burst at bitrate costs on the wire, bit/s, at
// framesPerPacket 20 ms frames per packet: the budget a link must carry
// for the voice not to queue behind itself.
func WireBitrate(bitrate, framesPerPacket int, p Path) int {
	over := overheadUDP
	if p == MQTT {
		over = overheadMQTT
	}
	packetsPerSecond := 50.0 / float64(framesPerPacket)
	return bitrate + int(math.Round(float64(over+2*framesPerPacket)*8*packetsPerSecond))
}
