package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Voice over UDP (docs/protocol.md, "Voice over UDP (SRTP)"): the handset
// asks for a media session over MQTT, the platform answers with its relay's
// UDP address and fresh SRTP keys, and voice then travels as SRTP between
// the handset and the relay. This file holds the MQTT messages of that
// exchange and the byte layouts inside the SRTP packets; the RTP and SRTP
// framing itself is uplink/media's.

// MediaProfile is the one SRTP protection profile spoken: AEAD_AES_128_GCM
// (RFC 7714), 16-byte key, 12-byte salt, 16-byte tag. One profile, no
// negotiation: the platform and the handsets are ours.
const MediaProfile = "AEAD_AES_128_GCM"

// Sizes of the AEAD_AES_128_GCM master key and salt.
const (
	MediaKeyLen  = 16
	MediaSaltLen = 12
)

// MaxMediaMessage bounds the JSON of a media request or answer (an answer
// is ~300 bytes); larger ones are refused unparsed.
const MaxMediaMessage = 1024

// Media is where the device asks for a media session, QoS 1, not retained.
func (t Topics) Media() string { return t.dev("media") }

// MediaCtl is where the platform answers the device, QoS 1, never
// retained: a session's keys are for the connection that asked for them.
func (t Topics) MediaCtl() string { return t.dev("media/ctl") }

// MediaCtlTopic is Topics.MediaCtl for the platform's side.
func MediaCtlTopic(prefix, account string) string {
	return Topics{Prefix: prefix, Account: account}.MediaCtl()
}

// AllMedia is the platform's subscription to every device's media requests.
func AllMedia(prefix string) string { return prefix + "/dev/+/media" }

// MediaRequest asks the platform for a media session.
type MediaRequest struct {
	V int `json:"v"`
	// ID is a fresh random nonce (8–32 characters) that the answer echoes:
	// an answer with another ID — a stale one, or one a broker kept as
	// retained by mistake — is ignored.
	ID string `json:"id"`
	TS int64  `json:"ts,omitempty"` // sender's Unix time, ms (logs only)
}

func (r MediaRequest) Encode() []byte {
	r.V = 1
	b, _ := json.Marshal(r)
	return b
}

// DecodeMediaRequest parses and checks a request.
func DecodeMediaRequest(payload []byte) (MediaRequest, error) {
	r, err := decodeJSON[MediaRequest]("media request", payload, MaxMediaMessage)
	if err != nil {
		return r, err
	}
	if r.V != 1 {
		return MediaRequest{}, fmt.Errorf("decode media request: version %d not supported", r.V)
	}
	if err := checkMediaID(r.ID); err != nil {
		return MediaRequest{}, fmt.Errorf("decode media request: %w", err)
	}
	return r, nil
}

func checkMediaID(id string) error {
	if len(id) < 8 || len(id) > 32 {
		return fmt.Errorf("id %q: want 8–32 characters", id)
	}
	for _, c := range []byte(id) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return fmt.Errorf("id %q: want letters, digits, - and _", id)
		}
	}
	return nil
}

// MediaKey is the SRTP master key and salt of one direction (base64 in JSON).
type MediaKey struct {
	Key  []byte `json:"key"`
	Salt []byte `json:"salt"`
}

// MediaSession is the platform's answer: a session, or Error.
type MediaSession struct {
	V  int    `json:"v"`
	ID string `json:"id"` // the request's
	// Error, when set, says there is no session ("unavailable": the
	// platform has no UDP relay; "refused": not a device it knows). The
	// device keeps its voice on MQTT.
	Error string `json:"error,omitempty"`
	// Addr is the relay's UDP address, host:port.
	Addr string `json:"addr,omitempty"`
	// SSRC names the session in both directions' RTP and RTCP headers.
	SSRC    uint32 `json:"ssrc,omitempty"`
	Profile string `json:"profile,omitempty"`
	// Up keys device → relay, Down relay → device.
	Up   MediaKey `json:"up,omitzero"`
	Down MediaKey `json:"down,omitzero"`
	// TTL is the session's lifetime in seconds from when the device
	// receives it (relative, so a handset clock that is off does not
	// matter). The device asks for a new one before it ends.
	TTL int   `json:"ttl,omitempty"`
	TS  int64 `json:"ts,omitempty"` // sender's Unix time, ms (logs only)
}

