package ptt

import (
	"slices"
	"testing"

	"github.com/pttagent/pttagent/agent/ptt/ptttest"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/wire"
)

// The playout hears of every change of the active group's floor, and of
// no other group's.
func TestFloorReachesThePlayout(t *testing.T) {
	p := New(Options{Account: "me", TopicPrefix: "ptt", StateDir: t.TempDir()}, Parts{Link: ptttest.NewLink()})
	snd, err := newSound(Sound{Capture: &audiotest.Capture{}, Play: &audiotest.Player{}}, Audio{
		Encoder: audio.EncoderConfig{Bitrate: 20000, Complexity: 5}, FramesPerPacket: 3,
		Jitter: audio.JitterConfig{Target: 5, Max: 15}, ToneVolume: 0.5, Volume: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	snd.floor = func(s string) { got = append(got, s) }
	p.snd = snd
	p.setActive(7)
	p.onFloorMsg(wire.Floor{Type: wire.FloorTaken, Group: 7, Speaker: "a", TimeMs: 1})
	p.onFloorMsg(wire.Floor{Type: wire.FloorTaken, Group: 8, Speaker: "b", TimeMs: 1})
	p.onFloorMsg(wire.Floor{Type: wire.FloorIdle, Group: 7, TimeMs: 2})
	p.onFloorMsg(wire.Floor{Type: wire.FloorTaken, Group: 7, Speaker: "c", TimeMs: 1}) // older than the idle: ignored
	p.setActive(8)
	if want := []string{"", "a", "", "b"}; !slices.Equal(got, want) {
		t.Errorf("the playout heard %q, want %q", got, want)
	}
}
