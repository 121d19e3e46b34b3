package ogg

import (
	"encoding/binary"
	"errors"
	"time"
)

// Repair takes an Ogg Opus file written by Writer — possibly cut
// short by a power loss — and returns it up to its last intact page, with
// that page marked end of stream, and how much audio it holds (the last
// page's granule position: the packets' durations, pre-skip included, as
// the burst's frames × 20 ms). A recording interrupted mid-burst is thus
// kept up to its last complete page instead of being lost. It stops at the
// first page whose header or CRC is wrong. b is not modified.
func Repair(b []byte) (fixed []byte, d time.Duration, err error) {
	var granule int64
	pages, good, last := 0, 0, 0
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
		if size > len(p) || pageCRC(p[:size]) != binary.LittleEndian.Uint32(p[22:]) {
			break
		}
		// One logical stream, pages in sequence: anything else is not ours.
		if pages > 0 && (binary.LittleEndian.Uint32(p[14:]) != binary.LittleEndian.Uint32(b[14:]) ||
			binary.LittleEndian.Uint32(p[18:]) != uint32(pages)) {
			break
		}
		if pages == 0 {
			if body := p[27+nseg : size]; len(body) < 19 || string(body[:8]) != "OpusHead" {
				return nil, 0, errors.New("ogg: not an Ogg Opus stream")
			}
		}
		if g := int64(binary.LittleEndian.Uint64(p[6:])); g > 0 {
			granule = g
		}
		pages++
		last, good = off, off+size
		off += size
	}
	if pages == 0 {
		return nil, 0, errors.New("ogg: no intact page")
	}
	fixed = append([]byte(nil), b[:good]...)
	if page := fixed[last:]; page[5]&0x04 == 0 {
		page[5] |= 0x04
		binary.LittleEndian.PutUint32(page[22:], pageCRC(page))
	}
	return fixed, time.Duration(granule) * time.Second / 48000, nil
}

// pageCRC is the CRC of a whole page with its CRC field taken as zero.
func pageCRC(page []byte) uint32 {
	var crc uint32
	for i, c := range page {
		if i >= 22 && i < 26 {
			c = 0
		}
		crc = crc<<8 ^ oggTable[byte(crc>>24)^c]
	}
	return crc
}
