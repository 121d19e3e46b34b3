package systemd

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer the handler's timer goroutine and the test
// can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogJournalFormat(t *testing.T) {
	var out syncBuffer
	log := slog.New(NewLogHandler(&out, LogOptions{Journal: true, Level: slog.LevelDebug}))
	log.Debug("nmea checksum", "device", "/dev/ttyUSB0")
	log.Info("pttagent starting", "version", "1.2.3", "brokers", []string{"mqtts://b:8883"})
	log.With("part", "mqtt").Warn("connect failed", "err", errors.New("dial tcp: connection refused"))
	log.WithGroup("gps").Error("serial", "device", "/dev/ttyS1", "detail", "a \"quoted\" word")
	want := `<7>level=DEBUG msg="nmea checksum" device=/dev/ttyUSB0
<6>level=INFO msg="pttagent starting" version=1.2.3 brokers=[mqtts://b:8883]
<4>level=WARN msg="connect failed" part=mqtt err="dial tcp: connection refused"
<3>level=ERROR msg=serial gps.device=/dev/ttyS1 gps.detail="a \"quoted\" word"
`
	if got := out.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestLogPlainFormat(t *testing.T) {
	var out syncBuffer
	log := slog.New(NewLogHandler(&out, LogOptions{}))
	log.Debug("hidden at the default level")
	log.Info("hello", "n", 3)
	re := regexp.MustCompile(`^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\S* level=INFO msg=hello n=3\n$`)
	if got := out.String(); !re.MatchString(got) {
		t.Fatalf("got %q, want it to match %s", got, re)
	}
}

func TestLogHoldsRepeats(t *testing.T) {
	var out syncBuffer
	h := NewLogHandler(&out, LogOptions{Journal: true, RepeatWindow: time.Hour})
	log := slog.New(h)
	for i := 0; i < 100; i++ {
		log.Warn("cannot open GPS device", "device", "/dev/ttyUSB0", "err", "no such file")
		if i%10 == 0 {
			log.Info("reconnecting", "attempt", i) // differs every time: never held
		}
	}
	mqtt := log.With("part", "mqtt")
	mqtt.Warn("cannot open GPS device", "device", "/dev/ttyUSB0", "err", "no such file") // other attrs: not identical
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1+10+1 {
		t.Fatalf("%d lines before flush, want 12:\n%s", len(lines), out.String())
	}
	h.Flush()
	last := lines[len(lines)-1]
	if !strings.Contains(last, "part=mqtt") {
		t.Fatalf("last line %q", last)
	}
	want := `<4>level=WARN msg="cannot open GPS device" device=/dev/ttyUSB0 err="no such file" repeated=99` + "\n"
	if !strings.HasSuffix(out.String(), want) {
		t.Fatalf("after flush:\n%s\nwant it to end with %q", out.String(), want)
	}
	h.Flush()
	if strings.Count(out.String(), "repeated=") != 1 {
		t.Fatal("a second flush repeated the count")
	}
}

