package gps

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

type emitted struct {
	at  int // index of the sentence whose Feed returned the fix; -1 for Flush
	fix Fix
}

// run feeds bodies (framed here) and then flushes.
func run(m *Merger, bodies ...string) []emitted {
	var out []emitted
	for i, b := range bodies {
		if f, ok := m.Feed([]byte(frame(b) + "\r\n")); ok {
			out = append(out, emitted{i, f})
		}
	}
	if f, ok := m.Flush(); ok {
		out = append(out, emitted{-1, f})
	}
	return out
}

// ubloxCycle is one u-blox M8 cycle at hhmmss.
func ubloxCycle(hhmmss string) []string {
	return []string{
		"GNRMC," + hhmmss + ".00,A,4717.11437,N,00833.91522,E,10.000,77.52,091202,,,A",
		"GNVTG,77.52,T,,M,10.000,N,18.520,K,A",
		"GNGGA," + hhmmss + ".00,4717.11437,N,00833.91522,E,1,08,1.01,499.6,M,48.0,M,,",
		"GNGSA,A,3,23,29,07,08,09,,,,,,,,1.94,1.18,1.54",
		"GNGSA,A,3,65,66,72,,,,,,,,,,1.94,1.18,1.54",
		"GPGSV,1,1,04,23,38,230,44,29,71,156,47,07,29,116,41,08,09,081,36",
		"GNGLL,4717.11437,N,00833.91522,E," + hhmmss + ".00,A,A",
	}
}

func cycles(ts ...string) []string {
	var out []string
	for _, t := range ts {
		out = append(out, ubloxCycle(t)...)
	}
	return out
}

func TestMergerCycle(t *testing.T) {
	var m Merger
	got := run(&m, cycles("092725", "092726", "092727")...)
	if len(got) != 3 {
		t.Fatalf("%d fixes, want 3", len(got))
	}
	// The first cycle ends when the second begins; from then on the Merger
	// knows GLL ends a cycle and emits on it.
	if got[0].at != 7 || got[1].at != 13 || got[2].at != 20 {
		t.Errorf("emitted at sentences %d, %d, %d; want 7 (next RMC), 13 and 20 (GLL)", got[0].at, got[1].at, got[2].at)
	}
	f := got[1].fix
	want := Fix{
		Time: time.Date(2002, 12, 9, 9, 27, 26, 0, time.UTC),
		Lat:  47 + 17.11437/60, Lon: 8 + 33.91522/60, Alt: 499.6,
		Speed: 10 * 1852.0 / 3600, Course: 77.52,
		HDOP: 1.18, PDOP: 1.94, VDOP: 1.54, Sats: 8, Quality: 1, Mode: Mode3D,
		// No GST in the cycle: HDOP × UERE.
		Accuracy: 1.18 * UERE,
		Has:      HasTime | HasDate | HasPosition | HasAltitude | HasSpeed | HasCourse | HasMode | HasQuality | HasSats | HasHDOP | HasPDOP | HasVDOP | HasAccuracy,
		Valid:    true,
	}
	if !fixEqual(f, want) {
		t.Errorf("fix\n got %+v\nwant %+v", f, want)
	}
	c := m.Counters()
	if c.Fixes != 3 || c.Sentences != 18 || c.Ignored != 3 || c.Drops.Total() != 0 {
		t.Errorf("counters %+v", c)
	}
}

func fixEqual(a, b Fix) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9 }
	return a.Time.Equal(b.Time) && near(a.Lat, b.Lat) && near(a.Lon, b.Lon) && near(a.Alt, b.Alt) &&
		near(a.Speed, b.Speed) && near(a.Course, b.Course) && near(a.HDOP, b.HDOP) && near(a.PDOP, b.PDOP) &&
		near(a.VDOP, b.VDOP) && near(a.Accuracy, b.Accuracy) && a.Sats == b.Sats && a.Quality == b.Quality && a.Mode == b.Mode &&
		a.Has == b.Has && a.Valid == b.Valid
}

