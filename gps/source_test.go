package gps_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
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

func sentence(body string) string {
	var s byte
	for i := 0; i < len(body); i++ {
		s ^= body[i]
	}
	return fmt.Sprintf("$%s*%02X\r\n", body, s)
}

// cycle is one u-blox style cycle at t, ending with GLL.
func cycle(t time.Time) string {
	tm, date := t.Format("150405.00"), t.Format("020106")
	return sentence("GNRMC,"+tm+",A,4807.03800,N,01131.00000,E,0.000,,"+date+",,,A") +
		sentence("GNGGA,"+tm+",4807.03800,N,01131.00000,E,1,08,1.01,545.4,M,46.9,M,,") +
		sentence("GNGSA,A,3,01,02,03,04,05,06,07,08,,,,,1.94,1.01,1.54") +
		sentence("GPGSV,1,1,01,23,38,230,44") +
		sentence("GNGLL,4807.03800,N,01131.00000,E,"+tm+",A,A")
}

var t0 = time.Date(2024, 11, 19, 6, 0, 0, 0, time.UTC)

type harness struct {
	t     *testing.T
	dev   *gpssim.Device
	src   *gps.Source
	log   *logbuf.Buffer
	fixes chan gps.Fix
	done  chan error
	stop  context.CancelFunc
}

func start(t *testing.T, fixes chan gps.Fix, configure func(*gps.Source)) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gps0")
	dev, err := gpssim.NewDevice(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	h := &harness{t: t, dev: dev, log: &logbuf.Buffer{}, fixes: fixes, done: make(chan error, 1)}
	h.src = &gps.Source{Device: path, Baud: 9600, Logger: slog.New(slog.NewTextHandler(h.log, nil))}
	if configure != nil {
		configure(h.src)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.done <- h.src.Run(ctx, fixes) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stats %+v\nlog:\n%s", h.src.Stats(), h.log)
		}
	})
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

// write writes in the background: a pty blocks when nobody reads.
func (h *harness) write(s string) {
	go h.dev.WriteString(s)
}

// next waits for a fix.
func (h *harness) next() gps.Fix {
	h.t.Helper()
	select {
	case f := <-h.fixes:
		return f
	case <-time.After(5 * time.Second):
		h.t.Fatal("no fix within 5 s")
	}
	return gps.Fix{}
}

// waitStats waits for the Source's counters to show what; a failed test
// logs them and the Source's log.
func (h *harness) waitStats(what string, cond func(gps.Stats) bool) {
	h.t.Helper()
	wait.For(h.t, 5*time.Second, what, func() bool { return cond(h.src.Stats()) })
}

func TestSourceReadsPTY(t *testing.T) {
	h := start(t, make(chan gps.Fix, 10), nil)
	h.waitStats("open", func(s gps.Stats) bool { return s.Connected })
	h.write(cycle(t0) + cycle(t0.Add(time.Second)) + cycle(t0.Add(2*time.Second)))
	for i := range 3 {
		f := h.next()
		if !f.Valid || !f.Time.Equal(t0.Add(time.Duration(i)*time.Second)) || f.Sats != 8 {
			t.Errorf("fix %d: %v", i, f)
		}
	}
	// The counters are published once the read's bytes are all scanned,
	// which can be just after the last fix went out.
	h.waitStats("the third fix counted", func(s gps.Stats) bool { return s.Fixes == 3 })
	st := h.src.Stats()
	if !st.Connected || st.Opens != 1 || st.Fixes != 3 || st.Sentences != 12 || st.Ignored != 3 || st.Bytes == 0 {
		t.Errorf("stats %+v", st)
	}
	if !st.LastFix.Time.Equal(t0.Add(2*time.Second)) || time.Since(st.LastFixAt) > 5*time.Second {
		t.Errorf("last fix %v at %v", st.LastFix, st.LastFixAt)
	}
	if n := strings.Count(h.log.String(), "receiver opened"); n != 1 {
		t.Errorf("log:\n%s", h.log)
	}
}

