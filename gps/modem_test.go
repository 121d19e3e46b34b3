package gps_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/gps/gpssim"
	"github.com/pttagent/pttagent/gps/gpstest"
	"github.com/pttagent/pttagent/internal/logbuf"
)

// modem starts a simulated module whose GNSS plays the drive log (retimed,
// looped, at speed) while it is on.
func modem(t *testing.T, family string, speed float64) *gpssim.Modem {
	t.Helper()
	dir := t.TempDir()
	m, err := gpssim.NewModem(filepath.Join(dir, "at"), filepath.Join(dir, "nmea"), family)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx, &gpssim.Player{Speed: speed, Loop: true, Retime: true}, gpstest.DriveLog(t))
	}()
	t.Cleanup(func() { cancel(); <-done; m.Close() })
	return m
}

func preset(t *testing.T, name string) gps.ModemCommands {
	c, ok := gps.ModemPreset(name)
	if !ok {
		t.Fatalf("no preset %q", name)
	}
	return c
}

func TestModemQuectel(t *testing.T) {
	sim := modem(t, "quectel", 1)
	m := &gps.Modem{Port: sim.Control.Path, Commands: preset(t, "quectel"), Timeout: 2 * time.Second}
	ctx := context.Background()
	for i, step := range []struct {
		do   func(context.Context) error
		on   bool
		sent string
	}{
		{m.On, true, "AT AT+QGPS=1"},
		{m.On, true, "AT AT+QGPS=1"}, // +CME ERROR: 504, already on
		{m.Off, false, "AT AT+QGPSEND"},
		{m.Off, false, "AT AT+QGPSEND"}, // +CME ERROR: 505, already off
	} {
		before := len(sim.Received())
		if err := step.do(ctx); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := strings.Join(sim.Received()[before:], " "); sim.On() != step.on || got != step.sent {
			t.Errorf("step %d: on %v after %q, want %v after %q", i, sim.On(), got, step.on, step.sent)
		}
	}
	// With verbose errors the already-on answer is in words.
	verbose := preset(t, "quectel")
	verbose.Enable = append([]string{"AT+CMEE=2"}, verbose.Enable...)
	m.Commands = verbose
	for range 2 {
		if err := m.On(ctx); err != nil {
			t.Fatalf("verbose: %v", err)
		}
	}
}

func TestModemSimcomAsksFirst(t *testing.T) {
	sim := modem(t, "simcom", 1)
	m := &gps.Modem{Port: sim.Control.Path, Commands: preset(t, "simcom")}
	ctx := context.Background()
	for i, step := range []struct {
		do   func(context.Context) error
		on   bool
		sent string
	}{
		{m.On, true, "AT AT+CGPS? AT+CGPS=1,1"},
		{m.On, true, "AT AT+CGPS?"}, // on already: a second enable would be a bare ERROR
		{m.Off, false, "AT AT+CGPS? AT+CGPS=0"},
		{m.Off, false, "AT AT+CGPS?"},
	} {
		before := len(sim.Received())
		if err := step.do(ctx); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := strings.Join(sim.Received()[before:], " "); sim.On() != step.on || got != step.sent {
			t.Errorf("step %d: on %v after %q, want %v after %q", i, sim.On(), got, step.on, step.sent)
		}
	}
}

func TestModemErrors(t *testing.T) {
	sim := modem(t, "quectel", 1)
	ctx := context.Background()

	// A port that answers nothing: not an AT port.
	sim.SetMute(true)
	m := &gps.Modem{Port: sim.Control.Path, Commands: preset(t, "quectel"), Timeout: 300 * time.Millisecond}
	err := m.On(ctx)
	var me *gps.ModemError
	if !errors.As(err, &me) || !errors.Is(err, gps.ErrNoAnswer) || me.Command != "AT" ||
		!strings.Contains(err.Error(), "is gps.modem.control the modem's AT port") {
		t.Errorf("mute: %v", err)
	}
	sim.SetMute(false)

	// A command the module does not know: refused, with its answer.
	m.Commands.Enable = []string{"AT+QGPS=1", "AT+NOSUCH=1"}
	err = m.On(ctx)
	if !errors.As(err, &me) || !errors.Is(err, gps.ErrRefused) || me.Command != "AT+NOSUCH=1" || me.Answer != "ERROR" ||
		!strings.Contains(err.Error(), "is gps.modem.type the right family") {
		t.Errorf("refused: %v", err)
	}

	// No port: the module is away (resetting).
	m.Port = filepath.Join(t.TempDir(), "gone")
	if err := m.On(ctx); !errors.Is(err, fs.ErrNotExist) && !isNotFound(err) || !strings.Contains(fmt.Sprint(err), "is the modem up") {
		t.Errorf("no port: %v", err)
	}

	// A command with a line end in it would be two commands.
	m.Port = sim.Control.Path
	m.Commands.Enable = []string{"AT+QGPS=1\rAT+QGPSEND"}
	if err := m.On(ctx); err == nil || !strings.Contains(err.Error(), "line end") {
		t.Errorf("line end: %v", err)
	}
}

