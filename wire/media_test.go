package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func testSession() MediaSession {
	return MediaSession{ID: "0123456789abcdef", Addr: "203.0.113.5:5004", SSRC: 0xdeadbeef, Profile: MediaProfile,
		Up:   MediaKey{Key: bytes.Repeat([]byte{1}, MediaKeyLen), Salt: bytes.Repeat([]byte{2}, MediaSaltLen)},
		Down: MediaKey{Key: bytes.Repeat([]byte{3}, MediaKeyLen), Salt: bytes.Repeat([]byte{4}, MediaSaltLen)},
		TTL:  3600, TS: 1763712000123}
}

func TestMediaSessionRoundTrip(t *testing.T) {
	in := testSession()
	got, err := DecodeMediaSession(in.Encode())
	if err != nil {
		t.Fatal(err)
	}
	in.V = 1
	if got.ID != in.ID || got.Addr != in.Addr || got.SSRC != in.SSRC || !bytes.Equal(got.Up.Key, in.Up.Key) ||
		!bytes.Equal(got.Down.Salt, in.Down.Salt) || got.TTL != in.TTL {
		t.Errorf("got %+v, want %+v", got, in)
	}
	refusal := MediaSession{ID: "0123456789abcdef", Error: "unavailable"}
	if got, err := DecodeMediaSession(refusal.Encode()); err != nil || got.Error != "unavailable" {
		t.Errorf("refusal: %+v %v", got, err)
	}
	if s := string(refusal.Encode()); strings.Contains(s, "up") || strings.Contains(s, "key") {
		t.Errorf("a refusal carries no keys: %s", s)
	}
	r, err := DecodeMediaRequest(MediaRequest{ID: "abcdefgh12"}.Encode())
	if err != nil || r.ID != "abcdefgh12" {
		t.Errorf("request: %+v %v", r, err)
	}
}

func TestMediaSessionRefusesWhatItCannotUse(t *testing.T) {
	for name, f := range map[string]func(*MediaSession){
		"no id":         func(s *MediaSession) { s.ID = "" },
		"short id":      func(s *MediaSession) { s.ID = "abc" },
		"odd id":        func(s *MediaSession) { s.ID = "abcdefgh/#" },
		"no port":       func(s *MediaSession) { s.Addr = "203.0.113.5" },
		"port 0":        func(s *MediaSession) { s.Addr = "203.0.113.5:0" },
		"no host":       func(s *MediaSession) { s.Addr = ":5004" },
		"ssrc 0":        func(s *MediaSession) { s.SSRC = 0 },
		"profile":       func(s *MediaSession) { s.Profile = "AES_CM_128_HMAC_SHA1_80" },
		"short key":     func(s *MediaSession) { s.Up.Key = s.Up.Key[:8] },
		"no down salt":  func(s *MediaSession) { s.Down.Salt = nil },
		"ttl 0":         func(s *MediaSession) { s.TTL = 0 },
		"ttl a year":    func(s *MediaSession) { s.TTL = 365 * 86400 },
		"long error":    func(s *MediaSession) { s.Error = strings.Repeat("x", 65) },
		"not version 1": nil,
	} {
		s := testSession()
		var b []byte
		if f == nil {
			b = []byte(strings.Replace(string(s.Encode()), `"v":1`, `"v":2`, 1))
		} else {
			f(&s)
			b = s.Encode()
		}
		if _, err := DecodeMediaSession(b); err == nil {
			t.Errorf("%s: accepted %s", name, b)
		}
	}
	if _, err := DecodeMediaSession(bytes.Repeat([]byte(" "), MaxMediaMessage+1)); err == nil {
		t.Error("an oversized answer was parsed")
	}
}

