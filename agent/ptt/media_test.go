package ptt_test

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/wire"
)

// fakeMedia is a UDP path that is up or down as the test says and keeps
// what it was given to send.
type fakeMedia struct {
	mu        sync.Mutex
	up        bool
	doubt     bool
	listening int64
	changed   chan struct{}
	sent      [][]byte
}

// set changes the fake's state and tells push-to-talk, as State's channel
// does.
func (m *fakeMedia) set(f func(m *fakeMedia)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *fakeMedia) Send(group int64, voice []byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.up {
		return false
	}
	m.sent = append(m.sent, slices.Clone(voice))
	return true
}
func (m *fakeMedia) Listen(int64)     {}
func (m *fakeMedia) ExpectVoice(bool) {}
func (m *fakeMedia) RoundTrip() (time.Duration, time.Duration, bool) {
	return 0, 0, false
}
func (m *fakeMedia) Brings(group int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.up && !m.doubt && m.listening == group
}
func (m *fakeMedia) State() (bool, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.up, m.changed
}

func (m *fakeMedia) packets(t *testing.T) []wire.VoicePacket {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []wire.VoicePacket
	for _, b := range m.sent {
		var p wire.VoicePacket
		if err := wire.DecodeVoicePacket(b, &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// A burst that starts with UDP up goes in packets of
// audio.udp_frames_per_packet frames, each but the first led by the
// previous packet's last frame; with UDP down the same handset sends
// frames_per_packet frames per MQTT message, without the repeat.
func TestUDPBurstPacketSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &fakeMedia{up: true, changed: make(chan struct{})}
		r := start(t, func(_ *rig, o *ptt.Options, p *ptt.Parts) {
			o.Audio.UDPFramesPerPacket = 2
			p.Media = m
		})
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted})
		r.sleep(time.Second)
		r.release(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorIdle, TimeMs: time.Now().UnixMilli()})
		ps := m.packets(t)
		if len(ps) < 20 || len(r.voicePackets(patrol)) != 0 {
			t.Fatalf("%d packets over UDP, %d over MQTT; want ~25 over UDP only", len(ps), len(r.voicePackets(patrol)))
		}
		for i, p := range ps[:len(ps)-1] {
			want := wire.VoicePacket{Seq: 0, NFrames: 2}
			if i > 0 {
				want = wire.VoicePacket{Seq: uint32(2*i - 1), NFrames: 3}
			}
			if p.Seq != want.Seq || p.NFrames != want.NFrames {
				t.Fatalf("UDP packet %d: seq %d, %d frames; want seq %d, %d frames", i, p.Seq, p.NFrames, want.Seq, want.NFrames)
			}
			if i > 0 && string(p.Frames[0]) != string(ps[i-1].Frames[ps[i-1].NFrames-1]) {
				t.Fatalf("UDP packet %d does not repeat the last frame of the one before", i)
			}
		}

		m.set(func(m *fakeMedia) { m.up = false })
		r.settle()
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted})
		r.sleep(time.Second)
		ps = r.voicePackets(patrol)
		if len(ps) < 14 {
			t.Fatalf("%d packets over MQTT in a second, want ~16", len(ps))
		}
		for i, p := range ps {
			if p.Seq != uint32(3*i) || p.NFrames != 3 {
				t.Fatalf("MQTT packet %d: seq %d, %d frames; want seq %d, 3 frames", i, p.Seq, p.NFrames, 3*i)
			}
		}
	})
}

// The broker's copy of the active group's voice is taken exactly while UDP
// does not bring it: the path down or in doubt, or the relay not (yet)
// sending this group.
func TestBrokerVoiceFollowsTheUDPPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &fakeMedia{changed: make(chan struct{})}
		r := start(t, func(_ *rig, _ *ptt.Options, p *ptt.Parts) { p.Media = m })
		voice := wire.GroupVoice(r.topics.Prefix, patrol, "+")
		for _, step := range []struct {
			what   string
			set    func(m *fakeMedia)
			broker bool
		}{
			{"down", func(m *fakeMedia) {}, true},
			{"up, the group not confirmed", func(m *fakeMedia) { m.up = true }, true},
			{"up and confirmed", func(m *fakeMedia) { m.listening = patrol }, false},
			{"in doubt", func(m *fakeMedia) { m.doubt = true }, true},
			{"answered again", func(m *fakeMedia) { m.doubt = false }, false},
			{"another group confirmed", func(m *fakeMedia) { m.listening = harbour }, true},
			{"back", func(m *fakeMedia) { m.listening = patrol }, false},
			{"down", func(m *fakeMedia) { m.up = false }, true},
		} {
			m.set(step.set)
			r.settle()
			if got := slices.Contains(r.link.Subscribed(), voice); got != step.broker {
				t.Errorf("%s: subscribed to the broker's voice %v, want %v", step.what, got, step.broker)
			}
		}
	})
}