func isNotFound(err error) bool {
	var pe *serial.PortError
	return errors.As(err, &pe) && pe.Code() == serial.PortNotFound
}

// A command is never left half-written: a timeout or a cancel comes only
// after the whole line went out, and a line someone else left unfinished
// in the module is ended by the first AT rather than spoiling our enable.
func TestModemNeverHalfWritten(t *testing.T) {
	sim := modem(t, "quectel", 1)
	sim.SetDelay(time.Second)
	m := &gps.Modem{Port: sim.Control.Path, Commands: preset(t, "quectel")}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := m.On(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("On with a slow module = %v", err)
	}
	sim.SetDelay(0)
	time.Sleep(time.Second) // the late answer arrives while nobody listens

	// Someone else's unfinished line.
	p, err := serial.Open(sim.Control.Path, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("AT+QG"))
	p.Close()

	if err := m.On(context.Background()); err != nil {
		t.Fatalf("On after a cancel and a stray line: %v", err)
	}
	got := sim.Received()
	if want := []string{"AT", "AT+QGAT", "AT", "AT+QGPS=1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the module received %q, want %q", got, want)
	}
	if !sim.On() {
		t.Error("GNSS not on")
	}
}

// The Source with a modem's GNSS: on at start, again after the module
// resets (with and without re-enumerating its USB ports), off at the end.
func TestSourceModemGNSS(t *testing.T) {
	for _, family := range []string{"quectel", "simcom"} {
		t.Run(family, func(t *testing.T) {
			sim := modem(t, family, 4)
			var log logbuf.Buffer
			src := &gps.Source{Device: sim.NMEA.Path, SilenceTimeout: time.Second,
				Switch: &gps.Modem{Port: sim.Control.Path, Commands: preset(t, family), Timeout: 2 * time.Second},
				Logger: slog.New(slog.NewTextHandler(&log, nil))}
			fixes := make(chan gps.Fix, 100)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- src.Run(ctx, fixes) }()
			defer func() {
				if t.Failed() {
					t.Logf("stats %+v\nreceived %q\nlog:\n%s", src.Stats(), sim.Received(), &log)
				}
			}()
			fixAfter := func(what string) {
				t.Helper()
				for deadline := time.After(10 * time.Second); ; {
					select {
					case f := <-fixes:
						if f.Valid && time.Since(f.Time) < 30*time.Second {
							return
						}
					case <-deadline:
						t.Fatalf("no fix %s", what)
					}
				}
			}
			drain := func() {
				for len(fixes) > 0 {
					<-fixes
				}
			}
			fixAfter("after start")
			if !sim.On() || src.Stats().Switched != 1 {
				t.Fatalf("on %v, switched %d", sim.On(), src.Stats().Switched)
			}
			for i, reenumerate := range []bool{false, true} {
				if err := sim.Reset(reenumerate); err != nil {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond)
				drain()
				fixAfter(fmt.Sprintf("after reset %d (re-enumerated %v)", i+1, reenumerate))
				if n := sim.Enables(); n != i+2 {
					t.Errorf("after reset %d: %d enables, want %d", i+1, n, i+2)
				}
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run = %v", err)
			}
			if sim.On() {
				t.Error("GNSS left on after Run returned")
			}
			if st := src.Stats(); st.SwitchErr != nil || st.Switched < 3 {
				t.Errorf("switch: %d, %v", st.Switched, st.SwitchErr)
			}
		})
	}
}

// A module that does not answer: the Source says so once, the silence that
// follows names the cause, and the GNSS comes on when the module does.
func TestSourceModemEnableFails(t *testing.T) {
	sim := modem(t, "quectel", 4)
	sim.SetMute(true)
	var log logbuf.Buffer
	src := &gps.Source{Device: sim.NMEA.Path, SilenceTimeout: time.Second,
		Switch: &gps.Modem{Port: sim.Control.Path, Commands: preset(t, "quectel"), Timeout: 200 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(&log, nil))}
	fixes := make(chan gps.Fix, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go src.Run(ctx, fixes)
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: stats %+v\nlog:\n%s", what, src.Stats(), &log)
			}
		}
	}
	wait("two silences", func() bool { return src.Stats().Disconnects >= 2 })
	st := src.Stats()
	if !errors.Is(st.SwitchErr, gps.ErrNoAnswer) || !errors.Is(st.LastErr, gps.ErrSilent) ||
		!strings.Contains(st.LastErr.Error(), "GNSS is not on") || !strings.Contains(st.LastErr.Error(), "AT port") {
		t.Errorf("switch error %v, last error %v", st.SwitchErr, st.LastErr)
	}
	if n := strings.Count(log.String(), "cannot turn the GNSS on"); n != 1 {
		t.Errorf("logged %d times:\n%s", n, &log)
	}
	sim.SetMute(false)
	wait("a fix", func() bool { return src.Stats().LastFix.Valid })
	if !strings.Contains(log.String(), "GNSS on again") || src.Stats().SwitchErr != nil {
		t.Errorf("log:\n%s", &log)
	}
}