func TestSourceUnplugReplug(t *testing.T) {
	h := start(t, make(chan gps.Fix, 10), nil)
	h.waitStats("open", func(s gps.Stats) bool { return s.Connected })
	h.write(cycle(t0) + cycle(t0.Add(time.Second)))
	h.next()
	h.next()

	// Unplugged in the middle of a sentence.
	if _, err := h.dev.WriteString(cycle(t0.Add(2 * time.Second))[:100]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := h.dev.Unplug(); err != nil {
		t.Fatal(err)
	}
	h.waitStats("the loss", func(s gps.Stats) bool { return !s.Connected && s.Disconnects == 1 })
	// Stay away long enough for several reopen attempts (0.1+0.2+0.4+0.8 s).
	time.Sleep(1600 * time.Millisecond)
	st := h.src.Stats()
	if !errors.Is(st.LastErr, fs.ErrNotExist) || !strings.Contains(st.LastErr.Error(), "is the receiver plugged in?") {
		t.Errorf("while unplugged: LastErr %v", st.LastErr)
	}
	if err := h.dev.Replug(); err != nil {
		t.Fatal(err)
	}
	h.waitStats("the return", func(s gps.Stats) bool { return s.Connected })
	h.write(cycle(t0.Add(10*time.Second)) + cycle(t0.Add(11*time.Second)))
	for _, want := range []time.Time{t0.Add(10 * time.Second), t0.Add(11 * time.Second)} {
		if f := h.next(); !f.Valid || !f.Time.Equal(want) {
			// The half cycle before the unplug must not come out as a fix.
			t.Errorf("after replug: %v, want a fix at %v", f, want)
		}
	}
	st = h.src.Stats()
	if st.Opens != 2 || st.Disconnects != 1 || st.LastErr != nil || st.Drops[gps.DropCut] != 1 {
		t.Errorf("stats %+v", st)
	}
	log := h.log.String()
	for what, n := range map[string]int{"receiver opened": 1, "receiver lost": 1, "receiver back": 1, "cannot open receiver": 1} {
		if got := strings.Count(log, what); got != n {
			t.Errorf("%q logged %d times, want %d:\n%s", what, got, n, log)
		}
	}
}

func TestSourceSilence(t *testing.T) {
	h := start(t, make(chan gps.Fix, 10), func(s *gps.Source) { s.SilenceTimeout = 300 * time.Millisecond })
	h.waitStats("open", func(s gps.Stats) bool { return s.Connected })
	h.write(cycle(t0))
	// The module goes quiet with the port still open: the Source must give
	// up on the descriptor and open the device again.
	h.waitStats("a reopen", func(s gps.Stats) bool { return s.Opens >= 2 && s.Disconnects >= 1 })
	st := h.src.Stats()
	if !strings.Contains(h.log.String(), "no data from the receiver") {
		t.Errorf("log does not say why:\n%s", h.log)
	}
	h.write(cycle(t0.Add(time.Second)) + cycle(t0.Add(2*time.Second)))
	if f := h.next(); !f.Valid {
		t.Errorf("no fix after the reopen: %v (stats %+v)", f, st)
	}
}

func TestSourceGarbageNeverFixes(t *testing.T) {
	h := start(t, make(chan gps.Fix, 10), nil)
	h.waitStats("open", func(s gps.Stats) bool { return s.Connected })
	var junk bytes.Buffer
	for i := range 4000 {
		junk.WriteByte(byte(i*7919 + i/13)) // every byte value, '$' included
	}
	// A wrong baud rate looks like this, and so does a cut sentence spliced
	// onto another with a checksum that happens to be wrong.
	junk.WriteString("$GNRMC,060000.00,A,4807.038,N,01131.0$GNGGA,060000.00,4807.038,N,01131.000,E,1,08,1.0,545.4,M,,M,,*00\r\n")
	h.write(junk.String())
	h.waitStats("the garbage to be read", func(s gps.Stats) bool { return s.Bytes >= uint64(junk.Len()) })
	select {
	case f := <-h.fixes:
		t.Fatalf("a fix from garbage: %v", f)
	case <-time.After(200 * time.Millisecond):
	}
	st := h.src.Stats()
	if st.Drops.Total() == 0 || st.Fixes != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSourceSlowConsumer(t *testing.T) {
	fixes := make(chan gps.Fix) // and nobody reads it for a while
	h := start(t, fixes, nil)
	h.waitStats("open", func(s gps.Stats) bool { return s.Connected })
	var b strings.Builder
	for i := range 20 {
		b.WriteString(cycle(t0.Add(time.Duration(i) * time.Second)))
	}
	h.write(b.String())
	// The reader is not held up by the consumer...
	h.waitStats("all 20 cycles", func(s gps.Stats) bool { return s.Fixes == 20 })
	// ...which then gets the four newest fixes in order, and every fix is
	// either delivered or counted.
	want := t0.Add(19 * time.Second)
	received := 0
	var last time.Time
	for f := h.next(); ; f = h.next() {
		received++
		if !f.Time.After(last) {
			t.Errorf("fix %v after %v: out of order", f.Time, last)
		}
		last = f.Time
		if f.Time.Equal(want) {
			break
		}
		if received == 5 {
			t.Fatalf("fifth fix received is %v, want the newest %v", f.Time, want)
		}
	}
	if st := h.src.Stats(); st.FixesDropped != uint64(20-received) {
		t.Errorf("FixesDropped = %d, received %d of 20", st.FixesDropped, received)
	}
}

func TestSourceOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notTTY := filepath.Join(dir, "file")
	if err := os.WriteFile(notTTY, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		device string
		is     error
		hint   string
	}{
		{filepath.Join(dir, "missing"), fs.ErrNotExist, "is the receiver plugged in? check gps.device"},
		{notTTY, nil, "not a serial port"},
	} {
		var log logbuf.Buffer
		src := &gps.Source{Device: tt.device, Logger: slog.New(slog.NewTextHandler(&log, nil))}
		ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
		err := src.Run(ctx, make(chan gps.Fix))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run = %v", err)
		}
		var de *gps.DeviceError
		st := src.Stats()
		if !errors.As(st.LastErr, &de) || de.Op != "open" || de.Device != tt.device || !strings.Contains(de.Error(), tt.hint) {
			t.Errorf("%s: LastErr %v", tt.device, st.LastErr)
		}
		if tt.is != nil && !errors.Is(st.LastErr, tt.is) {
			t.Errorf("%s: LastErr %v is not %v", tt.device, st.LastErr, tt.is)
		}
		// Several attempts (0, 0.1, 0.3, 0.7 s), one log line.
		if n := strings.Count(log.String(), "cannot open receiver"); n != 1 || st.Opens != 0 {
			t.Errorf("%s: %d log lines, %d opens:\n%s", tt.device, n, st.Opens, log.String())
		}
	}
	// Permission is the classic: it must say what to do.
	err := &gps.DeviceError{Op: "open", Device: "/dev/ttyACM0", Err: syscall.EACCES}
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "add the service user to group dialout") {
		t.Errorf("EACCES: %v", err)
	}
	if err := (&gps.Source{}).Run(context.Background(), nil); err == nil {
		t.Error("Run without a device did not fail")
	}
}

