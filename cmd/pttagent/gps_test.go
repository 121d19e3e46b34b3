package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/wait"
)

const testLogs = "../../gps/testdata/"

func gpsRun(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = gpsCommand(ctx, args, &o, &e)
	return o.String(), e.String(), err
}

func TestGPSReplayJSON(t *testing.T) {
	out, errOut, err := gpsRun(t, context.Background(), "replay", testLogs+"ublox-m8-drive.nmea", "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 181 {
		t.Errorf("%d fixes, want 181 (one per cycle)", len(lines))
	}
	if want := `{"time":"2024-11-19T06:15:00.000Z","lat":48.137156333,"lon":11.576125500,"alt":500.500,"speed":0.000,"mode":3,"sats":12,"hdop":0.76,"accuracy":3.80}`; lines[0] != want {
		t.Errorf("first fix\n%s\nwant\n%s", lines[0], want)
	}
	allowed := map[string]bool{"time": true, "lat": true, "lon": true, "alt": true, "speed": true, "course": true, "mode": true, "sats": true, "hdop": true, "accuracy": true}
	for _, l := range lines {
		var o map[string]any
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		for k := range o {
			if !allowed[k] {
				t.Fatalf("key %q in %s", k, l)
			}
		}
	}
	if errOut != "181 fixes from 1086 sentences; 0 dropped, 905 ignored, 0 late, 1 comments\n" {
		t.Errorf("stderr %q", errOut)
	}
}

func TestGPSReplayTextFromStdin(t *testing.T) {
	f, err := os.Open(testLogs + "hostile.nmea")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdin := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = stdin }()
	out, errOut, err := gpsRun(t, context.Background(), "replay", "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "2024-11-19T06:15:00.000Z 3D 48.1371563 11.5761255 500.5m 0.00m/s 12sats hdop 0.76 ±3.8m\n") {
		t.Errorf("stdout starts %q", out[:min(len(out), 200)])
	}
	// One line per reason that occurred, then the totals.
	for _, want := range []string{"dropped garbage:", "dropped cut:", "dropped overlong:", "dropped binary:", "dropped no-checksum:", "dropped checksum:", "dropped decode:", " fixes from "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "framing") {
		t.Errorf("a reason that did not occur is listed:\n%s", errOut)
	}
}

func TestGPSCommandErrors(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{nil, {"nope"}, {"replay"}, {"replay", "a", "b"}, {"replay", "--bogus", "x"}, {"watch"}, {"simulate", "--log", "x"}} {
		if _, errOut, err := gpsRun(t, ctx, args...); !errors.Is(err, errUsage) || !strings.Contains(errOut, "Usage:") {
			t.Errorf("%q: err %v, stderr %q", args, err, errOut)
		}
	}
	_, _, err := gpsRun(t, ctx, "replay", "/nonexistent.nmea")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "/nonexistent.nmea") {
		t.Errorf("missing file: %v", err)
	}
	if out, _, err := gpsRun(t, ctx, "help"); err != nil || !strings.Contains(out, "gps replay FILE") {
		t.Errorf("help: %v %q", err, out)
	}
}

// The technician's bench without hardware: simulate a receiver, watch it.
func TestGPSSimulateAndWatch(t *testing.T) {
	link := filepath.Join(t.TempDir(), "gps0")
	simCtx, stopSim := context.WithCancel(context.Background())
	var simOut, simErr logbuf.Buffer
	simDone := make(chan error, 1)
	go func() {
		simDone <- gpsCommand(simCtx, []string{"simulate", "--log", testLogs + "ublox-m8-drive.nmea", "--link", link, "--speed", "4"}, &simOut, &simErr)
	}()
	wait.For(t, 5*time.Second, "the simulated receiver", func() bool { return simOut.Contains("receiver at " + link) })

	watchCtx, stopWatch := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer stopWatch()
	var out, errOut bytes.Buffer
	if err := gpsCommand(watchCtx, []string{"watch", "--device", link}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	// Not a terminal: one plain line a second.
	var lines []string
	for s := bufio.NewScanner(&out); s.Scan(); {
		lines = append(lines, s.Text())
	}
	if len(lines) < 2 || strings.Contains(out.String(), "\x1b[") {
		t.Fatalf("watch wrote %q", out.String())
	}
	last := lines[len(lines)-1]
	for _, want := range []string{"3D valid 48.1", "sats used 12", "in view", "sentences/s", "dropped 0", "connected since"} {
		if !strings.Contains(last, want) {
			t.Errorf("watch line lacks %q: %s", want, last)
		}
	}

	stopSim()
	if err := <-simDone; err != nil {
		t.Errorf("simulate: %v", err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("simulate left its link: %v", err)
	}
}

// BenchmarkReplayCommand is `pttagent gps replay --json` on the drive log
// repeated twenty times (2.5 MB), to io.Discard.
func BenchmarkReplayCommand(b *testing.B) {
	one, err := os.ReadFile(testLogs + "ublox-m8-drive.nmea")
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat(one, 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var sentences uint64
	for range b.N {
		c, err := replay(bytes.NewReader(data), io.Discard, true)
		if err != nil {
			b.Fatal(err)
		}
		sentences += c.Sentences + c.Ignored
	}
	b.ReportMetric(float64(sentences)/b.Elapsed().Seconds(), "sentences/s")
}

func TestWatchSky(t *testing.T) {
	s := newSky()
	for _, line := range []string{
		"$GPGSV,1,1,03,08,43,001,39,09,28,297,34,12,10,155,*45",
		"$GLGSV,1,1,01,65,82,299,51*5B",
		"$GNGSA,A,3,08,09,65,,,,,,,,,,1.25,0.76,0.99*19",
	} {
		s.observe([]byte(line))
	}
	var got []string
	for _, v := range s.snapshot(time.Now()) {
		got = append(got, fmt.Sprintf("%s %d %d %v", v.system, v.prn, v.snr, v.used))
	}
	// PRN 08 and 09 are decimal, whatever fmt.Sscan thinks of a leading 0.
	if want := "[GLONASS 65 51 true GPS 8 39 true GPS 9 34 true GPS 12 0 false]"; fmt.Sprint(got) != want {
		t.Errorf("sky %v\nwant %s", got, want)
	}
}
