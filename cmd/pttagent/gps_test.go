package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/gps/gpssim"
	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/wait"
	"go.bug.st/serial/enumerator"
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
	// The rows mark 18 used (GPS and GLONASS GSAs); u-blox's GGA counts 12.
	for _, want := range []string{"3D valid 48.1", "sats used 18 (the fix says 12), 18 tracked of 18 in view", "sentences/s", "dropped 0", "connected since"} {
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
		c, err := replay(bytes.NewReader(data), io.Discard, formatJSON, "bench")
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

// A device that is not there ends watch at once with what to check, in
// watch's own flags, and the ports there are.
func TestGPSWatchMissingDevice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	missing := filepath.Join(t.TempDir(), "ttyUSB9")
	_, _, err := gpsRun(t, ctx, "watch", "--device", missing)
	if err == nil || errors.Is(err, errUsage) || ctx.Err() != nil {
		t.Fatalf("watch on a missing device: %v (ctx %v)", err, ctx.Err())
	}
	for _, want := range []string{missing, "no such file or directory", "check --device", "pttagent gps ports"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "gps.device") {
		t.Errorf("the hint names the config key, not the flag: %v", err)
	}
	_, _, err = gpsRun(t, ctx, "watch", "--device", "gpsd://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "is gpsd running") {
		t.Errorf("watch on a gpsd that is not there: %v", err)
	}
	for _, args := range [][]string{{"watch", "--device", missing, "--modem", "quectel"}, {"watch", "--device", missing, "--modem", "huawei", "--control", "x"}} {
		if _, errOut, err := gpsRun(t, ctx, args...); !errors.Is(err, errUsage) || !strings.Contains(errOut, "--modem") {
			t.Errorf("%q: %v %q", args, err, errOut)
		}
	}
}