func TestMergerValidity(t *testing.T) {
	const (
		rmcA = "GPRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A"
		gga1 = "GPGGA,120000,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"
		gsa3 = "GPGSA,A,3,04,05,09,12,24,,,,,,,,2.5,1.3,2.1"
	)
	tests := []struct {
		name  string
		in    []string
		valid bool
		mode  Mode
		has   Fields // must be set
		hasnt Fields // must not be set
	}{
		{"RMC GGA GSA good", []string{rmcA, gga1, gsa3}, true, Mode3D, HasMode, 0},
		{"RMC status V", []string{"GPRMC,120000,V,4807.038,N,01131.000,E,0.5,10.0,010524,,,N", gga1, gsa3}, false, ModeNoFix, HasPosition | HasMode, 0},
		{"RMC A but mode N", []string{"GPRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,N"}, false, ModeNoFix, HasMode, 0},
		{"GGA quality 0", []string{rmcA, "GPGGA,120000,4807.038,N,01131.000,E,0,08,0.9,545.4,M,46.9,M,,"}, false, ModeNoFix, HasQuality, 0},
		{"GGA quality 6 dead reckoning", []string{rmcA, "GPGGA,120000,4807.038,N,01131.000,E,6,08,0.9,545.4,M,46.9,M,,"}, false, ModeNoFix, 0, 0},
		{"GGA quality 2 DGPS", []string{"GPGGA,120000,4807.038,N,01131.000,E,2,08,0.9,545.4,M,46.9,M,,"}, true, Mode3D, HasAltitude, 0},
		{"GGA without altitude is 2D", []string{"GPGGA,120000,4807.038,N,01131.000,E,1,08,0.9,,M,46.9,M,,"}, true, Mode2D, 0, HasAltitude},
		{"GSA says 2D despite altitude", []string{gga1, "GPGSA,A,2,04,05,09,,,,,,,,,,2.5,1.3,2.1"}, true, Mode2D, HasAltitude, 0},
		{"GSA mode 1", []string{rmcA, gga1, "GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99"}, false, ModeNoFix, 0, 0},
		{"one of two GSAs says no fix", []string{rmcA, gsa3, "GLGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99"}, false, ModeNoFix, 0, 0},
		{"RMC only is 2D", []string{rmcA}, true, Mode2D, HasSpeed | HasCourse | HasDate, HasAltitude},
		{"RMC without mode field (NMEA 2.0)", []string{"GPRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,"}, true, Mode2D, 0, 0},
		{"RMC A without position", []string{"GPRMC,120000,A,,,,,,,010524,,,A"}, false, ModeUnknown, HasTime, HasPosition | HasMode},
		{"VTG mode N", []string{rmcA, "GPVTG,10.0,T,,M,0.5,N,0.9,K,N"}, false, ModeNoFix, 0, 0},
		{"VTG alone carries no verdict", []string{"GPVTG,10.0,T,,M,0.5,N,0.9,K,"}, false, ModeUnknown, HasSpeed | HasCourse, HasMode},
		{"GLL status V", []string{"GPGLL,4807.038,N,01131.000,E,120000,V,N"}, false, ModeNoFix, HasPosition, 0},
		{"GLL good", []string{"GPGLL,4807.038,N,01131.000,E,120000,A,A"}, true, Mode2D, HasPosition | HasTime, HasDate},
		{"GNS all N", []string{"GNGNS,120000,4807.038,N,01131.000,E,NNN,00,,,,,"}, false, ModeNoFix, 0, 0},
		{"GNS one constellation", []string{"GNGNS,120000,4807.038,N,01131.000,E,NAN,07,1.2,545.4,46.9,,"}, true, Mode3D, HasSats | HasHDOP | HasAltitude, 0},
		{"GNS without altitude", []string{"GNGNS,120000,4807.038,N,01131.000,E,AA,07,1.2,,,,"}, true, Mode2D, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Merger
			got := run(&m, tt.in...)
			if len(got) != 1 {
				t.Fatalf("%d fixes, want 1 (drops %v)", len(got), m.Counters().Drops)
			}
			f := got[0].fix
			if f.Valid != tt.valid || f.Mode != tt.mode {
				t.Errorf("valid %v mode %v, want %v %v", f.Valid, f.Mode, tt.valid, tt.mode)
			}
			if !f.Is(tt.has) || f.Has&tt.hasnt != 0 {
				t.Errorf("has %b, want %b set and %b clear", f.Has, tt.has, tt.hasnt)
			}
			if f.Valid != (f.Mode == Mode2D || f.Mode == Mode3D) {
				t.Errorf("valid %v with mode %v", f.Valid, f.Mode)
			}
		})
	}
}

