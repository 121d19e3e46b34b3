package media

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/pttagent/pttagent/wire"
)

// RTP framing of the media path (docs/protocol.md, "Voice over UDP
// (SRTP)"). Both ends — the handset's Client and the platform's relay
// (internal/pttsim) — seal with a Sender and open with an Opener, so the
// layout is written once.

const (
	// PayloadType is the dynamic RTP payload type of a media voice
	// payload (wire.AppendMediaVoice), in both directions.
	PayloadType = 96
	// ClockRate is the RTP timestamp rate: Opus's 48 kHz (RFC 7587), so
	// a 20 ms frame is 960 ticks.
	ClockRate     = 48000
	ticksPerFrame = ClockRate / 50

	rtpHeaderSize = 12
	tagSize       = 16 // AEAD_AES_128_GCM
	srtcpTrailer  = 4  // E flag + SRTCP index
	// MaxPacket is the largest datagram either end sends or accepts.
	MaxPacket = rtpHeaderSize + wire.MaxMediaVoice + tagSize
	// replayWindow is in packets: 17 voice packets a second, so 15 s of
	// reordering is tolerated, and nothing older than that is accepted.
	replayWindow = 256
)

// Why a packet was dropped. Callers count them; none is ever answered.
var (
	ErrAuth      = errors.New("media: packet failed authentication")
	ErrReplay    = errors.New("media: packet replayed (seen before, or older than the replay window)")
	ErrMalformed = errors.New("media: malformed packet")
)

// NewKey returns a fresh random master key and salt.
func NewKey() wire.MediaKey {
	k := wire.MediaKey{Key: make([]byte, wire.MediaKeyLen), Salt: make([]byte, wire.MediaSaltLen)}
	rand.Read(k.Key)
	rand.Read(k.Salt)
	return k
}

// IsRTCP tells the two kinds apart on one port (RFC 5761 section 4): RTCP
// packet types 192–223 sit where RTP has its marker and payload type, and
// our payload type (96, 224 with the marker) is outside that range.
func IsRTCP(pkt []byte) bool {
	return len(pkt) >= 2 && pkt[1] >= 192 && pkt[1] <= 223
}

// SSRCOf returns the SSRC of an RTP or RTCP packet (0 when too short).
func SSRCOf(pkt []byte) uint32 {
	if IsRTCP(pkt) {
		if len(pkt) < 8 {
			return 0
		}
		return binary.BigEndian.Uint32(pkt[4:])
	}
	if len(pkt) < rtpHeaderSize {
		return 0
	}
	return binary.BigEndian.Uint32(pkt[8:])
}

// Sender seals one direction of one session: voice as SRTP, control as
// SRTCP. Safe for concurrent use; buffers are its own and reused, so a
// voice packet costs no allocation.
type Sender struct {
	mu      sync.Mutex
	ctx     *srtp.Context
	ssrc    uint32
	seq     uint16
	burst   uint32
	inBurst bool
	hdr     rtp.Header
	plain   []byte
	sealed  []byte
	ctl     []byte
}

// NewSender prepares sealing with key k under ssrc.
func NewSender(k wire.MediaKey, ssrc uint32) (*Sender, error) {
	ctx, err := srtp.CreateContext(k.Key, k.Salt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		return nil, fmt.Errorf("media: SRTP context: %w", err)
	}
	var seq [2]byte
	rand.Read(seq[:])
	return &Sender{ctx: ctx, ssrc: ssrc, seq: binary.BigEndian.Uint16(seq[:]),
		plain: make([]byte, 0, MaxPacket), sealed: make([]byte, 0, MaxPacket), ctl: make([]byte, 0, 512)}, nil
}

// WriteVoice seals voice (a wire voice packet) for group — speaker is ""
// from a handset, the talker's account from the relay — and writes it to
// to.
func (s *Sender) WriteVoice(conn *net.UDPConn, to netip.AddrPort, group int64, speaker string, voice []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sealed, err := s.sealVoice(group, speaker, voice)
	if err != nil {
		return 0, err
	}
	return conn.WriteToUDPAddrPort(sealed, to)
}

// sealVoice builds and seals the packet into the Sender's buffer (s.mu
// held). The RTP timestamp follows the voice packet's frame index and the
// marker bit flags a new burst, so the receiver's jitter estimate follows
// the talker's timeline, not the relay's.
func (s *Sender) sealVoice(group int64, speaker string, voice []byte) ([]byte, error) {
	if len(voice) < 12 {
		return nil, fmt.Errorf("media: voice packet of %d bytes: %w", len(voice), ErrMalformed)
	}
	burst, frame := binary.BigEndian.Uint32(voice[4:]), binary.BigEndian.Uint32(voice[8:])
	s.hdr = rtp.Header{Version: 2, Marker: !s.inBurst || burst != s.burst, PayloadType: PayloadType,
		SequenceNumber: s.seq, Timestamp: frame * ticksPerFrame, SSRC: s.ssrc}
	s.burst, s.inBurst = burst, true
	s.seq++
	n, err := s.hdr.MarshalTo(s.plain[:rtpHeaderSize])
	if err != nil {
		return nil, fmt.Errorf("media: RTP header: %w", err)
	}
	plain := wire.AppendMediaVoice(s.plain[:n], group, speaker, voice)
	sealed, err := s.ctx.EncryptRTP(s.sealed[:0], plain, &s.hdr)
	if err != nil {
		return nil, fmt.Errorf("media: SRTP: %w", err)
	}
	s.sealed = sealed[:0]
	return sealed, nil
}

