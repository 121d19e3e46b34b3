package audio

import (
	"errors"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// Packetizer encodes frames of one talk burst and groups them into voice
// packets of FramesPerPacket frames. Buffers are its own and reused: the
// send path allocates nothing per frame.
type Packetizer struct {
	enc             *Encoder
	framesPerPacket int
	pkt             wire.VoicePacket
	frames          [wire.MaxVoiceFrames][wire.MaxOpusFrame]byte
	out             []byte
	nextSeq         uint32
	active          bool
	// OnFrame, if set, sees every encoded frame (the burst recording).
	OnFrame func(frame []byte)
}

// NewPacketizer packs framesPerPacket (1–wire.MaxVoiceFrames) frames per packet.
func NewPacketizer(enc *Encoder, framesPerPacket int) (*Packetizer, error) {
	if framesPerPacket < 1 || framesPerPacket > wire.MaxVoiceFrames {
		return nil, errors.New("packetizer: frames per packet must be 1–10")
	}
	return &Packetizer{enc: enc, framesPerPacket: framesPerPacket, out: make([]byte, 0, wire.MaxVoicePacket)}, nil
}

// SetFramesPerPacket changes how many frames (1–wire.MaxVoiceFrames) the
// packets of the next burst hold; call it between bursts. The UDP path
// packs fewer than MQTT: its overhead per packet is small, and a frame
// less per packet is 20 ms less delay for every listener.
func (p *Packetizer) SetFramesPerPacket(n int) error {
	if n < 1 || n > wire.MaxVoiceFrames {
		return errors.New("packetizer: frames per packet must be 1–10")
	}
	if p.active {
		return errors.New("packetizer: frames per packet changed inside a burst")
	}
	p.framesPerPacket = n
	return nil
}

// Begin starts a burst with the given id.
func (p *Packetizer) Begin(burst uint32) error {
	p.pkt = wire.VoicePacket{Burst: burst, FrameMs: 20}
	p.nextSeq, p.active = 0, true
	return p.enc.Reset()
}

// Add encodes one frame captured at captured (the time of its first
// sample). It returns a packet when one is full, else nil; the packet is
// valid until the next call.
func (p *Packetizer) Add(pcm []int16, captured time.Time) ([]byte, error) {
	if !p.active {
		return nil, errors.New("packetizer: Add outside a burst")
	}
	i := p.pkt.NFrames
	n, err := p.enc.Encode(pcm, p.frames[i][:])
	if err != nil {
		return nil, err
	}
	if i == 0 {
		p.pkt.Seq, p.pkt.TimeMicro = p.nextSeq, captured.UnixMicro()
	}
	p.pkt.Frames[i] = p.frames[i][:n]
	p.pkt.NFrames++
	p.nextSeq++
	if p.OnFrame != nil {
		p.OnFrame(p.pkt.Frames[i])
	}
	if p.pkt.NFrames < p.framesPerPacket {
		return nil, nil
	}
	return p.flush(false), nil
}

// End closes the burst: the last packet, with what is left (possibly no
// frames) and the last flag, so receivers stop at once instead of waiting
// for a timeout.
func (p *Packetizer) End() []byte {
	if !p.active {
		return nil
	}
	if p.pkt.NFrames == 0 {
		p.pkt.Seq, p.pkt.TimeMicro = p.nextSeq, 0
	}
	p.active = false
	return p.flush(true)
}

// Frames is how many frames the burst has so far.
func (p *Packetizer) Frames() uint32 { return p.nextSeq }

func (p *Packetizer) flush(last bool) []byte {
	p.pkt.Last = last
	p.out = wire.AppendVoicePacket(p.out[:0], &p.pkt)
	p.pkt.NFrames = 0
	return p.out
}