func TestMergerSatellites(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		sats int
		hdop float64
	}{
		{"GSA union across constellations", []string{
			"GNRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A",
			"GNGSA,A,3,01,02,03,04,05,,,,,,,,1.8,1.0,1.5",
			"GNGSA,A,3,65,66,67,68,,,,,,,,,1.8,1.0,1.5"}, 9, 1.0},
		{"the same PRN in two GSAs counts once", []string{
			"GNRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A",
			"GNGSA,A,3,01,02,03,04,05,,,,,,,,1.8,1.0,1.5",
			"GNGSA,A,3,04,05,06,,,,,,,,,,1.8,1.0,1.5"}, 6, 1.0},
		{"system IDs keep GPS 5 and Galileo 5 apart", []string{
			"GNRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A",
			"GNGSA,A,3,05,07,,,,,,,,,,,1.8,1.0,1.5,1",
			"GNGSA,A,3,05,08,,,,,,,,,,,1.8,1.0,1.5,3"}, 4, 1.0},
		{"talkers keep GPS 5 and BeiDou 5 apart", []string{
			"GNRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A",
			"GPGSA,A,3,05,07,,,,,,,,,,,1.8,1.0,1.5",
			"BDGSA,A,3,05,08,,,,,,,,,,,1.8,1.0,1.5"}, 4, 1.0},
		{"GGA's count wins over the GSA union, GSA's HDOP over GGA's", []string{
			"GNGGA,120000,4807.038,N,01131.000,E,1,12,0.9,545.4,M,46.9,M,,",
			"GNGSA,A,3,01,02,03,,,,,,,,,,1.8,1.04,1.5"}, 12, 1.04},
		{"GSA's HDOP wins in either order", []string{
			"GNGSA,A,3,01,02,03,,,,,,,,,,1.8,1.04,1.5",
			"GNGGA,120000,4807.038,N,01131.000,E,1,12,0.9,545.4,M,46.9,M,,"}, 12, 1.04},
		{"GGA wins over GNS", []string{
			"GNGNS,120000,4807.038,N,01131.000,E,AA,14,0.9,545.4,46.9,,",
			"GNGGA,120000,4807.038,N,01131.000,E,1,12,0.9,545.4,M,46.9,M,,"}, 12, 0.9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Merger
			got := run(&m, tt.in...)
			if len(got) != 1 {
				t.Fatalf("%d fixes", len(got))
			}
			f := got[0].fix
			if !f.Is(HasSats|HasHDOP) || f.Sats != tt.sats || f.HDOP != tt.hdop {
				t.Errorf("sats %d hdop %v (has %b), want %d %v", f.Sats, f.HDOP, f.Has, tt.sats, tt.hdop)
			}
		})
	}
}

func TestMergerSpeed(t *testing.T) {
	var m Merger
	got := run(&m, "GPVTG,359.99,T,,M,,N,36.0,K,A", "GPRMC,120000,A,4807.038,N,01131.000,E,,360.0,010524,,,A")
	if len(got) != 1 {
		t.Fatalf("%d fixes", len(got))
	}
	// VTG in km/h only; RMC later with course 360 and no speed.
	if f := got[0].fix; f.Speed != 10 || f.Course != 0 || !f.Is(HasSpeed|HasCourse) {
		t.Errorf("speed %v course %v, want 10 m/s from 36 km/h and course 0 from 360", f.Speed, f.Course)
	}
}

