package ptt

import (
	"sync"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/adapt"
	"github.com/pttagent/pttagent/wire"
)

// The second voice path: UDP to the platform's relay (uplink/media),
// beside the broker. Voice goes over UDP while UDP delivers and over the
// broker otherwise. The broker's voice subscription of the active group
// is dropped while the path is up, not in doubt, and the relay has
// confirmed it sends that group's voice over UDP, so a listener never
// receives a burst twice (at a cell edge, the broker's copy of every
// burst's start queued the link for seconds). A NAT binding that expired
// while the handset was idle costs nothing either: the keep-alive the
// media client sends when a burst starts gives the relay the new
// address, and the relay then sends the burst from its start. The jitter
// buffer drops what comes twice. The encoder follows what the link
// reports (audio/adapt).

// MediaPath is the UDP media client as push-to-talk uses it
// (*media.Client).
type MediaPath interface {
	// Send sends one voice packet to group; false: not over UDP now, so
	// the caller publishes it on the link.
	Send(group int64, voice []byte) bool
	// Listen says which group's voice the relay should send (0: none).
	Listen(group int64)
	// ExpectVoice says another member holds the floor: voice should come,
	// so a silent path is checked at once.
	ExpectVoice(on bool)
	// State says whether UDP delivers, and closes the channel at the next
	// change (of it or of Listening).
	State() (up bool, changed <-chan struct{})
	// Brings says whether UDP brings group's voice now: up, not in
	// doubt (nothing came back in time), and the relay confirmed the
	// group. A change closes State's channel too.
	Brings(group int64) bool
	roundTripper
}

// mediaState is the UDP path's state as the loop last saw it.
func (p *PTT) mediaState() (up bool, changed <-chan struct{}) {
	if p.parts.Media == nil {
		return false, nil
	}
	return p.parts.Media.State()
}

// followMedia takes the UDP path's new state. Runs on the loop.
func (p *PTT) followMedia(up bool) {
	if up != p.mediaUp {
		p.log.Info("voice path", "udp", up)
	}
	p.mediaUp = up
	p.hintPlayout()
	p.subscribeVoice()
	p.followCopy()
	p.setStatus(func(s *Status) { s.Transport = p.transport() })
}

// roundTripper is a voice path that measures its round trip: the UDP
// path always (the relay's echoes), the Link when it can (*mqtt.Client,
// from its SUBACKs).
type roundTripper interface {
	// RoundTrip is the path's smoothed round trip and its variation
	// (RFC 6298), ok false before the first measurement.
	RoundTrip() (srtt, rttvar time.Duration, ok bool)
}

// hintPlayout tells the playout how much the voice path's delay varies,
// so a speaker not heard before starts at a delay that suits the link:
// over UDP the round-trip variation of the relay's echoes, over the
// broker that of its SUBACKs; with neither the configured
// audio.jitter_target applies. Runs on the loop (when the path changes
// and when the floor is taken, before the voice comes).
func (p *PTT) hintPlayout() {
	if p.snd == nil {
		return
	}
	var d time.Duration
	ok := false
	if p.mediaUp {
		_, d, ok = p.parts.Media.RoundTrip()
	} else if rt, is := p.parts.Link.(roundTripper); is {
		_, d, ok = rt.RoundTrip()
	}
	p.snd.out.SetLinkHint(d, ok)
}

func (p *PTT) transport() string {
	if p.mediaUp {
		return "udp"
	}
	return "mqtt"
}

// subscribeVoice holds the broker's voice subscription of the active
// group while UDP does not bring it: down, in doubt (voice expected and
// none came — the broker's copy carries the burst on while the probes
// decide, seconds before the path is declared down), or not confirmed
// for this group. Runs on the loop.
func (p *PTT) subscribeVoice() {
	want := ""
	if p.active != 0 && !(p.mediaUp && p.parts.Media.Brings(p.active)) {
		want = wire.GroupVoice(p.o.TopicPrefix, p.active, "+")
	}
	if want == p.voiceSub {
		return
	}
	if p.voiceSub != "" {
		p.parts.Link.Unsubscribe(p.voiceSub)
	}
	p.voiceSub = want
	if want != "" {
		p.parts.Link.Subscribe(want, 0, p.onVoice)
	}
	p.followCopy()
}

