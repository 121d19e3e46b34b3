package audio

import (
	"fmt"
	"sync"

	"gopkg.in/hraban/opus.v2"
)

// EncoderConfig are the Opus settings of the send path.
type EncoderConfig struct {
	// Bitrate in bit/s (6000–64000; 16000–24000 suits speech at 16 kHz).
	Bitrate int
	// Complexity 0–10: CPU against quality.
	Complexity int
	// ExpectedLoss (percent, 0–100) makes the encoder add in-band FEC for
	// that much packet loss; 0 turns FEC off.
	ExpectedLoss int
}

// Encoder is an Opus VOIP encoder for 20 ms frames of 16 kHz mono. Its
// setters may be called from any goroutine while it encodes (the link
// adaptation, audio/adapt, retunes it in mid-burst); a change applies from
// the next frame.
type Encoder struct {
	mu  sync.Mutex // libopus's encoder is not safe for concurrent use
	enc *opus.Encoder
}

func NewEncoder(c EncoderConfig) (*Encoder, error) {
	enc, err := opus.NewEncoder(SampleRate, 1, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("opus encoder: %w", err)
	}
	if err := enc.SetBitrate(c.Bitrate); err != nil {
		return nil, fmt.Errorf("opus encoder: bitrate %d: %w", c.Bitrate, err)
	}
	if err := enc.SetComplexity(c.Complexity); err != nil {
		return nil, fmt.Errorf("opus encoder: complexity %d: %w", c.Complexity, err)
	}
	if c.ExpectedLoss > 0 {
		if err := enc.SetInBandFEC(true); err != nil {
			return nil, fmt.Errorf("opus encoder: FEC: %w", err)
		}
		if err := enc.SetPacketLossPerc(c.ExpectedLoss); err != nil {
			return nil, fmt.Errorf("opus encoder: loss %d%%: %w", c.ExpectedLoss, err)
		}
	}
	return &Encoder{enc: enc}, nil
}

// Encode encodes one frame into out (wire.MaxOpusFrame bytes is always
// enough) and returns the frame's length.
func (e *Encoder) Encode(pcm []int16, out []byte) (int, error) {
	e.mu.Lock()
	n, err := e.enc.Encode(pcm, out)
	e.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("opus encode: %w", err)
	}
	return n, nil
}

// Reset starts a new burst without the previous one's state; the
// settings (bitrate, FEC, expected loss) stay.
func (e *Encoder) Reset() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.enc.Reset()
}

// SetBitrate sets the target bitrate in bit/s (6000–64000).
func (e *Encoder) SetBitrate(bps int) error {
	if bps < 6000 || bps > 64000 {
		return fmt.Errorf("opus encoder: bitrate %d bit/s, want 6000–64000", bps)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enc.SetBitrate(bps); err != nil {
		return fmt.Errorf("opus encoder: bitrate %d: %w", bps, err)
	}
	return nil
}

// SetFEC turns in-band forward error correction on or off: each frame
// then also carries a coarse copy of the previous one, which the receiver
// decodes when that one was lost. It costs bits that only a lossy path
// (UDP) can use: over TCP no frame is ever lost.
func (e *Encoder) SetFEC(on bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enc.SetInBandFEC(on); err != nil {
		return fmt.Errorf("opus encoder: FEC: %w", err)
	}
	return nil
}

// SetExpectedLoss tells the encoder how much packet loss to expect
// (percent, 0–100): the more, the more of the bitrate goes to FEC.
func (e *Encoder) SetExpectedLoss(pct int) error {
	if pct < 0 || pct > 100 {
		return fmt.Errorf("opus encoder: expected loss %d%%, want 0–100", pct)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enc.SetPacketLossPerc(pct); err != nil {
		return fmt.Errorf("opus encoder: loss %d%%: %w", pct, err)
	}
	return nil
}

// Decoder is an Opus decoder for 16 kHz mono with loss concealment.
type Decoder struct {
	dec *opus.Decoder
}

func NewDecoder() (*Decoder, error) {
	dec, err := opus.NewDecoder(SampleRate, 1)
	if err != nil {
		return nil, fmt.Errorf("opus decoder: %w", err)
	}
	return &Decoder{dec: dec}, nil
}

// Decode decodes one frame into pcm (FrameSamples long).
func (d *Decoder) Decode(frame []byte, pcm []int16) error {
	n, err := d.dec.Decode(frame, pcm[:FrameSamples])
	if err != nil {
		return fmt.Errorf("opus decode: %w", err)
	}
	if n != FrameSamples {
		return fmt.Errorf("opus decode: %d samples, want %d (not a 20 ms frame)", n, FrameSamples)
	}
	return nil
}

// Conceal fills pcm for a lost frame: from the following frame's in-band
// FEC when next is not nil (and carries FEC), else by Opus packet loss
// concealment, which extrapolates the last frames and fades out.
func (d *Decoder) Conceal(next []byte, pcm []int16) error {
	var err error
	if len(next) > 0 {
		err = d.dec.DecodeFEC(next, pcm[:FrameSamples])
	} else {
		err = d.dec.DecodePLC(pcm[:FrameSamples])
	}
	if err != nil {
		return fmt.Errorf("opus conceal: %w", err)
	}
	return nil
}

// Reset forgets the previous burst (a new speaker starts clean). The
// binding has no OPUS_RESET_STATE, so this is a fresh decoder: one
// allocation per burst, none per frame.
func (d *Decoder) Reset() error {
	dec, err := opus.NewDecoder(SampleRate, 1)
	if err != nil {
		return fmt.Errorf("opus decoder: %w", err)
	}
	d.dec = dec
	return nil
}