func TestMergerDate(t *testing.T) {
	t.Run("midnight rollover without RMC", func(t *testing.T) {
		var m Merger
		got := run(&m,
			"GPRMC,235958.00,A,4807.038,N,01131.000,E,0.0,0.0,311224,,,A",
			"GPGGA,235959.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
			"GPGGA,000000.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
			"GPGGA,000001.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
			"GPRMC,000002.00,A,4807.038,N,01131.000,E,0.0,0.0,010125,,,A",
		)
		want := []string{"2024-12-31T23:59:58Z", "2024-12-31T23:59:59Z", "2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z", "2025-01-01T00:00:02Z"}
		if len(got) != len(want) {
			t.Fatalf("%d fixes", len(got))
		}
		for i, e := range got {
			if s := e.fix.Time.Format(time.RFC3339Nano); s != want[i] || !e.fix.Is(HasDate) {
				t.Errorf("fix %d at %s (has date %v), want %s", i, s, e.fix.Is(HasDate), want[i])
			}
		}
	})
	t.Run("no date before the first RMC", func(t *testing.T) {
		var m Merger
		got := run(&m, "GPGGA,101500.50,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
		f := got[0].fix
		if f.Is(HasDate) || !f.Is(HasTime) || f.Time.Hour() != 10 || f.Time.Minute() != 15 || f.Time.Nanosecond() != 500e6 {
			t.Errorf("fix time %v has %b: want the time of day only", f.Time, f.Has)
		}
	})
	t.Run("ZDA gives the date", func(t *testing.T) {
		var m Merger
		got := run(&m,
			"GPZDA,235959.00,31,12,2024,00,00",
			"GPGGA,000000.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
		if s := got[0].fix.Time.Format(time.RFC3339); s != "2025-01-01T00:00:00Z" {
			t.Errorf("time %s, want the day after the ZDA's", s)
		}
	})
	t.Run("a date from just after midnight applies to the cycle before it", func(t *testing.T) {
		var m Merger
		got := run(&m,
			"GPZDA,000000.00,01,01,2025,00,00",
			"GPGGA,235959.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")
		if s := got[0].fix.Time.Format(time.RFC3339); s != "2024-12-31T23:59:59Z" {
			t.Errorf("time %s", s)
		}
	})
}

func TestMergerTimelessCycles(t *testing.T) {
	// A receiver without a fix sends its sentences with empty times; a
	// repeated type starts the next cycle.
	cold := []string{"GNRMC,,V,,,,,,,,,,N", "GNVTG,,,,,,,,,N", "GNGGA,,,,,,0,00,99.99,,,,,,", "GNGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99", "GNGLL,,,,,,V,N"}
	var in []string
	for range 3 {
		in = append(in, cold...)
	}
	var m Merger
	got := run(&m, in...)
	if len(got) != 3 {
		t.Fatalf("%d fixes from 3 time-less cycles", len(got))
	}
	for _, e := range got {
		if e.fix.Valid || e.fix.Mode != ModeNoFix || e.fix.Is(HasTime) {
			t.Errorf("fix %+v", e.fix)
		}
	}
}

func TestMergerLateSentence(t *testing.T) {
	var m Merger
	got := run(&m,
		// Cycle 1 lost its GLL to noise: the Merger learns GGA as the end.
		"GPRMC,120001,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A",
		"GPGGA,120001,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
		// Cycle 2 is emitted on GGA...
		"GPRMC,120002,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A",
		"GPGGA,120002,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
		// ...so its GLL is late: dropped, and GGA is unlearned.
		"GPGLL,4807.038,N,01131.000,E,120002,A,A",
		// Cycle 3 is emitted on the time change, and GLL is learned.
		"GPRMC,120003,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A",
		"GPGGA,120003,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
		"GPGLL,4807.038,N,01131.000,E,120003,A,A",
		"GPRMC,120004,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A",
		"GPGGA,120004,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
		"GPGLL,4807.038,N,01131.000,E,120004,A,A",
	)
	var at []int
	for _, e := range got {
		at = append(at, e.at)
	}
	if want := []int{2, 3, 8, 10}; len(at) != len(want) || at[0] != 2 || at[1] != 3 || at[2] != 8 || at[3] != 10 {
		t.Errorf("emitted at %v, want %v", at, want)
	}
	for i := 1; i < len(got); i++ {
		if !got[i].fix.Time.After(got[i-1].fix.Time) {
			t.Errorf("fix %d at %v is not after %v: a duplicate time", i, got[i].fix.Time, got[i-1].fix.Time)
		}
	}
	if c := m.Counters(); c.Late != 1 {
		t.Errorf("late = %d, want 1", c.Late)
	}
}

func TestMergerRelearnsMissingEnd(t *testing.T) {
	var m Merger
	in := cycles("100000", "100001") // learns GLL
	// The receiver is reconfigured to RMC, VTG, GGA: two cycles end by a
	// time change, then the Merger learns GGA and emits on it again.
	for _, ts := range []string{"100002", "100003", "100004", "100005"} {
		in = append(in, ubloxCycle(ts)[:3]...)
	}
	got := run(&m, in...)
	var at []int
	for _, e := range got {
		at = append(at, e.at)
	}
	// 100002 and 100003 on the next RMC (17, 20); 100004 and 100005 on
	// their GGA (22, 25); nothing left for Flush.
	if want := []int{7, 13, 17, 20, 22, 25}; fmt.Sprint(at) != fmt.Sprint(want) {
		t.Errorf("emitted at %v, want %v", at, want)
	}
}

func TestMergerDrops(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		reason Reason
	}{
		{"latitude minutes 60", "GPGGA,120000,4860.000,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", DropDecode},
		{"latitude over 90", "GPGGA,120000,9100.000,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", DropDecode},
		{"letter in altitude", "GPGGA,120000,4807.038,N,01131.000,E,1,08,0.9,54S.4,M,46.9,M,,", DropDecode},
		{"hour 24", "GPRMC,240000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A", DropDecode},
		{"February 30", "GPRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,300224,,,A", DropDecode},
		{"status X", "GPRMC,120000,X,4807.038,N,01131.000,E,0.5,10.0,010524,,,A", DropDecode},
		{"too few fields", "GPGGA,120000,4807.038,N,01131.000,E,1", DropDecode},
		{"course 400", "GPVTG,400.0,T,,M,0.5,N,0.9,K,A", DropDecode},
		{"GSA fix type 4", "GPGSA,A,4,04,05,,,,,,,,,,,2.5,1.3,2.1", DropDecode},
		{"GNS mode letter Z", "GNGNS,120000,4807.038,N,01131.000,E,AZ,07,1.2,,,,", DropDecode},
		{"lower-case address", "gpRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A", DropFraming},
		{"short address", "GPRM,120000", DropFraming},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Merger
			if got := run(&m, tt.in); len(got) != 0 {
				t.Errorf("a fix from a broken sentence: %+v", got[0].fix)
			}
			if c := m.Counters(); c.Drops[tt.reason] != 1 || c.Drops.Total() != 1 {
				t.Errorf("drops %v, want one %v", c.Drops, tt.reason)
			}
		})
	}
	var m Merger
	if _, ok := m.Feed([]byte(rmc[:len(rmc)-3])); ok || m.Counters().Drops[DropNoChecksum] != 1 {
		t.Errorf("Feed without checksum: drops %v", m.Counters().Drops)
	}
}

