package ogg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Writer writes an Ogg Opus file (RFC 7845 on RFC 3533 pages) — the
// burst recordings the platform stores and plays back. hraban/opus has no
// Ogg writer and the Go Ogg writers that exist come inside WebRTC stacks
// built around RTP packets, so this one is written here: the format is a
// header page (OpusHead), a comment page (OpusTags), then pages of Opus
// packets with their end time as granule position, each with a CRC. The
// tests check the files with opusinfo and opusdec (opus-tools).
type Writer struct {
	w       io.Writer
	serial  uint32
	pageSeq uint32
	granule int64 // 48 kHz samples at the end of the last packet added
	perPage int
	segs    []byte // lacing values of the open page
	body    []byte
	packets int
	page    []byte
	closed  bool
	err     error
}

// Options describe the stream.
type Options struct {
	// Serial identifies the logical stream; any value, random is customary.
	Serial uint32
	// PreSkip is how many 48 kHz samples a player drops at the start: the
	// encoder's lookahead (libopus at 16 kHz: 104 samples = 312 at 48 kHz,
	// the default).
	PreSkip uint16
	// InputRate is the rate the audio was captured at (informational;
	// default 16000).
	InputRate uint32
	// Vendor names the encoder in OpusTags (default "pttagent").
	Vendor string
	// Comments are "KEY=value" tags (e.g. TITLE, ARTIST, DATE).
	Comments []string
	// PacketsPerPage bounds a page (default 50: one second of 20 ms
	// frames), so a recording cut short by a power loss loses at most that.
	PacketsPerPage int
}

// NewWriter writes the two header pages and returns a writer for the
// audio packets.
func NewWriter(w io.Writer, opt Options) (*Writer, error) {
	if opt.PreSkip == 0 {
		opt.PreSkip = 312
	}
	if opt.InputRate == 0 {
		opt.InputRate = 16000 // the handset's rate (audio.SampleRate)
	}
	if opt.Vendor == "" {
		opt.Vendor = "pttagent"
	}
	if opt.PacketsPerPage <= 0 {
		opt.PacketsPerPage = 50
	}
	o := &Writer{w: w, serial: opt.Serial, perPage: min(opt.PacketsPerPage, 255), page: make([]byte, 0, 27+255+255*255)}
	// RFC 7845 §5.1: the identification header, alone on the first page.
	head := []byte("OpusHead")
	head = append(head, 1, 1) // version 1, mono
	head = binary.LittleEndian.AppendUint16(head, opt.PreSkip)
	head = binary.LittleEndian.AppendUint32(head, opt.InputRate)
	head = binary.LittleEndian.AppendUint16(head, 0) // output gain
	head = append(head, 0)                           // channel mapping family 0
	if err := o.writePage([]byte{byte(len(head))}, head, 0, 0x02); err != nil {
		return nil, err
	}
	// §5.2: the comment header, on its own page(s).
	tags := []byte("OpusTags")
	tags = binary.LittleEndian.AppendUint32(tags, uint32(len(opt.Vendor)))
	tags = append(tags, opt.Vendor...)
	tags = binary.LittleEndian.AppendUint32(tags, uint32(len(opt.Comments)))
	for _, c := range opt.Comments {
		tags = binary.LittleEndian.AppendUint32(tags, uint32(len(c)))
		tags = append(tags, c...)
	}
	if len(tags) > 255*254 {
		return nil, errors.New("ogg: comments too long")
	}
	if err := o.writePage(lacing(nil, len(tags)), tags, 0, 0); err != nil {
		return nil, err
	}
	return o, nil
}

// WritePacket adds one Opus packet lasting samples48k (960 for 20 ms).
func (o *Writer) WritePacket(pkt []byte, samples48k int) error {
	if o.err != nil {
		return o.err
	}
	if o.closed {
		return errors.New("ogg: write after close")
	}
	if len(pkt) == 0 || len(pkt) > 255*254 {
		return fmt.Errorf("ogg: packet of %d bytes", len(pkt))
	}
	need := len(pkt)/255 + 1
	if o.packets > 0 && (len(o.segs)+need > 255 || o.packets >= o.perPage) {
		if err := o.flush(0); err != nil {
			return err
		}
	}
	o.segs = lacing(o.segs, len(pkt))
	o.body = append(o.body, pkt...)
	o.packets++
	o.granule += int64(samples48k)
	return nil
}

// Close writes the last page, marked end of stream. It does not close the
// underlying writer.
func (o *Writer) Close() error {
	if o.closed {
		return o.err
	}
	o.closed = true
	if o.err != nil {
		return o.err
	}
	return o.flush(0x04)
}

// Granule is the stream's length so far in 48 kHz samples.
func (o *Writer) Granule() int64 { return o.granule }

func (o *Writer) flush(flags byte) error {
	err := o.writePage(o.segs, o.body, o.granule, flags)
	o.segs, o.body, o.packets = o.segs[:0], o.body[:0], 0
	return err
}

// lacing appends the segment table entries of a packet of n bytes: 255s,
// then the remainder (0 when n is a multiple of 255).
func lacing(segs []byte, n int) []byte {
	for ; n >= 255; n -= 255 {
		segs = append(segs, 255)
	}
	return append(segs, byte(n))
}

func (o *Writer) writePage(segs, body []byte, granule int64, flags byte) error {
	if o.err != nil {
		return o.err
	}
	p := append(o.page[:0], "OggS"...)
	p = append(p, 0, flags)
	p = binary.LittleEndian.AppendUint64(p, uint64(granule))
	p = binary.LittleEndian.AppendUint32(p, o.serial)
	p = binary.LittleEndian.AppendUint32(p, o.pageSeq)
	p = binary.LittleEndian.AppendUint32(p, 0) // CRC, filled below
	p = append(p, byte(len(segs)))
	p = append(p, segs...)
	p = append(p, body...)
	binary.LittleEndian.PutUint32(p[22:], oggCRC(p))
	o.page = p
	o.pageSeq++
	if _, err := o.w.Write(p); err != nil {
		o.err = fmt.Errorf("ogg: write page %d: %w", o.pageSeq-1, err)
	}
	return o.err
}

// Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial value and
// final XOR 0 (RFC 3533 §6). hash/crc32 only does the reflected form.
var oggTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, c := range b {
		crc = crc<<8 ^ oggTable[byte(crc>>24)^c]
	}
	return crc
}
