package gps

import (
	"bufio"
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzGpsdReport feeds arbitrary lines to the gpsd reader as if gpsd sent
// them (gpsd may be on another host, or not gpsd at all): no panic, and
// every fix it delivers keeps the invariants the NMEA path keeps.
func FuzzGpsdReport(f *testing.F) {
	for _, s := range []string{
		`{"class":"TPV","device":"/dev/ttyUSB0","mode":3,"time":"2024-11-19T06:15:00.000Z","lat":48.137156333,"lon":11.5761255,"altMSL":500.5,"speed":0.0,"track":360.0}`,
		`{"class":"SKY","hdop":0.76,"pdop":1.25,"vdop":0.99,"uSat":18,"satellites":[{"PRN":2,"el":43.0,"az":1.0,"ss":39.0,"used":true,"gnssid":0,"svid":2}]}`,
		`{"class":"GST","time":"2024-11-19T06:15:00.000Z","rms":0.5,"lat":0.3,"lon":0.2,"alt":0.4}`,
		`{"class":"DEVICES","devices":[]}`,
		`{"class":"TPV","mode":2,"lat":91,"lon":1e400}`,
		`{"class":"TPV","mode":7,"time":"yesterday"}`,
		`{"class":"SKY","satellites":[{"gnssid":99,"PRN":-5}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		s := &Source{}
		l := &gpsdLink{s: s}
		d := newDeliverer()
		// A fix before and after, so that the line's effect on the
		// fixes that follow it (SKY, GST) is checked too.
		const tpv = `{"class":"TPV","mode":3,"time":"2024-11-19T06:15:01.000Z","lat":1,"lon":2}`
		for _, in := range []string{line, tpv, line} {
			l.handle([]byte(in), d)
		}
		for d.n > 0 {
			fx := d.q[d.head]
			d.pop()
			checkGpsdFix(t, fx)
		}
	})
}

func checkGpsdFix(t *testing.T, f Fix) {
	t.Helper()
	if f.Valid && (!f.Is(HasPosition) || math.Abs(f.Lat) > 90 || math.Abs(f.Lon) > 180 || f.Mode < Mode2D) {
		t.Fatalf("valid fix %+v", f)
	}
	if !f.Valid && f.Mode >= Mode2D {
		t.Fatalf("invalid fix with mode %v", f.Mode)
	}
	if f.Is(HasAccuracy) && (!f.Valid || !(f.Accuracy > 0) || math.IsInf(f.Accuracy, 0)) {
		t.Fatalf("accuracy %v on %+v", f.Accuracy, f)
	}
	for _, v := range []float64{f.Lat, f.Lon, f.Alt, f.Speed, f.Course, f.HDOP, f.PDOP, f.VDOP} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite value in %+v", f)
		}
	}
	if f.Course < 0 || f.Course >= 360 || f.Speed < 0 || f.Sats < 0 {
		t.Fatalf("course %v speed %v sats %v", f.Course, f.Speed, f.Sats)
	}
}

// The reader puts lines longer than its buffer together, drops one over
// the limit as overlong (and only that one), and turns silence into
// ErrSilent, saying when gpsd has no receiver.
func TestGpsdLinkLines(t *testing.T) {
	ours, gpsd := net.Pipe()
	defer gpsd.Close()
	s := &Source{}
	l := &gpsdLink{s: s, conn: ours, r: bufio.NewReaderSize(ours, 16<<10), silence: 300 * time.Millisecond}
	d := newDeliverer()
	done := make(chan error, 1)
	go func() {
		_, err := l.read(context.Background(), d)
		done <- err
	}()
	sats := strings.Repeat(`{"PRN":2,"el":43.0,"az":1.0,"ss":39.0,"used":true,"gnssid":0,"svid":2},`, 300) // 21 kB
	for _, line := range []string{
		`{"class":"SKY","hdop":0.8,"uSat":9,"satellites":[` + strings.TrimSuffix(sats, ",") + `]}`,
		`{"class":"XXX","pad":"` + strings.Repeat("x", maxGpsdLine) + `"}`,   // just over
		`{"class":"XXX","pad":"` + strings.Repeat("x", 3*maxGpsdLine) + `"}`, // far over: skipped as it comes
		`{"class":"TPV","mode":3,"time":"2024-11-19T06:15:00.000Z","lat":1,"lon":2}`,
		`{"class":"DEVICES","devices":[]}`,
	} {
		if _, err := gpsd.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	err := <-done
	if !errors.Is(err, ErrSilent) || !errors.Is(err, ErrGpsdNoDevice) {
		t.Errorf("after silence: %v", err)
	}
	if d.n != 1 {
		t.Fatalf("%d fixes", d.n)
	}
	f := d.q[d.head]
	if !f.Valid || f.Sats != 9 || f.HDOP != 0.8 || f.Accuracy != 0.8*UERE {
		t.Errorf("fix %+v: the long SKY was not read", f)
	}
	if l.c.Drops[DropOverlong] != 2 || l.c.Drops.Total() != 2 || l.c.Sentences != 2 || l.c.Ignored != 1 {
		t.Errorf("counters %+v", l.c)
	}
	if h := gpsdHint(err, ConfigNames); !strings.Contains(h, "start gpsd with the receiver") {
		t.Errorf("hint %q", h)
	}
}