// When the window closes the count is written without waiting for another
// log call, and the next identical line is written in full again.
func TestLogRepeatWindowCloses(t *testing.T) {
	var out syncBuffer
	h := NewLogHandler(&out, LogOptions{Journal: true, RepeatWindow: 50 * time.Millisecond})
	// The clock stands still, so the five lines fall in one window however
	// slowly they are written (qemu, a loaded machine); the window's timer
	// runs on real time.
	t0 := time.Now()
	h.out.now = func() time.Time { return t0 }
	log := slog.New(h)
	for i := 0; i < 5; i++ {
		log.Error("queue write failed", "err", "no space left on device")
	}
	const line = `<3>level=ERROR msg="queue write failed" err="no space left on device"`
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "repeated=4") {
		if time.Now().After(deadline) {
			t.Fatalf("no count after the window:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, want := out.String(), line+"\n"+line+" repeated=4\n"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	log.Error("queue write failed", "err", "no space left on device")
	if !strings.HasSuffix(out.String(), "repeated=4\n"+line+"\n") {
		t.Fatalf("after the window:\n%s", out.String())
	}
}

func TestLogRepeatsOff(t *testing.T) {
	var out syncBuffer
	log := slog.New(NewLogHandler(&out, LogOptions{Journal: true, RepeatWindow: -1}))
	for i := 0; i < 3; i++ {
		log.Info("same")
	}
	if n := strings.Count(out.String(), "msg=same"); n != 3 {
		t.Fatalf("%d lines, want 3", n)
	}
}

// The table of recent lines stays bounded when every line differs.
func TestLogRecentBounded(t *testing.T) {
	var out syncBuffer
	h := NewLogHandler(&out, LogOptions{Journal: true, RepeatWindow: time.Hour})
	log := slog.New(h)
	for i := 0; i < 3*maxRecent; i++ {
		log.Info("point", "seq", i)
	}
	h.out.mu.Lock()
	n := len(h.out.recent)
	h.out.mu.Unlock()
	if n > maxRecent {
		t.Fatalf("%d recent lines kept, want ≤ %d", n, maxRecent)
	}
	if c := strings.Count(out.String(), "\n"); c != 3*maxRecent {
		t.Fatalf("%d lines written, want %d", c, 3*maxRecent)
	}
}

func TestLogRedacts(t *testing.T) {
	var out syncBuffer
	log := slog.New(NewLogHandler(&out, LogOptions{Journal: true, Redact: []string{"", "hunter2", "s3cr3t"}}))
	log.Warn("connect failed", "err", "bad user name or password hunter2", "url", "mqtts://dev:s3cr3t@b:8883")
	got := out.String()
	if strings.Contains(got, "hunter2") || strings.Contains(got, "s3cr3t") {
		t.Fatalf("secret in %q", got)
	}
	if strings.Count(got, Redacted) != 2 {
		t.Fatalf("got %q, want two %s", got, Redacted)
	}
}

// JOURNAL_STREAM is checked against the real stderr's device and inode.
func TestStderrIsJournal(t *testing.T) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(os.Stderr.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  string
		want bool
	}{
		{"", false},
		{fmt.Sprintf("%d:%d", st.Dev, st.Ino), true},
		{fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), false}, // stderr redirected elsewhere by a wrapper
		{"garbage", false},
	} {
		t.Setenv("JOURNAL_STREAM", c.env)
		if got := StderrIsJournal(); got != c.want {
			t.Errorf("JOURNAL_STREAM=%q: %v, want %v", c.env, got, c.want)
		}
	}
}

func BenchmarkLogHandler(b *testing.B) {
	log := slog.New(NewLogHandler(discard{}, LogOptions{Journal: true}))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		log.Info("track batch acknowledged", "seq", i, "points", 50)
	}
}

// The case the hold-back is for: the same line over and over.
func BenchmarkLogHandlerRepeats(b *testing.B) {
	log := slog.New(NewLogHandler(discard{}, LogOptions{Journal: true, RepeatWindow: time.Hour}))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		log.Warn("cannot open GPS device", "device", "/dev/ttyUSB0")
	}
}

// The reference: slog's own text handler, which LogHandler wraps.
func BenchmarkLogTextHandlerReference(b *testing.B) {
	log := slog.New(slog.NewTextHandler(discard{}, nil))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		log.Info("track batch acknowledged", "seq", i, "points", 50)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func ExampleNewLogHandler() {
	h := NewLogHandler(os.Stdout, LogOptions{Journal: true})
	log := slog.New(h)
	defer h.Flush()
	log.Info("pttagent starting", "device", "dev-0001")
	log.Warn("uplink down", "broker", "mqtts://broker.example.com:8883")
	log.Warn("uplink down", "broker", "mqtts://broker.example.com:8883")
	// Output:
	// <6>level=INFO msg="pttagent starting" device=dev-0001
	// <4>level=WARN msg="uplink down" broker=mqtts://broker.example.com:8883
	// <4>level=WARN msg="uplink down" broker=mqtts://broker.example.com:8883 repeated=1
}
