package board

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseBench(t *testing.T) {
	for _, tc := range []struct {
		line string
		want benchCommand
		ok   bool
	}{
		{"ptt down", benchCommand{key: PTT, op: benchDown}, true},
		{"  ptt   release ", benchCommand{key: PTT, op: benchUp}, true},
		{"volume_up tap", benchCommand{key: VolumeUp, op: benchTap, hold: 100 * time.Millisecond}, true},
		{"volume_up tap 60000", benchCommand{key: VolumeUp, op: benchTap, hold: time.Minute}, true},
		{"ptt tap 0", benchCommand{key: PTT, op: benchTap}, true},
		{"ptt tap 60001", benchCommand{}, false},
		// Read as a duration with "ms" appended, these were taken: 1.005 s,
		// 1.5 ms.
		{"ptt tap 1s5", benchCommand{}, false},
		{"ptt tap 1.5", benchCommand{}, false},
		{"ptt tap +5", benchCommand{}, false},
		{"ptt tap -5", benchCommand{}, false},
		{"ptt tap 9223372036855", benchCommand{}, false},
		{"ptt down 5", benchCommand{}, false},
		{"ptt", benchCommand{}, false},
		{"shout now", benchCommand{}, false},
		{"ptt sideways", benchCommand{}, false},
		{"ptt tap 5 6", benchCommand{}, false},
	} {
		got, err := parseBench(tc.line)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %+v, %v", tc.line, got, err)
		}
	}
}

// Whoever may write to the bench socket writes any bytes: a line is a
// known key with a known action and a tap of 0–60 s, or an error.
func FuzzParseBench(f *testing.F) {
	for _, s := range []string{"ptt down", "ptt up", "volume_up tap 5", "group_up press", "ptt tap 1s5", "ptt tap 99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := parseBench(line)
		if err != nil {
			if c != (benchCommand{}) {
				t.Fatalf("%q: error %v with %+v", line, err, c)
			}
			return
		}
		if !slices.Contains(KnownKeys, c.key) || c.op < benchDown || c.op > benchTap || c.hold < 0 || c.hold > maxTap ||
			(c.op != benchTap && c.hold != 0) {
			t.Fatalf("%q: accepted as %+v", line, c)
		}
		if f := strings.Fields(line); len(f) == 3 && strings.TrimLeft(f[2], "0123456789") != "" {
			t.Fatalf("%q: accepted a time that is not plain milliseconds", line)
		}
	})
}