func TestMergerIgnores(t *testing.T) {
	var m Merger
	got := run(&m,
		"GPGSV,1,1,01,23,38,230,44",
		"GPTXT,01,01,02,ANTSTATUS=OK",
		"PUBX,00,081350.00,4717.113210,N,00833.915187,E,546.589,G3,2.1,2.0,0.007,77.52,0.007,,0.92,1.19,0.77,9,0,0",
		"IIRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A", // a relayed receiver
	)
	if len(got) != 1 || !got[0].fix.Valid {
		t.Fatalf("want the II talker's RMC decoded: %+v", got)
	}
	if c := m.Counters(); c.Ignored != 3 || c.Drops.Total() != 0 {
		t.Errorf("counters %+v", c)
	}
	if _, ok := m.Feed([]byte("!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26")); ok || m.Counters().Ignored != 4 {
		t.Error("AIS not ignored")
	}
}

func TestMergerAllocs(t *testing.T) {
	var in []string
	for _, ts := range []string{"092725", "092726", "092727", "092728"} {
		in = append(in, ubloxCycle(ts)...)
		in = append(in, "GNGST,"+ts+".00,1.8,,,,1.7,1.3,2.2")
	}
	lines := make([][]byte, len(in))
	for i, s := range in {
		lines[i] = []byte(frame(s))
	}
	var m Merger
	n := 0
	allocs := testing.AllocsPerRun(100, func() {
		for _, l := range lines {
			if _, ok := m.Feed(l); ok {
				n++
			}
		}
	})
	if allocs != 0 || n == 0 {
		t.Errorf("%v allocations for %d sentences, want 0", allocs, len(lines))
	}
}

