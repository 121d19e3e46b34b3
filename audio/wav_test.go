package audio_test

import (
	"encoding/binary"
	"testing"

	"github.com/pttagent/pttagent/audio"
)

// wav builds a RIFF/WAVE file from chunks (id, body); odd bodies get
// their pad byte unless the chunk is last and pad is false.
func wav(pad bool, chunks ...[2]string) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	for i, c := range chunks {
		b = append(b, c[0]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(c[1])))
		b = append(b, c[1]...)
		if len(c[1])%2 == 1 && (pad || i < len(chunks)-1) {
			b = append(b, 0)
		}
	}
	return b
}

func fmtChunk(channels, rate int) [2]string {
	b := binary.LittleEndian.AppendUint16(nil, 1)
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*2*channels))
	b = binary.LittleEndian.AppendUint16(b, uint16(2*channels))
	b = binary.LittleEndian.AppendUint16(b, 16)
	return [2]string{"fmt ", string(b)}
}

func TestDecodeWAV(t *testing.T) {
	pcm := string([]byte{1, 0, 2, 0, 0xff, 0xff})
	for _, tc := range []struct {
		name    string
		in      []byte
		rate    int
		samples []int16
		ok      bool
	}{
		{"mono", wav(true, fmtChunk(1, 22050), [2]string{"data", pcm}), 22050, []int16{1, 2, -1}, true},
		{"stereo keeps the first channel", wav(true, fmtChunk(2, 16000), [2]string{"data", pcm + "\x03\x00"}), 16000, []int16{1, -1}, true},
		{"an odd chunk before the data is padded", wav(true, [2]string{"LIST", "abc"}, fmtChunk(1, 8000), [2]string{"data", pcm}), 8000, []int16{1, 2, -1}, true},
		// An odd last chunk without its pad byte once sliced past the end
		// of the input: a panic on a file from anywhere.
		{"an odd last chunk without its pad", wav(false, fmtChunk(1, 8000), [2]string{"LIST", "abc"}), 0, nil, false},
		{"no data", wav(true, fmtChunk(1, 8000)), 0, nil, false},
		{"data before fmt", wav(true, [2]string{"data", pcm}, fmtChunk(1, 8000)), 0, nil, false},
		{"not RIFF", []byte("RIFX\x00\x00\x00\x00WAVE"), 0, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rate, samples, err := audio.DecodeWAV(tc.in)
			if (err == nil) != tc.ok || rate != tc.rate || len(samples) != len(tc.samples) {
				t.Fatalf("got %d Hz %v, %v", rate, samples, err)
			}
			for i := range samples {
				if samples[i] != tc.samples[i] {
					t.Fatalf("samples %v, want %v", samples, tc.samples)
				}
			}
		})
	}
}

// WAV comes from espeak-ng, or from whatever file a technician points a
// prompt at: any input gives samples or an error, never a panic, and the
// samples are no more than the input holds.
func FuzzDecodeWAV(f *testing.F) {
	f.Add(wav(true, fmtChunk(1, 22050), [2]string{"data", "\x01\x00\x02\x00"}))
	f.Add(wav(false, fmtChunk(1, 8000), [2]string{"LIST", "abc"}))
	f.Add(wav(true, [2]string{"LIST", "a"}, fmtChunk(3, 192000), [2]string{"data", "\x01\x00\x02\x00\x03\x00\x04"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		rate, samples, err := audio.DecodeWAV(b)
		if err != nil {
			return
		}
		if rate < 1000 || rate > 192000 || 2*len(samples) > len(b) {
			t.Fatalf("%d Hz, %d samples from %d bytes", rate, len(samples), len(b))
		}
	})
}