// tuner retunes the encoder from the link's reports: over UDP the relay's
// (LinkReport), over the broker the voice still waiting to be written
// (the talk goroutine). Safe from any goroutine.
type tuner struct {
	mu    sync.Mutex
	cfg   adapt.Config
	state adapt.State
	last  adapt.Setting
	enc   *audio.Encoder // nil until the sound card is open
}

func (t *tuner) step(in adapt.Input) (adapt.Setting, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.enc == nil {
		return adapt.Setting{}, false
	}
	var s adapt.Setting
	t.state, s = t.cfg.Step(t.state, in)
	if s == t.last {
		return s, false
	}
	t.last = s
	t.enc.SetBitrate(s.Bitrate)
	t.enc.SetFEC(s.FEC)
	t.enc.SetExpectedLoss(s.ExpectedLoss)
	return s, true
}

// LinkReport feeds the link adaptation one report of the UDP path (the
// relay's, about once a second while this handset talks).
func (p *PTT) LinkReport(in adapt.Input) { p.retune(in) }

func (p *PTT) retune(in adapt.Input) {
	if s, changed := p.tune.step(in); changed {
		p.log.Info("voice encoder retuned", "path", in.Path, "bitrate", s.Bitrate, "fec", s.FEC,
			"expected_loss", s.ExpectedLoss, "loss", in.Loss, "jitter_ms", in.JitterMs, "queue", in.Queue)
		p.setStatus(func(st *Status) { st.Bitrate = s.Bitrate })
	}
}

// brokerQueueEvery is how often the talk goroutine measures the voice
// waiting in the broker connection, in packets (about a second).
const brokerQueueEvery = 16

// queued is how much voice the broker connection has not written yet.
func (v *voiceBuffers) queued(framesPerPacket int) time.Duration {
	n := 0
	for i := range v.slots {
		if s := &v.slots[i]; s.tok != nil {
			select {
			case <-s.tok.Done():
			default:
				n++
			}
		}
	}
	return time.Duration(n*framesPerPacket) * audio.FrameDuration
}

// burstFramesPerPacket is the packet size of a burst starting now: the
// UDP path's when UDP delivers (a burst that falls back to MQTT midway
// keeps it). Runs on the loop.
func (p *PTT) burstFramesPerPacket() int {
	if p.mediaUp && p.o.Audio.UDPFramesPerPacket > 0 {
		return p.o.Audio.UDPFramesPerPacket
	}
	return p.o.Audio.FramesPerPacket
}

// redundancy repeats the last frame of each packet at the head of the
// next one, for the UDP path: a lost packet then costs one frame where it
// cost three, because the repeated frame carries Opus's in-band FEC of the
// frame before it. With 3 frames a packet, FEC alone can rebuild only the
// last frame of a lost packet (its FEC rides in the next packet's first
// frame); with the repeat, two of three; with 2 frames a packet (the UDP
// default, audio.udp_frames_per_packet) both. It costs one frame's bytes per
// packet (~5 kbit/s at 16 kbit/s). Over MQTT a packet is never lost, so
// the broker gets the packet as made. The receiver drops what it already
// has (the jitter buffer counts Duplicates) and times packets by their
// first new frame. Allocation-free: the talk goroutine's own buffers.
type redundancy struct {
	prev [wire.MaxOpusFrame]byte
	n    int // length of prev; 0: none yet
	in   wire.VoicePacket
	out  [wire.MaxVoicePacket]byte
}

func (r *redundancy) withPrevious(payload []byte) []byte {
	if err := wire.DecodeVoicePacket(payload, &r.in); err != nil || r.in.NFrames == 0 {
		return payload
	}
	out := payload
	if r.n > 0 && r.in.Seq > 0 && r.in.NFrames < wire.MaxVoiceFrames {
		p := wire.VoicePacket{Last: r.in.Last, FrameMs: r.in.FrameMs, Burst: r.in.Burst, Seq: r.in.Seq - 1,
			TimeMicro: r.in.TimeMicro - audio.FrameDuration.Microseconds(), NFrames: r.in.NFrames + 1}
		p.Frames[0] = r.prev[:r.n]
		copy(p.Frames[1:], r.in.Frames[:r.in.NFrames])
		out = wire.AppendVoicePacket(r.out[:0], &p)
	}
	last := r.in.Frames[r.in.NFrames-1]
	r.n = copy(r.prev[:], last)
	return out
}
