package pttsim

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// Bytes from anyone on the network: the relay must not crash, answer, or
// take any of them for a device's voice or control.
func FuzzRelayHandle(f *testing.F) {
	s, err := New(Options{MediaAddr: "127.0.0.1:0", FileDir: f.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	r, err := s.listenMedia()
	if err != nil {
		f.Fatal(err)
	}
	defer r.conn.Close()
	ns, err := r.newSession("d1")
	if err != nil {
		f.Fatal(err)
	}
	ssrc := []byte{byte(ns.ssrc >> 24), byte(ns.ssrc >> 16), byte(ns.ssrc >> 8), byte(ns.ssrc)}
	f.Add(append([]byte{0x80, 0x60, 0, 1, 0, 0, 0, 0}, append(ssrc, make([]byte, 40)...)...))
	f.Add(append([]byte{0x81, 0xcc, 0, 6}, append(ssrc, []byte("PTT1................................")...)...))
	f.Add([]byte{0x80})
	from := netip.MustParseAddrPort("127.0.0.1:9")
	f.Fuzz(func(t *testing.T, b []byte) {
		r.handle(b, from, time.Now())
		r.mu.Lock()
		st := r.stats
		addr := r.byAcct["d1"].cur.addr
		r.mu.Unlock()
		if st.VoiceIn != 0 || st.ControlIn != 0 || st.Echoes != 0 || addr.IsValid() {
			t.Fatalf("unauthenticated bytes taken: % x (stats %+v, address %v)", b, st, addr)
		}
	})
}
