package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Voice packets carry Opus frames of one talk burst. They are binary, not
// JSON: at 20 ms frames and 2–3 frames per message a handset sends 17–25
// messages a second, and a JSON envelope with base64 frames would add about
// 60 % to 40-byte frames.
//
// Layout (all integers big-endian), version 1:
//
//	off size
//	0   1   version (1)
//	1   1   flags: bit 0 = last packet of the burst, others 0
//	2   1   codec: 1 = Opus, 16 kHz, mono
//	3   1   frame duration in ms (20)
//	4   4   burst id: random per talk burst; a new id is a new burst
//	8   4   seq: index of the first frame of this packet within the burst
//	12  8   time: capture time of the first sample of the first frame,
//	        Unix microseconds, sender's clock
//	20  1   n: number of frames, 0–MaxVoiceFrames
//	21  …   n × (2-byte length, Opus frame)
//
// A packet with the last flag may carry no frames at all (the key was
// released exactly at a packet boundary).
const (
	VoiceVersion    = 1
	VoiceCodecOpus  = 1
	VoiceFlagLast   = 1 << 0
	voiceHeaderSize = 21
	// MaxVoiceFrames bounds the frames of one packet (the agent sends 2–3).
	MaxVoiceFrames = 10
	// MaxOpusFrame is the largest Opus frame RFC 6716 allows.
	MaxOpusFrame = 1275
	// MaxVoicePacket is the largest valid encoded packet.
	MaxVoicePacket = voiceHeaderSize + MaxVoiceFrames*(2+MaxOpusFrame)
)

// VoicePacket is one decoded voice message. Frames alias the payload it was
// decoded from.
type VoicePacket struct {
	Last      bool
	FrameMs   uint8
	Burst     uint32
	Seq       uint32 // index of Frames[0] within the burst
	TimeMicro int64  // capture time of the first sample of Frames[0]
	NFrames   int
	Frames    [MaxVoiceFrames][]byte
}

// AppendVoicePacket appends the encoded packet to dst. It does not
// allocate when dst has room (MaxVoicePacket is always enough).
func AppendVoicePacket(dst []byte, p *VoicePacket) []byte {
	flags := byte(0)
	if p.Last {
		flags |= VoiceFlagLast
	}
	ms := p.FrameMs
	if ms == 0 {
		ms = 20
	}
	dst = append(dst, VoiceVersion, flags, VoiceCodecOpus, ms)
	dst = binary.BigEndian.AppendUint32(dst, p.Burst)
	dst = binary.BigEndian.AppendUint32(dst, p.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.TimeMicro))
	dst = append(dst, byte(p.NFrames))
	for i := 0; i < p.NFrames; i++ {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.Frames[i])))
		dst = append(dst, p.Frames[i]...)
	}
	return dst
}

var (
	ErrVoiceShort   = errors.New("voice packet truncated")
	ErrVoiceVersion = errors.New("voice packet version not supported")
)

// DecodeVoicePacket parses payload into p without allocating; p.Frames
// point into payload. Every length is checked against the payload, so a
// hostile packet cannot make the receiver read out of bounds.
func DecodeVoicePacket(payload []byte, p *VoicePacket) error {
	if len(payload) < voiceHeaderSize {
		return fmt.Errorf("decode voice: %d bytes: %w", len(payload), ErrVoiceShort)
	}
	if payload[0] != VoiceVersion {
		return fmt.Errorf("decode voice: version %d: %w", payload[0], ErrVoiceVersion)
	}
	if payload[1]&^VoiceFlagLast != 0 {
		return errors.New("decode voice: unknown flags 0x" + strconv.FormatUint(uint64(payload[1]), 16))
	}
	if payload[2] != VoiceCodecOpus {
		return errors.New("decode voice: codec " + strconv.Itoa(int(payload[2])) + " not supported")
	}
	if payload[3] != 20 {
		return errors.New("decode voice: frame duration " + strconv.Itoa(int(payload[3])) + " ms not supported")
	}
	p.Last = payload[1]&VoiceFlagLast != 0
	p.FrameMs = payload[3]
	p.Burst = binary.BigEndian.Uint32(payload[4:])
	p.Seq = binary.BigEndian.Uint32(payload[8:])
	p.TimeMicro = int64(binary.BigEndian.Uint64(payload[12:]))
	n := int(payload[20])
	if n > MaxVoiceFrames {
		return fmt.Errorf("decode voice: %d frames, at most %d", n, MaxVoiceFrames)
	}
	rest := payload[voiceHeaderSize:]
	for i := 0; i < n; i++ {
		if len(rest) < 2 {
			return fmt.Errorf("decode voice: frame %d length: %w", i, ErrVoiceShort)
		}
		l := int(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
		if l == 0 || l > MaxOpusFrame {
			return fmt.Errorf("decode voice: frame %d is %d bytes, want 1–%d", i, l, MaxOpusFrame)
		}
		if len(rest) < l {
			return fmt.Errorf("decode voice: frame %d: %w", i, ErrVoiceShort)
		}
		p.Frames[i] = rest[:l:l]
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return fmt.Errorf("decode voice: %d bytes after the last frame", len(rest))
	}
	if uint64(p.Seq)+uint64(n) > 1<<32-1 {
		return errors.New("decode voice: sequence overflows")
	}
	p.NFrames = n
	return nil
}

// Voice is where the device publishes the voice packets of a burst to
// group, QoS 0: a late voice packet is worth nothing, so it is never sent
// again.
func (t Topics) Voice(group int64) string {
	return t.dev("voice/" + strconv.FormatInt(group, 10))
}

// GroupVoice is where the platform forwards the floor holder's packets,
// unchanged, to the members of group; the last level is the speaker's
// account. Handsets subscribe to GroupVoice(prefix, group, "+").
func GroupVoice(prefix string, group int64, speaker string) string {
	return prefix + "/group/" + strconv.FormatInt(group, 10) + "/voice/" + speaker
}

// AllVoice is the platform's subscription to every device's voice.
func AllVoice(prefix string) string { return prefix + "/dev/+/voice/+" }
