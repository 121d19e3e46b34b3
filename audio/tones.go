package audio

import (
	"fmt"
	"math"
)

// Tone names a signal tone. The floor machine asks for them (agent/floor's
// tones have the same names).
type Tone string

const (
	ToneGrant   Tone = "grant"   // talk now: two rising notes
	ToneDeny    Tone = "deny"    // not now: two low notes
	ToneQueued  Tone = "queued"  // wait your turn: three short pips
	ToneRevoke  Tone = "revoke"  // the floor was taken from you: three falling notes
	ToneEnd     Tone = "end"     // a burst ended: one short beep ("roger beep")
	ToneWarning Tone = "warning" // talk time nearly over: three fast high pips
	ToneVolume  Tone = "volume"  // the volume changed: one short tick at the new level
	ToneNotice  Tone = "notice"  // a notice arrived (tts off; with it on, it is read): a two-note chime
	// ToneEmergency is a two-note siren no floor tone resembles; an
	// emergency call starts with it, a few times over.
	ToneEmergency Tone = "emergency"
)

// Tones are all tone names.
var Tones = []Tone{ToneGrant, ToneDeny, ToneQueued, ToneRevoke, ToneEnd, ToneWarning, ToneVolume, ToneNotice, ToneEmergency}

type note struct {
	hz, ms float64 // hz 0: a pause
}

var toneNotes = map[Tone][]note{
	ToneGrant:     {{880, 60}, {0, 20}, {1320, 80}},
	ToneDeny:      {{400, 120}, {0, 40}, {400, 120}},
	ToneQueued:    {{660, 50}, {0, 50}, {660, 50}, {0, 50}, {660, 50}},
	ToneRevoke:    {{1320, 80}, {880, 80}, {440, 120}},
	ToneEnd:       {{1000, 80}},
	ToneWarning:   {{1500, 40}, {0, 40}, {1500, 40}, {0, 40}, {1500, 40}},
	ToneVolume:    {{1200, 50}},
	ToneNotice:    {{988, 120}, {0, 30}, {784, 200}},
	ToneEmergency: {{1400, 100}, {900, 100}, {1400, 100}, {900, 100}},
}

// RenderTone generates tone at volume (0–1 of full scale), padded with
// silence to whole 20 ms frames. Notes fade in and out over 4 ms so they
// do not click.
func RenderTone(t Tone, volume float64) ([]int16, error) {
	notes, ok := toneNotes[t]
	if !ok {
		return nil, fmt.Errorf("tone %q: use one of %v", t, Tones)
	}
	volume = math.Max(0, math.Min(1, volume))
	var out []int16
	const fade = 4 * SampleRate / 1000
	for _, n := range notes {
		k := int(n.ms * SampleRate / 1000)
		for i := 0; i < k; i++ {
			if n.hz == 0 {
				out = append(out, 0)
				continue
			}
			env := math.Min(1, math.Min(float64(i)/fade, float64(k-1-i)/fade))
			v := volume * env * math.Sin(2*math.Pi*n.hz*float64(i)/SampleRate)
			out = append(out, int16(v*32767))
		}
	}
	if r := len(out) % FrameSamples; r != 0 {
		out = append(out, make([]int16, FrameSamples-r)...)
	}
	return out, nil
}
