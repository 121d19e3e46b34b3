package audio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"gopkg.in/hraban/opus.v2"
)

// DecodeOggOpus decodes an Ogg Opus file (a voice message of a group's
// history: another handset's recording) into 16 kHz mono samples, at most
// max long (the rest is not decoded), padded to whole frames. It uses
// libopusfile (hraban/opus's Stream), which checks the pages and decodes
// at 48 kHz; mono and stereo are accepted (stereo is mixed down). The
// file is the platform's data: anything else is an error, never a crash.
func DecodeOggOpus(b []byte, max time.Duration) (pcm []int16, cut bool, err error) {
	ch, err := opusChannels(b)
	if err != nil {
		return nil, false, err
	}
	s, err := opus.NewStream(bytes.NewReader(b))
	if err != nil {
		return nil, false, fmt.Errorf("ogg opus: %w", err)
	}
	defer s.Close()
	const rate48 = 48000
	limit := int(max.Seconds() * rate48)
	buf := make([]int16, 5760*ch) // 120 ms, the longest Opus packet
	var at48 []int16
	for len(at48) < limit {
		n, err := s.Read(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("ogg opus: after %s: %w", time.Duration(len(at48))*time.Second/rate48, err)
		}
		for i := range n {
			v := int32(buf[i*ch])
			if ch == 2 {
				v = (v + int32(buf[i*ch+1])) / 2
			}
			at48 = append(at48, int16(v))
		}
	}
	if len(at48) > limit {
		at48, cut = at48[:limit], true
	}
	if len(at48) == 0 {
		return nil, false, errors.New("ogg opus: no audio")
	}
	// 48 kHz to 16 kHz: the mean of each three samples (a little low-pass
	// before taking every third, against aliasing a full-band file).
	pcm = make([]int16, len(at48)/3)
	for i := range pcm {
		pcm[i] = int16((int32(at48[3*i]) + int32(at48[3*i+1]) + int32(at48[3*i+2])) / 3)
	}
	return padFrames(pcm), cut, nil
}

// opusChannels reads the channel count of the file's OpusHead (RFC 7845
// §5.1): the first packet, on the first page.
func opusChannels(b []byte) (int, error) {
	if len(b) < 27 || string(b[:4]) != "OggS" {
		return 0, errors.New("ogg opus: not an Ogg file")
	}
	segs := int(b[26])
	start := 27 + segs
	if len(b) < start+19 || string(b[start:start+8]) != "OpusHead" {
		return 0, errors.New("ogg opus: the first page is not an OpusHead")
	}
	switch ch := int(b[start+9]); ch {
	case 1, 2:
		return ch, nil
	default:
		return 0, fmt.Errorf("ogg opus: %d channels, want 1 or 2", ch)
	}
}