func TestAppendJSON(t *testing.T) {
	var m Merger
	got := run(&m, cycles("092725")...)
	if s := string(got[0].fix.AppendJSON(nil)); s != `{"time":"2002-12-09T09:27:25.000Z","lat":47.285239500,"lon":8.565253667,"alt":499.600,"speed":5.144,"course":77.520,"mode":3,"sats":8,"hdop":1.18,"accuracy":5.90}` {
		t.Errorf("JSON %s", s)
	}
	got = run(&m, "GNRMC,,V,,,,,,,,,,N")
	if s := string(got[0].fix.AppendJSON(nil)); s != `{"mode":1}` {
		t.Errorf("JSON %s", s)
	}
	f := got[0].fix
	if n := testing.AllocsPerRun(100, func() { _ = f.AppendJSON(make([]byte, 0, 256)) }); n > 1 {
		t.Errorf("AppendJSON allocates %v times beyond its buffer", n)
	}
}

// FuzzMerger feeds arbitrary sentences (framed with a valid checksum, so
// that the decoder, not the checksum, is exercised) and checks the
// invariants every consumer relies on.
func FuzzMerger(f *testing.F) {
	for _, s := range cycles("092725", "092726") {
		f.Add(s)
	}
	f.Add("GNGNS,120000,4807.038,N,01131.000,E,NAN,07,1.2,545.4,46.9,,")
	f.Add("GPZDA,235959.00,31,12,2024,00,00")
	f.Add("GNRMC,,V,,,,,,,,,,N")
	f.Add("GPGST,120000,1.8,,,,1.7,1.3,2.2")
	f.Add("GPGST,000001,1.8,3.0,4.0,45.0,,,")
	f.Fuzz(func(t *testing.T, body string) {
		var m Merger
		// The same sentence three times, in a cycle with a fixed RMC, so
		// that cycles are actually emitted.
		for _, b := range []string{body, "GPRMC,000001,A,0000.000,N,00000.000,E,0.0,0.0,010524,,,A", body, body} {
			if f, ok := m.Feed([]byte(frame(b))); ok {
				checkFix(t, f)
			}
		}
		if f, ok := m.Flush(); ok {
			checkFix(t, f)
		}
	})
}