func (s MediaSession) Encode() []byte {
	s.V = 1
	b, _ := json.Marshal(s)
	return b
}

// DecodeMediaSession parses and checks an answer: a session has every
// field, with keys of the profile's sizes.
func DecodeMediaSession(payload []byte) (MediaSession, error) {
	s, err := decodeJSON[MediaSession]("media session", payload, MaxMediaMessage)
	if err != nil {
		return s, err
	}
	if err := s.check(); err != nil {
		return MediaSession{}, fmt.Errorf("decode media session: %w", err)
	}
	return s, nil
}

func (s MediaSession) check() error {
	if s.V != 1 {
		return fmt.Errorf("version %d not supported", s.V)
	}
	if err := checkMediaID(s.ID); err != nil {
		return err
	}
	if s.Error != "" {
		if len(s.Error) > 64 {
			return errors.New("error text longer than 64 bytes")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil || host == "" {
		return fmt.Errorf("addr %q: want host:port", s.Addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("addr %q: port 1–65535", s.Addr)
	}
	if s.SSRC == 0 {
		return errors.New("ssrc 0")
	}
	if s.Profile != MediaProfile {
		return fmt.Errorf("profile %q: only %s is spoken", s.Profile, MediaProfile)
	}
	for _, k := range []struct {
		name string
		k    MediaKey
	}{{"up", s.Up}, {"down", s.Down}} {
		if len(k.k.Key) != MediaKeyLen || len(k.k.Salt) != MediaSaltLen {
			return fmt.Errorf("%s key %d and salt %d bytes, want %d and %d", k.name, len(k.k.Key), len(k.k.Salt), MediaKeyLen, MediaSaltLen)
		}
	}
	if s.TTL < 60 || s.TTL > 7*86400 {
		return fmt.Errorf("ttl %d s: want 60 s – 7 days", s.TTL)
	}
	return nil
}

// The payload of a voice RTP packet (before SRTP encryption), all integers
// big-endian:
//
//	off size
//	0   1   version (1)
//	1   1   L: length of the speaker's account, 0–MaxMediaSpeaker
//	        (0 from a device: the relay knows who it is by its session)
//	2   8   group id
//	10  L   speaker's account (relay → device only)
//	10+L …  the voice packet, unchanged (voice.go)
const (
	MediaVoiceVersion = 1
	mediaVoiceHeader  = 10
	// MaxMediaSpeaker bounds the speaker's account in a media packet.
	MaxMediaSpeaker = 64
	// MaxMediaVoice is the largest valid media voice payload.
	MaxMediaVoice = mediaVoiceHeader + MaxMediaSpeaker + MaxVoicePacket
)

// AppendMediaVoice appends a media voice payload to dst; it does not
// allocate when dst has room. speaker longer than MaxMediaSpeaker is the
// caller's bug and is cut.
func AppendMediaVoice(dst []byte, group int64, speaker string, voice []byte) []byte {
	if len(speaker) > MaxMediaSpeaker {
		speaker = speaker[:MaxMediaSpeaker]
	}
	dst = append(dst, MediaVoiceVersion, byte(len(speaker)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(group))
	dst = append(dst, speaker...)
	return append(dst, voice...)
}

var ErrMediaShort = errors.New("media payload truncated")

// DecodeMediaVoice splits a media voice payload without allocating;
// speaker and voice alias b. The voice packet itself is not checked here
// (DecodeVoicePacket does that).
func DecodeMediaVoice(b []byte) (group int64, speaker, voice []byte, err error) {
	if len(b) < mediaVoiceHeader {
		return 0, nil, nil, fmt.Errorf("decode media voice: %d bytes: %w", len(b), ErrMediaShort)
	}
	if b[0] != MediaVoiceVersion {
		return 0, nil, nil, fmt.Errorf("decode media voice: version %d not supported", b[0])
	}
	l := int(b[1])
	if l > MaxMediaSpeaker {
		return 0, nil, nil, fmt.Errorf("decode media voice: speaker of %d bytes, at most %d", l, MaxMediaSpeaker)
	}
	if len(b) < mediaVoiceHeader+l {
		return 0, nil, nil, fmt.Errorf("decode media voice: speaker: %w", ErrMediaShort)
	}
	group = int64(binary.BigEndian.Uint64(b[2:]))
	return group, b[mediaVoiceHeader : mediaVoiceHeader+l : mediaVoiceHeader+l], b[mediaVoiceHeader+l:], nil
}

// Control packets are RTCP (RFC 3550) inside SRTCP on the same port as the
// voice (RTCP multiplexing, RFC 5761). Besides receiver reports, three RTCP
// APP packets of name MediaAppName carry this protocol's own data.
const MediaAppName = "PTT1"

// APP subtypes.
const (
	MediaAppKeepAlive = 1 // device → relay: MediaKeepAlive
	MediaAppEcho      = 2 // relay → device: the MediaKeepAlive it answers
	MediaAppLink      = 3 // relay → talker: MediaLink, with a receiver report
)

// MediaKeepAlive is the data of a keep-alive and of its echo:
//
//	0  8  token: the device's clock when it sent it (the echo returns it: round-trip time)
//	8  8  listen: the group whose voice the device wants over UDP (0: none); the
//	      echo carries what the relay accepted (0 when the device is not a member)
type MediaKeepAlive struct {
	Token  uint64
	Listen int64
}

const MediaKeepAliveSize = 16

func AppendMediaKeepAlive(dst []byte, k MediaKeepAlive) []byte {
	dst = binary.BigEndian.AppendUint64(dst, k.Token)
	return binary.BigEndian.AppendUint64(dst, uint64(k.Listen))
}

func DecodeMediaKeepAlive(b []byte) (MediaKeepAlive, error) {
	if len(b) != MediaKeepAliveSize {
		return MediaKeepAlive{}, fmt.Errorf("decode media keep-alive: %d bytes, want %d", len(b), MediaKeepAliveSize)
	}
	return MediaKeepAlive{Token: binary.BigEndian.Uint64(b), Listen: int64(binary.BigEndian.Uint64(b[8:]))}, nil
}

// MediaLink is what the relay adds to its receiver report to a talker:
//
//	0  1  the worst listener's fraction lost, in 1/256 (RFC 3550's encoding)
//	1  1  listeners that reported since the relay's last report to this
//	      talker (the listener fields are theirs; 0: no news of listeners)
//	2  2  the talker's uplink queueing delay, ms (capped at 65535): how much
//	      later than at their quickest in this burst its packets arrive now —
//	      voice queueing behind itself, which cellular links with deep
//	      buffers show long before they lose anything
//	4  4  the worst listener's interarrival jitter, RTP timestamp units (48 kHz)
//	8  2  the worst listener's downlink queueing delay, ms (capped at 65535):
//	      the mean, over its last report interval, of how much later than
//	      at their quickest in this burst its packets arrive — voice that
//	      outgrew a listener's link (a cell edge) queues there, not on the
//	      talker's uplink
//
// A listener sends one too, beside its receiver report, with only
// DownQueueMs set: its own queueing delay. An 8-byte report (before the
// downlink queue was reported) decodes with DownQueueMs 0.
type MediaLink struct {
	FractionLost uint8
	Listeners    uint8
	QueueMs      uint16
	Jitter       uint32
	DownQueueMs  uint16
}

const MediaLinkSize = 10

func AppendMediaLink(dst []byte, d MediaLink) []byte {
	dst = append(dst, d.FractionLost, d.Listeners)
	dst = binary.BigEndian.AppendUint16(dst, d.QueueMs)
	dst = binary.BigEndian.AppendUint32(dst, d.Jitter)
	return binary.BigEndian.AppendUint16(dst, d.DownQueueMs)
}

func DecodeMediaLink(b []byte) (MediaLink, error) {
	if len(b) != MediaLinkSize && len(b) != MediaLinkSize-2 {
		return MediaLink{}, fmt.Errorf("decode media link report: %d bytes, want %d", len(b), MediaLinkSize)
	}
	d := MediaLink{FractionLost: b[0], Listeners: b[1], QueueMs: binary.BigEndian.Uint16(b[2:]), Jitter: binary.BigEndian.Uint32(b[4:])}
	if len(b) == MediaLinkSize {
		d.DownQueueMs = binary.BigEndian.Uint16(b[8:])
	}
	return d, nil
}
