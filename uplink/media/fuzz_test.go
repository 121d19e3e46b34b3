package media

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// Whatever arrives from the network — raw bytes from anyone, or bytes
// sealed with the session's keys (a relay gone wrong) — the client must
// not crash, and must hand OnVoice nothing that was not authenticated.
func FuzzClientHandle(f *testing.F) {
	p := newPair(f)
	pkt := p.packets(f, 1, benchVoice())[0]
	forged := append([]byte(nil), pkt...)
	forged[len(forged)-1] ^= 1
	f.Add(forged, false)
	f.Add(pkt[12:], true)
	f.Add([]byte{0x80, 0xc9, 0, 1, 0, 0, 0x12, 0x34}, true) // an empty RR
	f.Add([]byte{0x81, 0xcc, 0, 6, 0, 0, 0x12, 0x34, 'P', 'T', 'T', '1', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, true)
	f.Fuzz(func(t *testing.T, b []byte, seal bool) {
		delivered := false
		p.c.o.OnVoice = func(_ int64, speaker string, payload []byte) {
			delivered = true
			if speaker == "" {
				t.Fatal("voice without a speaker delivered")
			}
		}
		if !seal {
			p.c.handle(b, p.from, time.Now())
			if delivered && len(b) > 0 {
				// Only a packet the relay's Sender sealed can open, and
				// the seeds hold none.
				t.Fatalf("unauthenticated bytes delivered: % x", b)
			}
			return
		}
		p.tx.mu.Lock()
		var sealed []byte
		var err error
		if IsRTCP(b) && len(b) >= 8 {
			binary.BigEndian.PutUint32(b[4:], p.tx.ssrc)
			sealed, err = p.tx.ctx.EncryptRTCP(nil, b, nil)
		} else {
			hdr := rtp.Header{Version: 2, PayloadType: PayloadType, SequenceNumber: p.tx.seq, SSRC: p.tx.ssrc}
			p.tx.seq++
			plain, _ := hdr.Marshal()
			sealed, err = p.tx.ctx.EncryptRTP(nil, append(plain, b...), &hdr)
		}
		p.tx.mu.Unlock()
		if err == nil {
			p.c.handle(sealed, p.from, time.Now())
		}
	})
}