func checkFix(t *testing.T, f Fix) {
	t.Helper()
	if f.Valid {
		if !f.Is(HasPosition) || math.IsNaN(f.Lat) || math.IsNaN(f.Lon) || f.Lat < -90 || f.Lat > 90 || f.Lon < -180 || f.Lon > 180 {
			t.Fatalf("valid fix with position %v, %v (has %b)", f.Lat, f.Lon, f.Has)
		}
		if f.Mode != Mode2D && f.Mode != Mode3D {
			t.Fatalf("valid fix with mode %v", f.Mode)
		}
	} else if f.Mode == Mode2D || f.Mode == Mode3D {
		t.Fatalf("invalid fix with mode %v", f.Mode)
	}
	if f.Is(HasAccuracy) != (f.Accuracy > 0) || f.Is(HasAccuracy) && !f.Valid {
		t.Fatalf("accuracy %v (has %b, valid %v)", f.Accuracy, f.Has, f.Valid)
	}
	for _, v := range []float64{f.Alt, f.Speed, f.Course, f.HDOP, f.PDOP, f.VDOP, f.Accuracy} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite value in %+v", f)
		}
	}
	if f.Course < 0 || f.Course >= 360 || f.Speed < 0 {
		t.Fatalf("course %v speed %v", f.Course, f.Speed)
	}
}

func TestMergerAccuracy(t *testing.T) {
	const (
		rmc = "GPRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A"
		gga = "GPGGA,120000,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"
	)
	tests := []struct {
		name string
		in   []string
		acc  float64 // 0: none
		gst  bool
	}{
		{"no GST: HDOP × UERE", []string{rmc, gga}, 0.9 * UERE, false},
		{"GST after GGA wins", []string{rmc, gga, "GPGST,120000,1.8,,,,1.7,1.3,2.2"}, math.Hypot(1.7, 1.3), true},
		{"GST before GGA wins", []string{"GNGST,120000,1.8,,,,1.7,1.3,2.2", rmc, gga}, math.Hypot(1.7, 1.3), true},
		{"ellipse only", []string{rmc, gga, "GPGST,120000,1.8,3.0,4.0,45.0,,,"}, 5, true},
		{"deviations preferred to the ellipse", []string{rmc, gga, "GPGST,120000,1.8,3.0,4.0,45.0,0.6,0.8,1.0"}, 1, true},
		{"empty GST: HDOP × UERE", []string{rmc, gga, "GPGST,120000,,,,,,,"}, 0.9 * UERE, false},
		{"all zeros is no estimate", []string{rmc, gga, "GPGST,120000,0.0,0.0,0.0,0.0,0.0,0.0,0.0"}, 0.9 * UERE, false},
		{"any talker", []string{rmc, gga, "BDGST,120000,1.8,,,,0.3,0.4,2.2"}, 0.5, true},
		{"relayed talker", []string{rmc, gga, "IIGST,120000,1.8,,,,0.3,0.4,2.2"}, 0.5, true},
		{"no HDOP, no GST: none", []string{rmc}, 0, false},
		{"not valid: none", []string{"GPRMC,120000,V,4807.038,N,01131.000,E,0.5,10.0,010524,,,N", "GPGST,120000,1.8,,,,1.7,1.3,2.2"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Merger
			got := run(&m, tt.in...)
			if len(got) != 1 {
				t.Fatalf("%d fixes", len(got))
			}
			f := got[0].fix
			if tt.acc == 0 {
				if f.Is(HasAccuracy) || f.Accuracy != 0 {
					t.Errorf("accuracy %v (has %v)", f.Accuracy, f.Is(HasAccuracy))
				}
				return
			}
			if !f.Is(HasAccuracy) || math.Abs(f.Accuracy-tt.acc) > 1e-9 || f.Is(HasGST) != tt.gst {
				t.Errorf("accuracy %v (has %v, GST %v), want %v (GST %v)", f.Accuracy, f.Is(HasAccuracy), f.Is(HasGST), tt.acc, tt.gst)
			}
		})
	}
}

