package gps

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// Sentences from the NMEA 0183 literature with their real checksums.
const (
	rmc = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
	gga = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
)

// frame builds "$body*hh" with the right checksum.
func frame(body string) string {
	var s byte
	for i := 0; i < len(body); i++ {
		s ^= body[i]
	}
	const hex = "0123456789ABCDEF"
	return "$" + body + "*" + string(hex[s>>4]) + string(hex[s&15])
}

func scanAll(t testing.TB, r io.Reader) ([]string, *Scanner) {
	t.Helper()
	sc := NewScanner(r)
	var got []string
	for sc.Scan() {
		got = append(got, string(sc.Bytes()))
	}
	return got, sc
}

func TestScannerFraming(t *testing.T) {
	long := frame("GPTXT," + strings.Repeat("A", MaxSentence))
	exact := frame("GPTXT," + strings.Repeat("B", MaxSentence-10)) // 120 bytes
	if len(exact) != MaxSentence {
		t.Fatalf("test sentence is %d bytes", len(exact))
	}
	tests := []struct {
		name  string
		in    string
		want  []string
		drops map[Reason]uint64
		other Counters // Ignored and Comments
	}{
		{name: "CRLF", in: rmc + "\r\n" + gga + "\r\n", want: []string{rmc, gga}},
		{name: "LF only", in: rmc + "\n" + gga + "\n", want: []string{rmc, gga}},
		{name: "CR only", in: rmc + "\r" + gga + "\r", want: []string{rmc, gga}},
		{name: "lower-case checksum", in: strings.Replace(rmc, "*6A", "*6a", 1) + "\r\n", want: []string{strings.Replace(rmc, "*6A", "*6a", 1)}},
		{name: "trailing blanks", in: rmc + "  \r\n", want: []string{rmc}},
		{name: "no line end at EOF is cut", in: rmc + "\r\n" + gga, want: []string{rmc}, drops: map[Reason]uint64{DropCut: 1}},
		{name: "leading garbage", in: "\x00\xffhello" + rmc + "\r\n", want: []string{rmc}, drops: map[Reason]uint64{DropGarbage: 1}},
		{name: "garbage lines count once each", in: "junk one\r\njunk two\r\n" + rmc + "\r\n", want: []string{rmc}, drops: map[Reason]uint64{DropGarbage: 2}},
		{name: "blank lines are not garbage", in: "\r\n\r\n   \r\n" + rmc + "\r\n", want: []string{rmc}},
		{name: "dollar mid-sentence restarts", in: rmc[:30] + gga + "\r\n", want: []string{gga}, drops: map[Reason]uint64{DropCut: 1}},
		{name: "AIS mid-sentence restarts", in: rmc[:30] + "!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26\r\n", other: Counters{Ignored: 1}, drops: map[Reason]uint64{DropCut: 1}},
		{name: "AIS is ignored", in: "!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26\r\n" + rmc + "\r\n", want: []string{rmc}, other: Counters{Ignored: 1}},
		{name: "bad checksum", in: strings.Replace(rmc, "*6A", "*6B", 1) + "\r\n" + gga + "\r\n", want: []string{gga}, drops: map[Reason]uint64{DropChecksum: 1}},
		{name: "non-hex checksum", in: strings.Replace(rmc, "*6A", "*6G", 1) + "\r\n", drops: map[Reason]uint64{DropChecksum: 1}},
		{name: "short checksum", in: strings.Replace(rmc, "*6A", "*6", 1) + "\r\n", drops: map[Reason]uint64{DropChecksum: 1}},
		{name: "junk after checksum", in: rmc + "x\r\n", drops: map[Reason]uint64{DropChecksum: 1}},
		{name: "missing checksum", in: strings.TrimSuffix(rmc, "*6A") + "\r\n" + gga + "\r\n", want: []string{gga}, drops: map[Reason]uint64{DropNoChecksum: 1}},
		{name: "binary inside", in: rmc[:20] + "\xb5\x62\x01" + rmc[20:] + "\r\n" + gga + "\r\n", want: []string{gga}, drops: map[Reason]uint64{DropBinary: 1}},
		{name: "NUL inside", in: rmc[:20] + "\x00" + rmc[20:] + "\r\n", drops: map[Reason]uint64{DropBinary: 1}},
		{name: "overlong", in: long + "\r\n" + gga + "\r\n", want: []string{gga}, drops: map[Reason]uint64{DropOverlong: 1}},
		{name: "exactly the maximum", in: exact + "\r\n", want: []string{exact}},
		{name: "one over the maximum", in: exact[:40] + "C" + exact[40:] + "\r\n", drops: map[Reason]uint64{DropOverlong: 1}},
		{name: "comments", in: "# a log comment $GPRMC,not,a,sentence*00\r\n" + rmc + "\r\n#another\n", want: []string{rmc}, other: Counters{Comments: 2}},
		{name: "hash mid-line is garbage", in: "x # not a comment\r\n" + rmc + "\r\n", want: []string{rmc}, drops: map[Reason]uint64{DropGarbage: 1}},
		{name: "empty input"},
		{name: "lone dollar", in: "$\r\n", drops: map[Reason]uint64{DropNoChecksum: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time as well as all at once: a serial port
			// hands out arbitrary pieces.
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, sc := scanAll(t, r)
				if sc.Err() != nil {
					t.Fatalf("Err() = %v", sc.Err())
				}
				if strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Errorf("sentences:\n got %q\nwant %q", got, tt.want)
				}
				c := sc.Counters()
				for r := Reason(0); r < NumReasons; r++ {
					if c.Drops[r] != tt.drops[r] {
						t.Errorf("drops[%v] = %d, want %d", r, c.Drops[r], tt.drops[r])
					}
				}
				if c.Ignored != tt.other.Ignored || c.Comments != tt.other.Comments {
					t.Errorf("ignored %d comments %d, want %d %d", c.Ignored, c.Comments, tt.other.Ignored, tt.other.Comments)
				}
			}
		})
	}
}