func TestMediaVoiceLayout(t *testing.T) {
	voice := AppendVoicePacket(nil, &VoicePacket{Burst: 9, Seq: 3, NFrames: 1, Frames: [MaxVoiceFrames][]byte{{0xf8, 1}}})
	b := AppendMediaVoice(nil, 80000528, "dev-0001", voice)
	want := append([]byte{1, 8, 0, 0, 0, 0, 0x04, 0xc4, 0xb6, 0x10}, "dev-0001"...)
	if !bytes.HasPrefix(b, want) || !bytes.Equal(b[len(want):], voice) {
		t.Fatalf("layout % x", b)
	}
	g, sp, v, err := DecodeMediaVoice(b)
	if err != nil || g != 80000528 || string(sp) != "dev-0001" || !bytes.Equal(v, voice) {
		t.Errorf("decoded %d %q %x %v", g, sp, v, err)
	}
	if _, _, _, err := DecodeMediaVoice(b[:12]); !errors.Is(err, ErrMediaShort) {
		t.Errorf("cut in the speaker: %v", err)
	}
	buf := make([]byte, 0, MaxMediaVoice)
	if n := testing.AllocsPerRun(100, func() {
		x := AppendMediaVoice(buf[:0], 5, "dev-0001", voice)
		if _, _, _, err := DecodeMediaVoice(x); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per packet, want 0", n)
	}
}

func TestMediaAppData(t *testing.T) {
	k := MediaKeepAlive{Token: 1 << 40, Listen: 80000528}
	if got, err := DecodeMediaKeepAlive(AppendMediaKeepAlive(nil, k)); err != nil || got != k {
		t.Errorf("keep-alive %+v %v", got, err)
	}
	d := MediaLink{FractionLost: 26, Listeners: 3, QueueMs: 340, Jitter: 960, DownQueueMs: 520}
	b := AppendMediaLink(nil, d)
	if got, err := DecodeMediaLink(b); err != nil || got != d || !bytes.Equal(b, []byte{26, 3, 1, 0x54, 0, 0, 3, 0xc0, 2, 8}) {
		t.Errorf("link report % x: %+v %v", b, got, err)
	}
	// A report from before the downlink queue: no DownQueueMs.
	old := d
	old.DownQueueMs = 0
	if got, err := DecodeMediaLink(b[:8]); err != nil || got != old {
		t.Errorf("8-byte link report: %+v %v", got, err)
	}
	if _, err := DecodeMediaKeepAlive(make([]byte, 15)); err == nil {
		t.Error("short keep-alive accepted")
	}
	if _, err := DecodeMediaLink(b[:7]); err == nil {
		t.Error("short link report accepted")
	}
}

func FuzzDecodeMediaSession(f *testing.F) {
	f.Add(testSession().Encode())
	f.Add(MediaSession{ID: "0123456789abcdef", Error: "unavailable"}.Encode())
	f.Add([]byte(`{"v":1,"id":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeMediaSession(b)
		if err != nil {
			return
		}
		// What is accepted must be usable: re-encoded, it is accepted again
		// and the same.
		again, err := DecodeMediaSession(s.Encode())
		if err != nil || again.ID != s.ID || again.Addr != s.Addr || again.SSRC != s.SSRC || !bytes.Equal(again.Up.Key, s.Up.Key) {
			t.Fatalf("re-encoded %+v → %+v %v", s, again, err)
		}
		if s.Error == "" && (len(s.Up.Key) != MediaKeyLen || len(s.Down.Salt) != MediaSaltLen) {
			t.Fatalf("accepted keys of the wrong size: %+v", s)
		}
	})
}

func FuzzDecodeMediaRequest(f *testing.F) {
	f.Add(MediaRequest{ID: "0123456789abcdef", TS: 5}.Encode())
	f.Add([]byte(`{"v":1,"id":"../../x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeMediaRequest(b)
		if err != nil {
			return
		}
		if checkMediaID(r.ID) != nil {
			t.Fatalf("accepted id %q", r.ID)
		}
	})
}

func FuzzDecodeMediaVoice(f *testing.F) {
	voice := AppendVoicePacket(nil, &VoicePacket{Burst: 9, NFrames: 1, Frames: [MaxVoiceFrames][]byte{{0xf8}}})
	f.Add(AppendMediaVoice(nil, 7, "dev-1", voice))
	f.Add(AppendMediaVoice(nil, -1, "", nil))
	f.Add([]byte{1, 200, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, sp, v, err := DecodeMediaVoice(b)
		if err != nil {
			return
		}
		if again := AppendMediaVoice(nil, g, string(sp), v); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, was %x", again, b)
		}
	})
}
