package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// DecodeWAV reads 16-bit PCM WAV (the first channel). Chunk sizes of the
// data chunk are not trusted: espeak-ng --stdout and ALSA's file plugin
// leave placeholders, so the data runs to the end of the input.
func DecodeWAV(b []byte) (rate int, samples []int16, err error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0, nil, errors.New("wav: not a RIFF/WAVE file")
	}
	channels := 0
	for p := b[12:]; len(p) >= 8; {
		id, size := string(p[:4]), int64(binary.LittleEndian.Uint32(p[4:8]))
		p = p[8:]
		switch id {
		case "fmt ":
			if len(p) < 16 {
				return 0, nil, errors.New("wav: short fmt chunk")
			}
			if f := binary.LittleEndian.Uint16(p); f != 1 {
				return 0, nil, fmt.Errorf("wav: format %d, want 1 (PCM)", f)
			}
			channels = int(binary.LittleEndian.Uint16(p[2:]))
			rate = int(binary.LittleEndian.Uint32(p[4:]))
			if bits := binary.LittleEndian.Uint16(p[14:]); bits != 16 {
				return 0, nil, fmt.Errorf("wav: %d-bit samples, want 16", bits)
			}
			if channels < 1 || rate < 1000 || rate > 192000 {
				return 0, nil, fmt.Errorf("wav: %d channels at %d Hz", channels, rate)
			}
		case "data":
			if channels == 0 {
				return 0, nil, errors.New("wav: data before fmt")
			}
			samples = make([]int16, 0, len(p)/(2*channels))
			for i := 0; i+2*channels <= len(p); i += 2 * channels {
				samples = append(samples, int16(binary.LittleEndian.Uint16(p[i:])))
			}
			return rate, samples, nil
		}
		// A chunk's size is followed by a pad byte when odd; a chunk that
		// claims more than is left ends the walk (its pad byte included:
		// an odd last chunk once sliced past the end).
		skip := size + size%2
		if skip > int64(len(p)) {
			break
		}
		p = p[skip:]
	}
	return 0, nil, errors.New("wav: no data chunk")
}