func TestScannerReadError(t *testing.T) {
	boom := errors.New("EIO")
	r := io.MultiReader(strings.NewReader(rmc+"\r\n"+gga[:20]), iotest.ErrReader(boom))
	got, sc := scanAll(t, r)
	if len(got) != 1 || !errors.Is(sc.Err(), boom) {
		t.Fatalf("got %q, err %v; want 1 sentence and the read error", got, sc.Err())
	}
	if c := sc.Counters(); c.Drops[DropCut] != 1 {
		t.Errorf("the half sentence before the error: drops %v, want one cut", c.Drops)
	}
	if sc.Scan() {
		t.Error("Scan after an error returned true")
	}
}

func TestScannerDataWithError(t *testing.T) {
	// A reader may return the last bytes together with the error.
	r := iotest.DataErrReader(strings.NewReader(rmc + "\r\n"))
	got, sc := scanAll(t, r)
	if len(got) != 1 || sc.Err() != nil {
		t.Fatalf("got %q, err %v", got, sc.Err())
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestScannerNoProgress(t *testing.T) {
	sc := NewScanner(zeroReader{})
	if sc.Scan() || !errors.Is(sc.Err(), io.ErrNoProgress) {
		t.Fatalf("Err() = %v, want io.ErrNoProgress", sc.Err())
	}
}

func TestScannerResetCountsCut(t *testing.T) {
	sc := NewScanner(strings.NewReader(rmc + "\r\n" + gga[:30]))
	for sc.Scan() {
	}
	// EOF already counted the half GGA; a Reset in the middle of a
	// sentence (device lost) counts it too.
	sc.Reset(strings.NewReader(gga[:10]))
	sc.Scan()
	sc.Reset(strings.NewReader(gga + "\r\n"))
	if !sc.Scan() || string(sc.Bytes()) != gga {
		t.Fatalf("after Reset: %q", sc.Bytes())
	}
	if c := sc.Counters(); c.Drops[DropCut] != 2 {
		t.Errorf("cut = %d, want 2", c.Drops[DropCut])
	}
}

func TestScannerHostileLog(t *testing.T) {
	data, err := os.ReadFile("testdata/hostile.nmea")
	if err != nil {
		t.Fatal(err)
	}
	got, sc := scanAll(t, bytes.NewReader(data))
	c := sc.Counters()
	// Every kind of damage the log documents must have been seen.
	for _, r := range []Reason{DropGarbage, DropCut, DropOverlong, DropBinary, DropNoChecksum, DropChecksum} {
		if c.Drops[r] == 0 {
			t.Errorf("no %v drops in the hostile log: %v", r, c.Drops)
		}
	}
	if c.Ignored == 0 || c.Comments == 0 {
		t.Errorf("ignored %d, comments %d: the AIS line and comments were not seen", c.Ignored, c.Comments)
	}
	for _, s := range got {
		if checkFrame([]byte(s)) != NumReasons || len(s) > MaxSentence {
			t.Errorf("passed a bad sentence: %q", s)
		}
	}
	if len(got) < 400 {
		t.Errorf("only %d sentences survived; the damage is to about one in six", len(got))
	}
}

func TestScannerAllocs(t *testing.T) {
	data, err := os.ReadFile("testdata/ublox-m8-drive.nmea")
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(data)
	sc := NewScanner(r)
	n := 0
	allocs := testing.AllocsPerRun(5, func() {
		r.Reset(data)
		sc.Reset(r)
		for sc.Scan() {
			n++
		}
	})
	if allocs != 0 || n == 0 {
		t.Errorf("%v allocations per pass over %d sentences, want 0", allocs, n)
	}
}

// FuzzScanner checks that whatever the bytes, the Scanner only ever hands
// out well-framed sentences, and never more than there are '$' in the
// input.
func FuzzScanner(f *testing.F) {
	for _, name := range []string{"hostile.nmea", "coldstart.nmea"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 4000)])
	}
	f.Add([]byte(rmc + "\r\n" + gga + "\n"))
	f.Add([]byte("$$$\r\n!*00\r\n#\r\n$*00\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 16<<10 {
			return // the checks below are quadratic; long inputs add nothing
		}
		got, sc := scanAll(t, bytes.NewReader(in))
		if sc.Err() != nil {
			t.Fatal(sc.Err())
		}
		if len(got) > bytes.Count(in, []byte("$")) {
			t.Fatalf("%d sentences from %d '$'", len(got), bytes.Count(in, []byte("$")))
		}
		for _, s := range got {
			if s[0] != '$' || len(s) > MaxSentence || checkFrame([]byte(s)) != NumReasons || strings.ContainsAny(s[1:], "$!\r\n") {
				t.Fatalf("bad sentence %q", s)
			}
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] > 0x7e {
					t.Fatalf("unprintable byte in %q", s)
				}
			}
			if !bytes.Contains(in, []byte(s)) {
				t.Fatalf("sentence %q is not in the input", s)
			}
		}
		// Byte by byte gives the same result.
		again, _ := scanAll(t, iotest.OneByteReader(bytes.NewReader(in)))
		if strings.Join(got, "\n") != strings.Join(again, "\n") {
			t.Fatalf("one byte at a time: %q, all at once: %q", again, got)
		}
	})
}
