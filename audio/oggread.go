package audio

import (
	"encoding/binary"
	"errors"
	"time"
)

// OggDuration reads an Ogg Opus file written by OggWriter — possibly cut
// short by a power loss — and returns how much audio its intact pages
// hold (the last good page's granule position less the pre-skip) and how
// many bytes those pages take. A recording interrupted mid-burst is thus
// kept up to its last complete page instead of being lost. It stops at the
// first page whose header or CRC is wrong.
func OggDuration(b []byte) (d time.Duration, good int, err error) {
	var granule int64
	pages := 0
	for off := 0; off+27 <= len(b); {
		p := b[off:]
		if string(p[:4]) != "OggS" || p[4] != 0 {
			break
		}
		nseg := int(p[26])
		if 27+nseg > len(p) {
			break
		}
		size := 27 + nseg
		for _, l := range p[27 : 27+nseg] {
			size += int(l)
		}
		if size > len(p) {
			break
		}
		page := p[:size]
		want := binary.LittleEndian.Uint32(page[22:])
		hdr := make([]byte, size)
		copy(hdr, page)
		binary.LittleEndian.PutUint32(hdr[22:], 0)
		if oggCRC(hdr) != want {
			break
		}
		body := page[27+nseg:]
		if pages == 0 {
			if len(body) < 19 || string(body[:8]) != "OpusHead" {
				return 0, 0, errors.New("ogg: not an Ogg Opus stream")
			}
		}
		if g := int64(binary.LittleEndian.Uint64(page[6:])); g > 0 {
			granule = g
		}
		pages++
		off += size
		good = off
	}
	if pages == 0 {
		return 0, 0, errors.New("ogg: no intact page")
	}
	return time.Duration(granule) * time.Second / 48000, good, nil
}
