package gps

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nmeaDecimal reports whether s is in the syntax parseDecimal accepts.
func nmeaDecimal(s string, signed bool) bool {
	if signed {
		s = strings.TrimPrefix(s, "-")
	}
	digits := strings.Count(s, "0") + strings.Count(s, "1") + strings.Count(s, "2") + strings.Count(s, "3") +
		strings.Count(s, "4") + strings.Count(s, "5") + strings.Count(s, "6") + strings.Count(s, "7") +
		strings.Count(s, "8") + strings.Count(s, "9")
	dots := strings.Count(s, ".")
	return digits > 0 && dots <= 1 && digits+dots == len(s)
}

func TestParseDecimalMatchesStrconv(t *testing.T) {
	cases := []string{"0", "0.0", "-0.0", ".5", "5.", "545.4", "-12.75", "0.004", "99.99",
		"4807.038", "01131.000", "12345678901234567", "9007199254740993", "0.1", "0.30000000000000004",
		"1.0000000000000000000000001", "123456789012345678901234567890", "00000000000000000000000.1",
		"1797693134862315708145274237317043567981", "0.000000000000000000000000000001"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		// Random NMEA-like numbers: up to 6 integer and 9 fraction digits.
		i, f := rng.IntN(7), rng.IntN(10)
		var b strings.Builder
		if rng.IntN(4) == 0 {
			b.WriteByte('-')
		}
		for range i {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		if f > 0 || i == 0 {
			b.WriteByte('.')
			for range max(f, 1) {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		got, ok := parseDecimal([]byte(s), true)
		want, err := strconv.ParseFloat(s, 64)
		if !ok || err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseDecimal(%q) = %v, %v; strconv: %v, %v", s, got, ok, want, err)
		}
	}
}

func TestParseDecimalRejects(t *testing.T) {
	for _, s := range []string{"", "-", ".", "+1", "1e3", "1E3", "Inf", "NaN", "0x1p3", "1_0", "1.2.3", " 1", "1 ", "--1", "1-", "٣"} {
		if v, ok := parseDecimal([]byte(s), true); ok {
			t.Errorf("parseDecimal(%q) = %v, want rejected", s, v)
		}
	}
	if _, ok := parseDecimal([]byte("-1"), false); ok {
		t.Error("a negative speed was accepted")
	}
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"545.4", "-0.0", "4807.038", "1e5", "9007199254740993.5", ".", "00.000000000000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseDecimal([]byte(s), true)
		want, err := strconv.ParseFloat(s, 64)
		// Beyond float64's range (300+ digits) is refused: not a number a
		// receiver sends.
		syntax := nmeaDecimal(s, true) && err == nil
		if ok != syntax {
			t.Fatalf("parseDecimal(%q) ok = %v, want %v (strconv: %v)", s, ok, syntax, err)
		}
		if !ok {
			return
		}
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseDecimal(%q) = %v, strconv %v", s, got, want)
		}
	})
}

func TestParseCoord(t *testing.T) {
	tests := []struct {
		v, h    string
		lim     int
		want    float64
		present bool
		ok      bool
	}{
		{"4807.038", "N", 90, 48 + 7.038/60, true, true},
		{"4807.038", "S", 90, -(48 + 7.038/60), true, true},
		{"01131.000", "E", 180, 11 + 31.0/60, true, true},
		{"01131.000", "W", 180, -(11 + 31.0/60), true, true},
		{"0000.0000", "N", 90, 0, true, true},
		{"9000.0000", "N", 90, 90, true, true},
		{"18000.0", "W", 180, -180, true, true},
		{"807.5", "N", 90, 8 + 7.5/60, true, true}, // unpadded degrees
		{"", "", 90, 0, false, true},               // not reported
		{"4860.000", "N", 90, 0, false, false},     // minutes 60
		{"4899.000", "N", 90, 0, false, false},
		{"9000.0001", "N", 90, 0, false, false}, // beyond the pole
		{"9100.0", "N", 90, 0, false, false},
		{"18000.1", "E", 180, 0, false, false},
		{"4807.038", "", 90, 0, false, false}, // half a coordinate
		{"", "N", 90, 0, false, false},
		{"4807.038", "E", 90, 0, false, false}, // wrong axis
		{"4807.038", "NN", 90, 0, false, false},
		{"-4807.038", "N", 90, 0, false, false},
		{"48O7.038", "N", 90, 0, false, false}, // letter O
		{"4807.03.8", "N", 90, 0, false, false},
	}
	for _, tt := range tests {
		pos, neg := byte('N'), byte('S')
		if tt.lim == 180 {
			pos, neg = 'E', 'W'
		}
		got, present, ok := parseCoord([]byte(tt.v), []byte(tt.h), pos, neg, tt.lim)
		if ok != tt.ok || present != tt.present || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("parseCoord(%q, %q) = %v, %v, %v; want %v, %v, %v", tt.v, tt.h, got, present, ok, tt.want, tt.present, tt.ok)
		}
	}
}

func TestParseTOD(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		present bool
		ok      bool
	}{
		{"123519", 12*time.Hour + 35*time.Minute + 19*time.Second, true, true},
		{"123519.", 12*time.Hour + 35*time.Minute + 19*time.Second, true, true},
		{"000000.00", 0, true, true},
		{"235959.999", 24*time.Hour - time.Millisecond, true, true},
		{"235960.5", 24*time.Hour + 500*time.Millisecond, true, true}, // leap second
		{"101010.1234567891", 10*time.Hour + 10*time.Minute + 10*time.Second + 123456789, true, true},
		{"", 0, false, true},
		{"240000", 0, false, false},
		{"126000", 0, false, false},
		{"123561", 0, false, false},
		{"12351", 0, false, false},
		{"1235190", 0, false, false},
		{"12a519", 0, false, false},
		{"123519.5x", 0, false, false},
		{"123519,5", 0, false, false},
	}
	for _, tt := range tests {
		got, present, ok := parseTOD([]byte(tt.in))
		if got != tt.want || present != tt.present || ok != tt.ok {
			t.Errorf("parseTOD(%q) = %v, %v, %v; want %v, %v, %v", tt.in, got, present, ok, tt.want, tt.present, tt.ok)
		}
	}
}

func TestParseDDMMYY(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"230394", "1994-03-23", true},
		{"191124", "2024-11-19", true},
		{"290224", "2024-02-29", true},
		{"010180", "1980-01-01", true},
		{"311279", "2079-12-31", true},
		{"290223", "", false}, // not a leap year
		{"310424", "", false},
		{"001124", "", false},
		{"011324", "", false},
		{"1911245", "", false},
		{"19112", "", false},
		{"19-124", "", false},
		{"", "", true},
	}
	for _, tt := range tests {
		c, present, ok := parseDDMMYY([]byte(tt.in))
		got := ""
		if present {
			got = fmt.Sprintf("%04d-%02d-%02d", c.y, c.m, c.d)
		}
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseDDMMYY(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCivilNextPrev(t *testing.T) {
	for d := time.Date(1999, 12, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2002; d = d.AddDate(0, 0, 1) {
		c := civil{y: d.Year(), m: d.Month(), d: d.Day(), good: true}
		n := d.AddDate(0, 0, 1)
		if got := c.next(); got != (civil{y: n.Year(), m: n.Month(), d: n.Day(), good: true}) {
			t.Fatalf("%v.next() = %v", d, got)
		}
		if got := c.next().prev(); got != c {
			t.Fatalf("%v.next().prev() = %v", d, got)
		}
	}
}
