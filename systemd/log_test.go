package systemd

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/wait"
)

func TestLogJournalFormat(t *testing.T) {
	var out logbuf.Buffer
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
	var out logbuf.Buffer
	log := slog.New(NewLogHandler(&out, LogOptions{}))
	log.Debug("hidden at the default level")
	log.Info("hello", "n", 3)
	re := regexp.MustCompile(`^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\S* level=INFO msg=hello n=3\n$`)
	if got := out.String(); !re.MatchString(got) {
		t.Fatalf("got %q, want it to match %s", got, re)
	}
}

func TestLogHoldsRepeats(t *testing.T) {
	var out logbuf.Buffer
	h := NewLogHandler(&out, LogOptions{Journal: true, RepeatWindow: time.Hour})
	log := slog.New(h)
	for i := 0; i < 100; i++ {
		log.Warn("cannot open GPS device", "device", "/dev/ttyUSB0", "err", "no such file")
		if i%10 == 0 {
			log.Info("reconnecting", "attempt", i) // differs every time: never held
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1+10 {
		t.Fatalf("%d lines while repeating, want 11:\n%s", len(lines), out.String())
	}
	// The same message with other attributes is news: the count of the
	// held lines goes out first, then the new line.
	mqtt := log.With("part", "mqtt")
	mqtt.Warn("cannot open GPS device", "device", "/dev/ttyUSB0", "err", "no such file")
	want := `<4>level=WARN msg="cannot open GPS device" device=/dev/ttyUSB0 err="no such file" repeated=99
<4>level=WARN msg="cannot open GPS device" part=mqtt device=/dev/ttyUSB0 err="no such file"
`
	if !strings.HasSuffix(out.String(), want) {
		t.Fatalf("got:\n%s\nwant it to end with:\n%s", out.String(), want)
	}
	h.Flush()
	h.Flush()
	if strings.Count(out.String(), "repeated=") != 1 {
		t.Fatalf("flushing repeated a count:\n%s", out.String())
	}
}

// When the window closes the count is written without waiting for another
// log call, and the next identical line is written in full again.
func TestLogRepeatWindowCloses(t *testing.T) {
	var out logbuf.Buffer
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
	defer func() {
		if t.Failed() {
			t.Logf("written:\n%s", out.String())
		}
	}()
	wait.For(t, 10*time.Second, "the count of the repeats once the window closed", func() bool { return out.Contains("repeated=4") })
	if got, want := out.String(), line+"\n"+line+" repeated=4\n"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	log.Error("queue write failed", "err", "no space left on device")
	if !strings.HasSuffix(out.String(), "repeated=4\n"+line+"\n") {
		t.Fatalf("after the window:\n%s", out.String())
	}
}

func TestLogRepeatsOff(t *testing.T) {
	var out logbuf.Buffer
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
	var out logbuf.Buffer
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
	var out logbuf.Buffer
	log := slog.New(NewLogHandler(&out, LogOptions{Journal: true, Redact: []string{"", "hunter2hunter2", "s3cr3t-s3cr3t", "demo"}}))
	log.Warn("connect failed", "err", "bad user name or password hunter2hunter2", "url", "mqtts://dev:s3cr3t-s3cr3t@b:8883", "device", "demo-0001")
	got := out.String()
	if strings.Contains(got, "hunter2hunter2") || strings.Contains(got, "s3cr3t-s3cr3t") {
		t.Fatalf("secret in %q", got)
	}
	if strings.Count(got, Redacted) != 2 {
		t.Fatalf("got %q, want two %s", got, Redacted)
	}
	// A short bench password is not hunted for: it would mangle every
	// word that contains it.
	if !strings.Contains(got, "device=demo-0001") {
		t.Fatalf("a short secret mangled the line: %q", got)
	}
}

// slog escapes a value holding a quote, a backslash or a tab, so the raw
// secret never appears in the line and was never found; an error text
// quoting it with %q is escaped twice.
func TestLogRedactsEscapedSecrets(t *testing.T) {
	secrets := []string{`pa"ss\word-1`, "tab\tbed-secret", `back\slash\only`, "ünïcödé\x01ctl"}
	var out logbuf.Buffer
	log := slog.New(NewLogHandler(&out, LogOptions{Journal: true, RepeatWindow: -1, Redact: secrets}))
	for _, s := range secrets {
		log.Warn("login refused", "password", s)
		log.Warn("login refused", "err", fmt.Errorf("platform said: password %q is wrong", s))
		log.Warn("login refused", "err", errors.New("platform said: "+s+" is wrong"))
		log.With("password", s).Info("grouped", slog.Group("g", "p", s))
	}
	got := out.String()
	for _, s := range secrets {
		for _, form := range []string{s, strings.Trim(strconv.Quote(s), `"`), strings.Trim(strconv.Quote(strings.Trim(strconv.Quote(s), `"`)), `"`)} {
			if strings.Contains(got, form) {
				t.Errorf("%q shows as %q in:\n%s", s, form, got)
			}
		}
	}
	if n := strings.Count(got, Redacted); n != 5*len(secrets) {
		t.Errorf("%d redactions, want %d:\n%s", n, 5*len(secrets), got)
	}
}

// A secret under MinRedact bytes is hidden where it is a whole value (an
// attribute, an error, the message), not inside longer text.
func TestLogRedactsShortSecretsAsWholeValues(t *testing.T) {
	var out logbuf.Buffer
	log := slog.New(NewLogHandler(&out, LogOptions{Journal: true, RepeatWindow: -1, Redact: []string{"pw1", "INFO"}}))
	log.Info("connect", "password", "pw1", "err", errors.New("pw1"), "raw", []byte("pw1"))
	log.Info("pw1")
	log.With("p", "pw1").Info("with")
	log.Info("inside", "device", "pw1-device", "n", 1)
	got := out.String()
	want := "<6>level=INFO msg=connect password=[REDACTED] err=[REDACTED] raw=[REDACTED]\n" +
		"<6>level=INFO msg=[REDACTED]\n" +
		"<6>level=INFO msg=with p=[REDACTED]\n" +
		"<6>level=INFO msg=inside device=pw1-device n=1\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// check-config warns about the secrets the log can hide only as whole
// values: both count the same bytes.
func TestMinRedactIsConfigShortSecret(t *testing.T) {
	if MinRedact != config.ShortSecret {
		t.Errorf("MinRedact %d, config.ShortSecret %d", MinRedact, config.ShortSecret)
	}
}

// A state change always shows at once, even if the same line was written
// a moment ago with other lines of that message in between; a flapping
// pair is still held back.
func TestLogRepeatIsPerMessage(t *testing.T) {
	var out logbuf.Buffer
	h := NewLogHandler(&out, LogOptions{Journal: true, RepeatWindow: time.Hour})
	log := slog.New(h)
	log.Info("track settings", "period", "5s")
	log.Info("track settings", "period", "15s")
	log.Info("track settings", "period", "5s") // back to 5 s: a change, shown
	for i := 0; i < 5; i++ {
		log.Warn("mqtt connection lost", "err", "EOF")
		log.Info("mqtt connected")
	}
	h.Flush()
	want := `<6>level=INFO msg="track settings" period=5s
<6>level=INFO msg="track settings" period=15s
<6>level=INFO msg="track settings" period=5s
<4>level=WARN msg="mqtt connection lost" err=EOF
<6>level=INFO msg="mqtt connected"
`
	got := out.String()
	if !strings.HasPrefix(got, want) {
		t.Fatalf("got\n%s\nwant it to start with\n%s", got, want)
	}
	if !strings.Contains(got, `msg="mqtt connection lost" err=EOF repeated=4`) || !strings.Contains(got, `msg="mqtt connected" repeated=4`) {
		t.Fatalf("flapping pair not held back:\n%s", got)
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