func TestSourceOnSentence(t *testing.T) {
	var mu sync.Mutex
	var types []string
	h := start(t, make(chan gps.Fix, 10), func(s *gps.Source) {
		s.OnSentence = func(b []byte) {
			mu.Lock()
			types = append(types, string(b[3:6]))
			mu.Unlock()
		}
	})
	h.waitStats("open", func(s gps.Stats) bool { return s.Connected })
	// The first cycle ends when the second begins.
	h.write(cycle(t0) + cycle(t0.Add(time.Second)))
	h.next()
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(types[:5], " "); got != "RMC GGA GSA GSV GLL" {
		t.Errorf("OnSentence saw %v", types)
	}
}

// A 10 Hz receiver through a pty: every cycle is a fix, in order, a tenth
// of a second apart, and none is dropped for a consumer that keeps up.
func TestSourceTenHertz(t *testing.T) {
	data, err := os.ReadFile("testdata/ublox-m8-10hz.nmea")
	if err != nil {
		t.Fatal(err)
	}
	// The first 20 cycles (2 s of the log).
	lines := strings.SplitAfter(string(data), "\n")
	var part strings.Builder
	for i, n := 0, 0; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "$GPRMC") {
			if n++; n > 20 {
				break
			}
		}
		part.WriteString(lines[i])
	}
	h := start(t, make(chan gps.Fix, 100), nil)
	h.waitStats("open", func(s gps.Stats) bool { return s.Connected })
	go (&gpssim.Player{Speed: 2}).Play(context.Background(), h.dev, []byte(part.String()))
	first := time.Date(2025, 9, 8, 7, 40, 0, 0, time.UTC)
	for i := range 20 {
		f := h.next()
		if want := first.Add(time.Duration(i) * 100 * time.Millisecond); !f.Time.Equal(want) || !f.Valid || !f.Is(gps.HasGST) {
			t.Fatalf("fix %d: %v, want a valid fix with GST at %v", i, f, want)
		}
	}
	if st := h.src.Stats(); st.FixesDropped != 0 || st.Late != 0 {
		t.Errorf("dropped %d, late %d", st.FixesDropped, st.Late)
	}
}

// Stats.Hint names what to check, in the caller's words.
func TestStatsHint(t *testing.T) {
	now := time.Now()
	quiet := gps.Stats{Device: "/dev/ttyUSB1", Connected: true, Since: now.Add(-4 * time.Second)}
	if h := quiet.Hint(now, 9600, gps.SettingNames{}); !strings.Contains(h, "nothing from the receiver") || !strings.Contains(h, "set gps.modem.type and gps.modem.control") {
		t.Errorf("silent port: %q", h)
	}
	quiet.Switched = 1
	if h := quiet.Hint(now, 9600, gps.SettingNames{}); strings.Contains(h, "gps.modem") {
		t.Errorf("a modem's silent port: %q", h)
	}
	if h := quiet.Hint(now.Add(-2*time.Second), 9600, gps.SettingNames{}); h != "" {
		t.Errorf("too early to say: %q", h)
	}
	garbage := gps.Stats{Device: "/dev/ttyUSB1", Connected: true, Since: now, Bytes: 5000}
	garbage.Drops[gps.DropGarbage] = 40
	if h := garbage.Hint(now, 38400, gps.SettingNames{}); !strings.Contains(h, "wrong baud rate? (38400 now") || !strings.Contains(h, "try gps.baud 9600, 4800, 115200") {
		t.Errorf("garbage: %q", h)
	}
	garbage.Sentences = 1
	if h := garbage.Hint(now, 38400, gps.SettingNames{}); h != "" {
		t.Errorf("some sentences come through: %q", h)
	}
	if h := (gps.Stats{Device: "gpsd://localhost", Connected: true, Since: now.Add(-time.Hour)}).Hint(now, 9600, gps.SettingNames{}); h != "" {
		t.Errorf("gpsd: %q", h)
	}
}
