package httpapi_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/pttagent/pttagent/uplink/httpapi"
)

func TestIntAcceptsWhatThePlatformsSend(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{`0`, 0, true}, {`105`, 105, true}, {`"105"`, 105, true}, {`"0"`, 0, true}, {`null`, 0, true}, {`""`, 0, true},
		{`100103`, 100103, true}, {`"100103"`, 100103, true}, {`1.0`, 1, true}, {`1732772565`, 1732772565, true}, {`-3`, -3, true},
		{`1.5`, 0, false}, {`"abc"`, 0, false}, {`true`, 0, false}, {`{}`, 0, false}, {`[]`, 0, false}, {`1e300`, 0, false}, {`"1 2"`, 0, false},
	} {
		var v httpapi.Int
		err := json.Unmarshal([]byte(tc.in), &v)
		if (err == nil) != tc.ok || (tc.ok && int64(v) != tc.want) {
			t.Errorf("%s: got %d, %v; want %d, ok=%v", tc.in, v, err, tc.want, tc.ok)
		}
	}
}

func TestFloatStrYN(t *testing.T) {
	var f httpapi.Float
	if err := json.Unmarshal([]byte(`"22.51151512"`), &f); err != nil || f != 22.51151512 {
		t.Errorf("float from string: %v %v", f, err)
	}
	if err := json.Unmarshal([]byte(`null`), &f); err != nil || !math.IsNaN(float64(f)) {
		t.Errorf("null float: %v %v", f, err)
	}
	var s httpapi.Str
	if err := json.Unmarshal([]byte(`103`), &s); err != nil || s != "103" {
		t.Errorf("str from number: %q %v", s, err)
	}
	if err := json.Unmarshal([]byte(`{}`), &s); err == nil {
		t.Error("object accepted as text")
	}
	for in, want := range map[httpapi.YN]bool{"Y": true, "N": false, "n": false, "": true} {
		if in.Yes() != want {
			t.Errorf("YN %q", in)
		}
	}
}

func FuzzInt(f *testing.F) {
	for _, s := range []string{`0`, `"105"`, `null`, `1.5`, `"abc"`, `1e3`, `"-0"`, `9007199254740993`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v httpapi.Int
		if json.Unmarshal(b, &v) == nil {
			// Whatever was accepted survives a round trip as a number.
			out, _ := json.Marshal(int64(v))
			var w httpapi.Int
			if err := json.Unmarshal(out, &w); err != nil || w != v {
				t.Fatalf("%s → %d → %s → %d %v", b, v, out, w, err)
			}
		}
	})
}
