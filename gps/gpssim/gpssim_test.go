package gpssim_test

import (
	"bytes"
	"context"
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
)

func sentence(body string) string {
	var s byte
	for i := 0; i < len(body); i++ {
		s ^= body[i]
	}
	return fmt.Sprintf("$%s*%02X\r\n", body, s)
}

// A log across midnight, with a comment, garbage and a time-less GSA.
var log = "# a comment line\r\n" +
	sentence("GPRMC,235958.50,A,4807.038,N,01131.000,E,0.0,0.0,311224,,,A") +
	sentence("GPGGA,235958.50,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,") +
	"garbage\r\n" +
	sentence("GPGSA,A,3,01,02,03,,,,,,,,,,1.8,1.0,1.5") +
	sentence("GPRMC,235959.50,A,4807.038,N,01131.000,E,0.0,0.0,311224,,,A") +
	sentence("GPGGA,235959.50,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,") +
	sentence("GPRMC,000000.50,A,4807.038,N,01131.000,E,0.0,0.0,010125,,,A") +
	sentence("GPZDA,000000.50,01,01,2025,00,00")

type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func TestPlayerPaces(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)}
	var out bytes.Buffer
	p := gpssim.Player{Speed: 2, Now: clock.Now, Sleep: clock.Sleep}
	if err := p.Play(context.Background(), &out, []byte(log)); err != nil {
		t.Fatal(err)
	}
	// Two cycle changes one second apart each (across midnight), halved.
	if fmt.Sprint(clock.sleeps) != "[500ms 500ms]" {
		t.Errorf("sleeps %v", clock.sleeps)
	}
	// Without Retime the log goes out as it is, garbage included, comments
	// not.
	if want := strings.TrimPrefix(log, "# a comment line\r\n"); out.String() != want {
		t.Errorf("output\n%q\nwant\n%q", out.String(), want)
	}
}

func TestPlayerRetimes(t *testing.T) {
	clock := &fakeClock{now: time.Date(2030, 5, 6, 7, 8, 9, 300e6, time.UTC)}
	var out bytes.Buffer
	p := gpssim.Player{Loop: true, Retime: true, Now: clock.Now, Sleep: clock.Sleep}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Two passes: the writer cancels when the second one is done.
	w := &cancelAfter{w: &out, n: 2 * 8, cancel: cancel}
	if err := p.Play(ctx, w, []byte(log)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Play = %v", err)
	}
	played := out.String()
	sc := gps.NewScanner(strings.NewReader(played))
	var m gps.Merger
	var times []string
	for sc.Scan() {
		if f, ok := m.Feed(sc.Bytes()); ok {
			times = append(times, f.Time.Format("2006-01-02T15:04:05.00"))
		}
	}
	if f, ok := m.Flush(); ok {
		times = append(times, f.Time.Format("2006-01-02T15:04:05.00"))
	}
	// The log's first time becomes the current second, keeping its half
	// second; the second pass starts a second after the first ended.
	want := "[2030-05-06T07:08:09.50 2030-05-06T07:08:10.50 2030-05-06T07:08:11.50 2030-05-06T07:08:12.50 2030-05-06T07:08:13.50 2030-05-06T07:08:14.50]"
	if fmt.Sprint(times) != want {
		t.Errorf("retimed fixes\n%v\nwant\n%v", times, want)
	}
	if c := sc.Counters(); c.Drops[gps.DropChecksum] != 0 || c.Drops[gps.DropGarbage] != 2 {
		t.Errorf("checksums not recomputed, or garbage not kept: %v", c.Drops)
	}
	if c := m.Counters(); c.Drops.Total() != 0 || c.Sentences != 14 {
		t.Errorf("merger %+v", c)
	}
	if !strings.Contains(played, ",06,05,2030,") {
		t.Errorf("ZDA date not rewritten:\n%s", played)
	}
}

// cancelAfter cancels after n writes.
type cancelAfter struct {
	w      io.Writer
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return c.w.Write(p)
}

func TestDeviceUnplugReplug(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gps0")
	dev, err := gpssim.NewDevice(path)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	first := dev.Name()
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// CR LF arrive as they were written: the line discipline is raw.
	if _, err := dev.WriteString("$A*41\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "$A*41\r\n" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}

	if err := dev.Unplug(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("link still there after Unplug: %v", err)
	}
	if _, err := dev.WriteString("x"); !errors.Is(err, gpssim.ErrUnplugged) {
		t.Errorf("Write while unplugged: %v", err)
	}
	if n, err := r.Read(buf); err == nil && n > 0 {
		t.Errorf("the open port still reads %q after the unplug", buf[:n])
	}

	if err := dev.Replug(); err != nil {
		t.Fatal(err)
	}
	if !dev.Plugged() || dev.Name() == "" {
		t.Fatalf("not plugged after Replug")
	}
	if target, err := os.Readlink(path); err != nil || target != dev.Name() {
		t.Errorf("link %q, %v; want %s (was %s)", target, err, dev.Name(), first)
	}
}

func TestDeviceLossy(t *testing.T) {
	dev, err := gpssim.NewDevice(filepath.Join(t.TempDir(), "gps0"))
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	dev.Lossy = true
	// Nobody reads: a blocking device would stop after the tty's buffer.
	chunk := bytes.Repeat([]byte("$GPTXT,01,01,02,lossy*00\r\n"), 1000)
	start := time.Now()
	for range 10 {
		if n, err := dev.Write(chunk); err != nil || n != len(chunk) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if dev.Dropped() == 0 || time.Since(start) > 5*time.Second {
		t.Errorf("dropped %d bytes in %v", dev.Dropped(), time.Since(start))
	}
}