// WriteControl seals an RTCP packet (compound or not; its SSRC is the
// session's) and writes it to to.
func (s *Sender) WriteControl(conn *net.UDPConn, to netip.AddrPort, rtcpPkt []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sealed, err := s.ctx.EncryptRTCP(s.ctl[:0], rtcpPkt, nil)
	if err != nil {
		return 0, fmt.Errorf("media: SRTCP: %w", err)
	}
	s.ctl = sealed[:0]
	return conn.WriteToUDPAddrPort(sealed, to)
}

// SSRC is the session's.
func (s *Sender) SSRC() uint32 { return s.ssrc }

// Opener authenticates and decrypts the other direction of one session.
// Not safe for concurrent use: one reader owns it.
type Opener struct {
	ctx    *srtp.Context
	ssrc   uint32
	hdr    rtp.Header
	buf    []byte
	ctl    []byte
	maxCtl uint32
	anyCtl bool
	Stats  RecvStats
}

// NewOpener prepares opening packets sealed with key k under ssrc, with
// replay protection for both voice and control.
func NewOpener(k wire.MediaKey, ssrc uint32) (*Opener, error) {
	ctx, err := srtp.CreateContext(k.Key, k.Salt, srtp.ProtectionProfileAeadAes128Gcm,
		srtp.SRTPReplayProtection(replayWindow), srtp.SRTCPReplayProtection(replayWindow))
	if err != nil {
		return nil, fmt.Errorf("media: SRTP context: %w", err)
	}
	return &Opener{ctx: ctx, ssrc: ssrc, buf: make([]byte, 0, MaxPacket), ctl: make([]byte, 0, 512)}, nil
}

// classify maps the library's refusal to ours. The packet's shape was
// checked before, so what is not a failed tag is the replay window's
// refusal (pion/srtp does not export that error).
func classify(err error) error {
	if errors.Is(err, srtp.ErrFailedToVerifyAuthTag) {
		return ErrAuth
	}
	return fmt.Errorf("%w (%v)", ErrReplay, err)
}

// OpenRTP opens a voice packet received at now and returns its payload
// (valid until the next call) and the RTP header fields; newest says that
// no later packet was seen before it (the relay moves a device's address
// only on such packets, so a delayed packet from a former address cannot
// pull it back).
func (o *Opener) OpenRTP(pkt []byte, now time.Time) (payload []byte, newest bool, err error) {
	if len(pkt) < rtpHeaderSize+tagSize || pkt[0]>>6 != 2 || pkt[0]&0x3f != 0 || pkt[1]&0x7f != PayloadType {
		// Version 2 without padding, extension or CSRCs, our payload type:
		// nothing else is ever sent.
		return nil, false, ErrMalformed
	}
	if binary.BigEndian.Uint32(pkt[8:]) != o.ssrc {
		return nil, false, ErrAuth
	}
	out, err := o.ctx.DecryptRTP(o.buf[:0], pkt, &o.hdr)
	if err != nil {
		return nil, false, classify(err)
	}
	o.buf = out[:0]
	newest = o.Stats.Update(o.hdr.SequenceNumber, o.hdr.Timestamp, o.hdr.Marker, now)
	return out[rtpHeaderSize:], newest, nil
}

// OpenRTCP opens a control packet and returns the plain RTCP (valid until
// the next call); newest as for OpenRTP, by SRTCP index.
func (o *Opener) OpenRTCP(pkt []byte) (plain []byte, newest bool, err error) {
	if len(pkt) < 8+tagSize+srtcpTrailer || pkt[0]>>6 != 2 {
		return nil, false, ErrMalformed
	}
	if binary.BigEndian.Uint32(pkt[4:]) != o.ssrc {
		return nil, false, ErrAuth
	}
	out, err := o.ctx.DecryptRTCP(o.ctl[:0], pkt, nil)
	if err != nil {
		return nil, false, classify(err)
	}
	o.ctl = out[:0]
	idx := binary.BigEndian.Uint32(pkt[len(pkt)-srtcpTrailer:]) &^ (1 << 31)
	newest = !o.anyCtl || idx > o.maxCtl
	if newest {
		o.maxCtl, o.anyCtl = idx, true
	}
	return out, newest, nil
}
