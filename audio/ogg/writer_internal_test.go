package ogg

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestOggCRC(t *testing.T) {
	// The standard check value of CRC-32 with polynomial 0x04c11db7, no
	// reflection, init 0, no final XOR.
	if got := oggCRC([]byte("123456789")); got != 0x89a1897f {
		t.Fatalf("crc %08x, want 89a1897f", got)
	}
}

func TestOggPages(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Options{Serial: 9, PacketsPerPage: 2})
	if err != nil {
		t.Fatal(err)
	}
	w.WritePacket(bytes.Repeat([]byte{1}, 255), 960) // lacing 255, 0
	w.WritePacket([]byte{2, 3}, 960)
	w.WritePacket([]byte{4}, 960)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket([]byte{5}, 960); err == nil {
		t.Fatal("write after close")
	}
	type page struct {
		flags   byte
		granule int64
		seq     uint32
		segs    []byte
	}
	var pages []page
	for b := buf.Bytes(); len(b) > 0; {
		if string(b[:4]) != "OggS" {
			t.Fatalf("page %d: no capture pattern", len(pages))
		}
		n := int(b[26])
		size := 27 + n
		for _, s := range b[27 : 27+n] {
			size += int(s)
		}
		pg := append([]byte(nil), b[:size]...)
		crc := binary.LittleEndian.Uint32(pg[22:])
		binary.LittleEndian.PutUint32(pg[22:], 0)
		if oggCRC(pg) != crc {
			t.Fatalf("page %d: bad CRC", len(pages))
		}
		pages = append(pages, page{b[5], int64(binary.LittleEndian.Uint64(b[6:])), binary.LittleEndian.Uint32(b[18:]), append([]byte(nil), b[27:27+n]...)})
		if binary.LittleEndian.Uint32(b[14:]) != 9 {
			t.Fatal("serial")
		}
		b = b[size:]
	}
	if len(pages) != 4 {
		t.Fatalf("%d pages, want head, tags, 2 audio", len(pages))
	}
	want := []page{
		{0x02, 0, 0, []byte{19}},
		{0, 0, 1, nil},
		{0, 1920, 2, []byte{255, 0, 2}},
		{0x04, 2880, 3, []byte{1}},
	}
	for i, p := range pages {
		if i == 1 {
			continue // tags length depends on the vendor string
		}
		if p.flags != want[i].flags || p.granule != want[i].granule || p.seq != want[i].seq || !bytes.Equal(p.segs, want[i].segs) {
			t.Errorf("page %d: %+v, want %+v", i, p, want[i])
		}
	}
}
