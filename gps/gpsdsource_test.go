package gps_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/gps/gpssim"
	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/wait"
)

// gpsd is a real gpsd (Debian's, 3.22 on Debian 12) reading a simulated
// receiver: read-only (-b), opening the device at once (-n), in the
// foreground (-N), on a port of its own on loopback.
type gpsd struct {
	t      *testing.T
	bin    string
	port   int
	device string
	mu     sync.Mutex
	cmd    *exec.Cmd
	stderr bytes.Buffer
}

func startGpsd(t *testing.T, device string) *gpsd {
	t.Helper()
	bin, err := exec.LookPath("gpsd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/gpsd"); serr != nil {
			t.Fatalf("gpsd is not installed (run .ci/deps): %v", err)
		}
		bin = "/usr/sbin/gpsd"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gpsd{t: t, bin: bin, port: l.Addr().(*net.TCPAddr).Port, device: device}
	l.Close()
	g.start()
	t.Cleanup(func() {
		g.stop()
		if t.Failed() {
			t.Logf("gpsd stderr:\n%s", g.stderr.String())
		}
	})
	return g
}

func (g *gpsd) addr() string { return fmt.Sprintf("gpsd://127.0.0.1:%d", g.port) }

func (g *gpsd) start() {
	g.t.Helper()
	cmd := exec.Command(g.bin, "-N", "-n", "-b", "-S", fmt.Sprint(g.port), g.device)
	cmd.Stderr = &g.stderr
	if err := cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	g.mu.Lock()
	g.cmd = cmd
	g.mu.Unlock()
	wait.For(g.t, 10*time.Second, "gpsd to listen", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", g.port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// stop kills the gpsd this test started (only that process).
func (g *gpsd) stop() {
	g.mu.Lock()
	cmd := g.cmd
	g.cmd = nil
	g.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

// cycles returns the part of a log up to its nth RMC (n cycles).
func cycles(t *testing.T, name string, n int) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rmc := 0
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if bytes.Contains(l, []byte("RMC,")) {
			if rmc++; rmc > n {
				break
			}
		}
		out.Write(l)
	}
	return out.Bytes()
}

// serialFixes is the serial path's view of a log: Scanner and Merger.
func serialFixes(log []byte) map[time.Time]gps.Fix {
	sc := gps.NewScanner(bytes.NewReader(log))
	var m gps.Merger
	out := map[time.Time]gps.Fix{}
	for sc.Scan() {
		if f, ok := m.Feed(sc.Bytes()); ok && f.Is(gps.HasTime|gps.HasDate) {
			out[f.Time] = f
		}
	}
	if f, ok := m.Flush(); ok && f.Is(gps.HasTime|gps.HasDate) {
		out[f.Time] = f
	}
	return out
}

// TestGpsdSourceMatchesSerial plays a log into a pty that gpsd reads, and
// reads gpsd as a Source; every fix from gpsd must be the serial path's fix
// of the same time on the same log, to the precision gpsd prints.
func TestGpsdSourceMatchesSerial(t *testing.T) {
	for _, tc := range []struct {
		log    string
		cycles int
		speed  float64
	}{
		{"ublox-m8-drive.nmea", 60, 10}, // a stop, 50 km/h, the first turn; GPS+GLONASS
		{"ublox-m8-10hz.nmea", 40, 1},   // 4 s at 10 Hz, GST
		{"quectel-lc29h-gns.nmea", 30, 10},
	} {
		t.Run(tc.log, func(t *testing.T) {
			log := cycles(t, tc.log, tc.cycles)
			dev, err := gpssim.NewDevice(filepath.Join(t.TempDir(), "gps0"))
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Close()
			g := startGpsd(t, dev.Path)
			var (
				mu   sync.Mutex
				sats int
			)
			src := &gps.Source{Device: g.addr(), Logger: slog.New(slog.DiscardHandler),
				OnSatellites: func(s []gps.Satellite) { mu.Lock(); sats = len(s); mu.Unlock() }}
			fixes := make(chan gps.Fix, 1000)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go src.Run(ctx, fixes)
			wait.For(t, 10*time.Second, "the watch", func() bool { return src.Stats().Connected && src.Stats().Bytes > 0 })

			if err := (&gpssim.Player{Speed: tc.speed}).Play(ctx, dev, log); err != nil {
				t.Fatal(err)
			}
			want := serialFixes(log)
			// gpsd reports the last cycle when it knows the cycle's end.
			wait.For(t, 10*time.Second, "gpsd's last fix", func() bool { return len(fixes) >= len(want)-2 })
			time.Sleep(300 * time.Millisecond)
			cancel()

			got, matched, accuracy := 0, 0, 0
			for len(fixes) > 0 {
				f := <-fixes
				got++
				if !f.Valid {
					continue
				}
				s, ok := want[f.Time]
				if !ok {
					t.Errorf("gpsd fix at %v: no serial fix at that time", f.Time)
					continue
				}
				matched++
				near := func(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
				if !s.Valid || !near(f.Lat, s.Lat, 1.5e-9) || !near(f.Lon, s.Lon, 1.5e-9) {
					t.Errorf("%v: gpsd %v\n serial %v", f.Time, f, s)
				}
				if f.Is(gps.HasSpeed) && s.Is(gps.HasSpeed) && !near(f.Speed, s.Speed, 0.0011) ||
					f.Is(gps.HasCourse) && s.Is(gps.HasCourse) && !near(f.Course, s.Course, 0.0011) {
					t.Errorf("%v: motion: gpsd %v\n serial %v", f.Time, f, s)
				}
				if f.Is(gps.HasAltitude) && s.Is(gps.HasAltitude) && f.Mode == gps.Mode3D && s.Mode == gps.Mode3D && !near(f.Alt, s.Alt, 0.0011) {
					t.Errorf("%v: altitude: gpsd %v, serial %v", f.Time, f.Alt, s.Alt)
				}
				// GST: the same estimate (gpsd prints deviations to 1 mm).
				if s.Is(gps.HasGST) && f.Is(gps.HasGST) {
					accuracy++
					if !near(f.Accuracy, s.Accuracy, 0.002) {
						t.Errorf("%v: accuracy gpsd %v, serial %v", f.Time, f.Accuracy, s.Accuracy)
					}
				}
			}
			validSerial := 0
			for _, s := range want {
				if s.Valid {
					validSerial++
				}
			}
			// Every valid cycle but the first (gpsd may report it only
			// in part, before it has learned the cycle) is one of gpsd's.
			if matched < validSerial-1 || got > len(want)+1 {
				t.Errorf("%d gpsd fixes, %d matched, of %d serial fixes (%d valid)", got, matched, len(want), validSerial)
			}
			if strings.Contains(tc.log, "10hz") && accuracy < matched-2 {
				t.Errorf("accuracy from GST in %d of %d fixes", accuracy, matched)
			}
			mu.Lock()
			defer mu.Unlock()
			if sats == 0 {
				t.Error("OnSatellites never saw a satellite")
			}
			st := src.Stats()
			if st.Drops.Total() != 0 {
				t.Errorf("gpsd reports dropped: %v", st.Drops)
			}
			t.Logf("%d cycles, %d valid; gpsd: %d fixes, %d matched, %d with GST, %d repeated reports", len(want), validSerial, got, matched, accuracy, st.Late)
		})
	}
}

// gpsd restarts (an update, a crash): the Source says so once, with a
// hint, and comes back by itself.
func TestGpsdSourceRestart(t *testing.T) {
	dev, err := gpssim.NewDevice(filepath.Join(t.TempDir(), "gps0"))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	dev.Lossy = true
	g := startGpsd(t, dev.Path)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go (&gpssim.Player{Speed: 4, Loop: true, Retime: true}).Play(ctx, dev, cycles(t, "ublox-m8-drive.nmea", 60))

	var log logbuf.Buffer
	var states []string
	var mu sync.Mutex
	src := &gps.Source{Device: g.addr(), SilenceTimeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(&log, nil)),
		OnState: func(c bool, err error) { mu.Lock(); states = append(states, fmt.Sprint(c)); mu.Unlock() }}
	fixes := make(chan gps.Fix, 1000)
	go src.Run(ctx, fixes)
	fresh := func(what string) gps.Fix {
		t.Helper()
		for deadline := time.After(15 * time.Second); ; {
			select {
			case f := <-fixes:
				if f.Valid && time.Since(f.Time) < 30*time.Second {
					return f
				}
			case <-deadline:
				t.Fatalf("no fix %s; stats %+v\nlog:\n%s", what, src.Stats(), &log)
			}
		}
	}
	f := fresh("from gpsd")
	// SKY's DOPs and satellites ride on the fixes that follow it.
	for !f.Is(gps.HasHDOP | gps.HasSats) {
		f = fresh("with SKY's DOPs")
	}
	if f.Sats < 4 || f.HDOP <= 0 || !f.Is(gps.HasAccuracy) || f.Accuracy != f.HDOP*gps.UERE {
		t.Errorf("fix from gpsd: %v (has %b)", f, f.Has)
	}

	g.stop()
	wait.For(t, 10*time.Second, "the loss", func() bool { return !src.Stats().Connected })
	time.Sleep(time.Second) // several reconnect attempts
	st := src.Stats()
	if !errors.Is(st.LastErr, syscall.ECONNREFUSED) || !strings.Contains(st.LastErr.Error(), "is gpsd running") {
		t.Errorf("while gpsd is down: %v", st.LastErr)
	}
	g.start()
	wait.For(t, 10*time.Second, "the reconnect", func() bool { return src.Stats().Connected })
	for len(fixes) > 0 {
		<-fixes
	}
	fresh("after gpsd restarted")
	out := log.String()
	for what, n := range map[string]int{"gpsd opened": 1, "gpsd lost": 1, "cannot open gpsd": 1, "gpsd back": 1} {
		if got := strings.Count(out, what); got != n {
			t.Errorf("%q logged %d times, want %d:\n%s", what, got, n, out)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(states, " "); !strings.HasPrefix(got, "true false") || !strings.HasSuffix(got, "true") {
		t.Errorf("OnState %s", got)
	}
}

// A gpsd address that is not one fails at once, with what would be.
func TestGpsdSourceBadAddress(t *testing.T) {
	for _, dev := range []string{"gpsd://", "gpsd:///dev/ttyUSB0", "gpsd://user@host", "gpsd://host:2947?x=1"} {
		err := (&gps.Source{Device: dev}).Run(context.Background(), make(chan gps.Fix))
		var de *gps.DeviceError
		if !errors.As(err, &de) || de.Device != dev {
			t.Errorf("%s: %v", dev, err)
		}
	}
}