func TestMergerGSTDrops(t *testing.T) {
	for _, in := range []string{
		"GPGST,120000,1.8,,,,1.7,1.3",         // seven fields
		"GPGST,120000,1.8,,,,1.7,-1.3,2.2",    // negative deviation
		"GPGST,120000,1.8,,,,1.7,1x3,2.2",     // letter
		"GPGST,120000,1.8,3.0,4.0,400,,,",     // orientation over 360
		"GPGST,250000,1.8,,,,1.7,1.3,2.2",     // hour 25
		"GPGST,120000,1.8,,,,1.7,1.3,2.2e1",   // exponent
		"GPGST,120000,1.8,,,,1.7,1.3,+2.2",    // sign
		"GPGST,120000,1.8,,,,1.7,1.3,Inf",     // not a number
		"GPGST,120000,1.8,,,,1.7,1.3,2.2,9.9", // an extra field is fine: only the first 8 are read
	} {
		var m Merger
		m.Feed([]byte(frame(in)))
		want := uint64(1)
		if strings.HasSuffix(in, ",9.9") {
			want = 0
		}
		if c := m.Counters(); c.Drops[DropDecode] != want {
			t.Errorf("%s: decode drops %d, want %d", in, c.Drops[DropDecode], want)
		}
	}
}

// A receiver that reports several cycles a second with whole-second
// times: each repeat of a type is a new cycle, not a late sentence.
func TestMergerWholeSecondCycles(t *testing.T) {
	var in []string
	for sec := 0; sec < 2; sec++ {
		for k := 0; k < 5; k++ {
			tm := fmt.Sprintf("12000%d", sec)
			lat := fmt.Sprintf("4807.%03d", 100*sec+10*k)
			in = append(in,
				"GPRMC,"+tm+",A,"+lat+",N,01131.000,E,20.0,10.0,010524,,,A",
				"GPGGA,"+tm+","+lat+",N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
				"GPGSA,A,3,04,05,09,12,,,,,,,,,1.8,0.9,1.5",
				"GPGLL,"+lat+",N,01131.000,E,"+tm+",A,A")
		}
	}
	var m Merger
	got := run(&m, in...)
	if len(got) != 10 {
		t.Fatalf("%d fixes from 10 cycles", len(got))
	}
	for i, e := range got {
		want := 48 + (7+float64(100*(i/5)+10*(i%5))/1000)/60
		if math.Abs(e.fix.Lat-want) > 1e-9 || !e.fix.Valid {
			t.Errorf("fix %d: lat %v valid %v, want %v: cycles merged", i, e.fix.Lat, e.fix.Valid, want)
		}
		// The first cycle ends when the second RMC arrives; once GLL is
		// learned as the end, each cycle is emitted on its GLL.
		if i > 0 && e.at != 4*i+3 {
			t.Errorf("fix %d emitted at sentence %d, want %d (its GLL)", i, e.at, 4*i+3)
		}
	}
	if c := m.Counters(); c.Late != 0 || c.Fixes != 10 {
		t.Errorf("counters %+v", c)
	}
}

// The 10 Hz log: every cycle is a fix of its own, a tenth of a second
// after the previous one, with the receiver's own error estimate.
func TestMergerTenHertz(t *testing.T) {
	fixes, _ := replayJSON(t, "ublox-m8-10hz.nmea")
	if len(fixes) != 300 {
		t.Fatalf("%d fixes from 30 s at 10 Hz", len(fixes))
	}
	valid := 0
	for i, f := range fixes {
		if i > 0 {
			if d := f.Time.Sub(fixes[i-1].Time); d != 100*time.Millisecond {
				t.Fatalf("fix %d is %v after the previous", i, d)
			}
		}
		if f.Valid {
			valid++
			if !f.Is(HasAccuracy|HasGST) || f.Accuracy <= 0 || f.Accuracy > 10 {
				t.Errorf("fix %d: accuracy %v (has %b)", i, f.Accuracy, f.Has)
			}
		}
	}
	if valid < 250 {
		t.Errorf("only %d valid fixes", valid)
	}
}