// watchLines runs watch for d and returns its plain lines.
func watchLines(t *testing.T, d time.Duration, args ...string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errOut bytes.Buffer
	if err := gpsCommand(ctx, append([]string{"watch"}, args...), &out, &errOut); err != nil {
		t.Fatalf("watch %q: %v\n%s", args, err, errOut.String())
	}
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

// A cellular module's GNSS: silent until turned on (watch says what to
// add), then fixes with --modem and --control.
func TestGPSWatchModem(t *testing.T) {
	dir := t.TempDir()
	link, ctl := filepath.Join(dir, "nmea0"), filepath.Join(dir, "at0")
	simCtx, stopSim := context.WithCancel(context.Background())
	var simOut, simErr logbuf.Buffer
	simDone := make(chan error, 1)
	go func() {
		simDone <- gpsCommand(simCtx, []string{"simulate", "--log", testLogs + "ublox-m8-drive.nmea", "--link", link,
			"--modem", "quectel", "--control", ctl, "--speed", "4"}, &simOut, &simErr)
	}()
	defer func() {
		stopSim()
		if err := <-simDone; err != nil {
			t.Errorf("simulate: %v", err)
		}
	}()
	wait.For(t, 5*time.Second, "the simulated module", func() bool { return simOut.Contains("quectel module with its AT port at " + ctl) })

	lines := watchLines(t, 4500*time.Millisecond, "--device", link)
	if last := lines[len(lines)-1]; !strings.Contains(last, "nothing from the receiver") || !strings.Contains(last, "set --modem and --control") {
		t.Errorf("watch without --modem: %s", last)
	}
	lines = watchLines(t, 3500*time.Millisecond, "--device", link, "--modem", "quectel", "--control", ctl)
	if last := lines[len(lines)-1]; !strings.Contains(last, "3D valid 48.1") || strings.Contains(last, "nothing from") {
		t.Errorf("watch with --modem: %s", last)
	}
}

// Bytes that never make a sentence: watch suggests other baud rates.
func TestGPSWatchWrongBaud(t *testing.T) {
	dev, err := gpssim.NewDevice(filepath.Join(t.TempDir(), "gps0"))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	dev.Lossy = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// NMEA at 4800 baud read at 9600 looks like this: bytes, no lines.
		junk := make([]byte, 480)
		for i := range junk {
			junk[i] = byte(0x80 | i*37)
		}
		for ctx.Err() == nil {
			dev.Write(junk)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	lines := watchLines(t, 2500*time.Millisecond, "--device", dev.Path)
	last := lines[len(lines)-1]
	for _, want := range []string{"not one NMEA sentence: a wrong baud rate? (9600 now", "try --baud 4800, 38400, 115200"} {
		if !strings.Contains(last, want) {
			t.Errorf("watch line lacks %q: %s", want, last)
		}
	}
}

func TestWatchSkyFromGpsd(t *testing.T) {
	s := newSky()
	s.fromGpsd([]gps.Satellite{{System: "GPS", PRN: 5, Elevation: 40, Azimuth: 120, SNR: 38, Used: true}, {System: "Galileo", PRN: 5, SNR: 0}})
	var got []string
	for _, v := range s.snapshot(time.Now()) {
		got = append(got, fmt.Sprintf("%s %d %d %v", v.system, v.prn, v.snr, v.used))
	}
	if want := "[GPS 5 38 true Galileo 5 0 false]"; fmt.Sprint(got) != want {
		t.Errorf("sky %v, want %s", got, want)
	}
}

func TestGPSReplayGPX(t *testing.T) {
	out, _, err := gpsRun(t, context.Background(), "replay", "--gpx", testLogs+"ublox-m8-drive.nmea")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name
		Version string `xml:"version,attr"`
		Trk     struct {
			Name string `xml:"name"`
			Seg  struct {
				Pts []struct {
					Lat  float64 `xml:"lat,attr"`
					Lon  float64 `xml:"lon,attr"`
					Ele  *float64
					Time string `xml:"time"`
					Fix  string `xml:"fix"`
					Sat  int    `xml:"sat"`
					HDOP float64
				} `xml:"trkpt"`
			} `xml:"trkseg"`
		} `xml:"trk"`
	}
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	pts := doc.Trk.Seg.Pts
	if doc.XMLName.Space != "http://www.topografix.com/GPX/1/1" || doc.Version != "1.1" || doc.Trk.Name != "ublox-m8-drive.nmea" {
		t.Errorf("document %v %q %q", doc.XMLName, doc.Version, doc.Trk.Name)
	}
	// The valid fixes of the drive: all but the 5 s underpass (and the
	// cycles around it the receiver marks not valid).
	valid := validFixes(t, "ublox-m8-drive.nmea")
	if len(pts) != valid || valid < 170 {
		t.Fatalf("%d track points for %d valid fixes", len(pts), valid)
	}
	p := pts[0]
	if p.Lat != 48.137156333 || p.Lon != 11.5761255 || p.Time != "2024-11-19T06:15:00.000Z" || p.Fix != "3d" || p.Sat != 12 {
		t.Errorf("first point %+v", p)
	}
}

// validFixes counts the valid fixes of a log through replay --json.
func validFixes(t *testing.T, log string) int {
	out, _, err := gpsRun(t, context.Background(), "replay", "--json", testLogs+log)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(out, `"lat":`)
}

func TestGPSReplayGeoJSON(t *testing.T) {
	out, _, err := gpsRun(t, context.Background(), "replay", "--geojson", testLogs+"ublox-m8-10hz.nmea")
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Type     string
		Features []struct {
			Type     string
			Geometry struct {
				Type        string
				Coordinates [][]float64
			}
			Properties struct {
				Name            string
				CoordTimes      []*string
				CoordAccuracies []*float64
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &fc); err != nil {
		t.Fatal(err)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 1 || fc.Features[0].Geometry.Type != "LineString" {
		t.Fatalf("%+v", fc)
	}
	f := fc.Features[0]
	c, times, acc := f.Geometry.Coordinates, f.Properties.CoordTimes, f.Properties.CoordAccuracies
	if valid := validFixes(t, "ublox-m8-10hz.nmea"); len(c) != valid || len(times) != valid || len(acc) != valid {
		t.Fatalf("%d positions, %d times, %d accuracies for %d valid fixes", len(c), len(times), len(acc), valid)
	}
	// [lon, lat], as GeoJSON has it; ten a second.
	if c[0][0] < 13 || c[0][0] > 14 || c[0][1] < 52 || c[0][1] > 53 || *times[0] != "2025-09-08T07:40:00.000Z" || *times[1] != "2025-09-08T07:40:00.100Z" || acc[0] == nil || *acc[0] <= 0 {
		t.Errorf("first positions %v, times %v %v", c[:2], *times[0], *times[1])
	}

	// One valid fix is a Point, none is no feature at all.
	for _, tc := range []struct {
		log  string
		want string
	}{{nmeaLine("GPRMC,120000,A,4807.038,N,01131.000,E,0.5,10.0,010524,,,A"), `"type":"Point","coordinates":[11.516666667,48.1173]`},
		{nmeaLine("GPRMC,120000,V,,,,,,,010524,,,N"), `{"type":"FeatureCollection","features":[]}`}} {
		var o bytes.Buffer
		if _, err := replay(strings.NewReader(tc.log), &o, formatGeoJSON, "x"); err != nil || !strings.Contains(o.String(), tc.want) {
			t.Errorf("%q: %s, %v", tc.log, o.String(), err)
		}
	}
	if _, errOut, err := gpsRun(t, context.Background(), "replay", "--gpx", "--geojson", testLogs+"sirf-gp.nmea"); !errors.Is(err, errUsage) || !strings.Contains(errOut, "at most one of") {
		t.Errorf("two formats: %v %q", err, errOut)
	}
}

// describePorts joins the kernel's ports and their by-id links.
func TestGPSPorts(t *testing.T) {
	dir := t.TempDir()
	dev, byID := filepath.Join(dir, "dev"), filepath.Join(dir, "by-id")
	for _, d := range []string{dev, byID} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tty := range []string{"ttyACM0", "ttyUSB1", "ttyUSB2"} {
		if err := os.WriteFile(filepath.Join(dev, tty), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, tty := range map[string]string{
		"usb-u-blox_AG_-_www.u-blox.com_u-blox_GNSS_receiver-if00": "ttyACM0",
		"usb-Quectel_EG25-G-if01-port0":                            "ttyUSB1",
		"usb-Quectel_EG25-G-if02-port0":                            "ttyUSB2",
	} {
		if err := os.Symlink(filepath.Join("..", "dev", tty), filepath.Join(byID, link)); err != nil {
			t.Fatal(err)
		}
	}
	ports := describePorts([]*enumerator.PortDetails{
		{Name: filepath.Join(dev, "ttyACM0"), IsUSB: true, VID: "1546", PID: "01A8", Product: "u-blox GNSS receiver"},
		{Name: filepath.Join(dev, "ttyUSB1"), IsUSB: true, VID: "2c7c", PID: "0125", SerialNumber: "0123"},
	}, byID)
	var out bytes.Buffer
	writePorts(&out, ports)
	want := dev + "/ttyACM0  USB 1546:01a8  u-blox GNSS receiver\n" +
		"    " + byID + "/usb-u-blox_AG_-_www.u-blox.com_u-blox_GNSS_receiver-if00\n" +
		dev + "/ttyUSB1  USB 2c7c:0125  serial 0123\n" +
		"    " + byID + "/usb-Quectel_EG25-G-if01-port0\n" +
		// Not listed by the kernel's enumeration, but linked: a port.
		dev + "/ttyUSB2\n" +
		"    " + byID + "/usb-Quectel_EG25-G-if02-port0\n" +
		"Use a /dev/serial/by-id name for gps.device (and gps.modem.control): it stays the same when USB re-enumerates the device.\n"
	if out.String() != want {
		t.Errorf("ports:\n%s\nwant:\n%s", out.String(), want)
	}
	// On this machine, whatever it has.
	if _, _, err := gpsRun(t, context.Background(), "ports"); err != nil {
		t.Errorf("gps ports: %v", err)
	}
	if _, _, err := gpsRun(t, context.Background(), "ports", "extra"); !errors.Is(err, errUsage) {
		t.Errorf("gps ports extra: %v", err)
	}
}

// nmeaLine frames a sentence body with its checksum.
func nmeaLine(body string) string {
	var sum byte
	for i := 0; i < len(body); i++ {
		sum ^= body[i]
	}
	return fmt.Sprintf("$%s*%02X\r\n", body, sum)
}
