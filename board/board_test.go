package board_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/board/boardtest"
	"github.com/pttagent/pttagent/internal/wait"
)

const (
	keyF1       = 59
	keyVolumeUp = 115
	keyA        = 30
)

func syn(b []byte, at time.Time) []byte { return board.AppendInputEvent(b, at, 0, 0, 0) }
func key(b []byte, at time.Time, code uint16, v int32) []byte {
	return syn(board.AppendInputEvent(b, at, 1, code, v), at)
}

func next(t *testing.T, ch <-chan board.KeyEvent) board.KeyEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no key event within 10 s")
	}
	return board.KeyEvent{}
}

// The evdev reader against a real stream of struct input_event records
// through a FIFO (no uinput on the CI machines): edges with the kernel's
// timestamps, autorepeat and unmapped keys ignored, a record split across
// writes, SYN_DROPPED, and a vanished device releasing the held key and
// being reopened.
func TestEvdevStream(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "event0")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan board.KeyEvent, 16)
	done := make(chan error, 1)
	ev := &board.Evdev{Path: fifo, Codes: map[uint16]board.KeyName{keyF1: board.PTT, keyVolumeUp: board.VolumeUp}, Grab: true, Retry: 20 * time.Millisecond}
	go func() { done <- ev.Run(ctx, events) }()

	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // blocks until the reader opened it
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2025, 11, 21, 8, 0, 0, 123456000, time.Local)
	var b []byte
	b = key(b, t1, keyF1, 1)
	b = key(b, t1.Add(500*time.Millisecond), keyF1, 2) // autorepeat
	b = key(b, t1.Add(600*time.Millisecond), keyA, 1)  // not ours
	b = key(b, t1.Add(time.Second), keyF1, 0)
	b = key(b, t1.Add(2*time.Second), keyVolumeUp, 1)
	// Split the next record in the middle, as a pipe may.
	half := len(b) - 30
	w.Write(b[:half])
	time.Sleep(10 * time.Millisecond)
	w.Write(b[half:])
	for _, want := range []board.KeyEvent{
		{Key: board.PTT, Down: true, Time: t1},
		{Key: board.PTT, Down: false, Time: t1.Add(time.Second)},
		{Key: board.VolumeUp, Down: true, Time: t1.Add(2 * time.Second)},
	} {
		if got := next(t, events); got.Key != want.Key || got.Down != want.Down || !got.Time.Equal(want.Time) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// The kernel dropped events: everything this reader thought held is
	// resynced (released, as a FIFO cannot be asked) at the next report,
	// and the incomplete events in between are ignored.
	b = board.AppendInputEvent(nil, t1.Add(3*time.Second), 0, 3, 0) // SYN_DROPPED
	b = board.AppendInputEvent(b, t1.Add(3*time.Second), 1, keyF1, 1)
	b = syn(b, t1.Add(4*time.Second))
	w.Write(b)
	if got := next(t, events); got.Key != board.VolumeUp || got.Down || !got.Time.Equal(t1.Add(4*time.Second)) {
		t.Fatalf("after SYN_DROPPED: %v", got)
	}
	// PTT held when the device vanishes: released, then reopened.
	w.Write(key(nil, t1.Add(5*time.Second), keyF1, 1))
	if got := next(t, events); got.Key != board.PTT || !got.Down {
		t.Fatalf("%v", got)
	}
	w.Close()
	if got := next(t, events); got.Key != board.PTT || got.Down {
		t.Fatalf("device gone: %v, want PTT released", got)
	}
	w, err = os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// The open above can succeed against the reader's old descriptor, just
	// before the reader closes it; a write in that moment finds no reader
	// (EPIPE) and is lost. Write again until the reopened reader has it.
	for {
		_, err := w.Write(key(nil, t1.Add(6*time.Second), keyF1, 1))
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EPIPE) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := next(t, events); got.Key != board.PTT || !got.Down || !got.Time.Equal(t1.Add(6*time.Second)) {
		t.Fatalf("after reopen: %v", got)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
}

func TestEvdevConfig(t *testing.T) {
	err := (&board.Evdev{Path: "/dev/input/event9"}).Run(context.Background(), nil)
	var de *board.DeviceError
	if !errors.As(err, &de) || de.Device != "/dev/input/event9" {
		t.Fatalf("no codes: %v", err)
	}
	for s, want := range map[string]uint16{"KEY_F1": 59, "115": 115, "0x100": 256, "BTN_0": 256} {
		if got, err := board.ParseKeyCode(s); err != nil || got != want {
			t.Errorf("%s: %d %v", s, got, err)
		}
	}
	for _, s := range []string{"KEY_NOPE", "0x300", "-1", ""} {
		if _, err := board.ParseKeyCode(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

type edge struct {
	at   time.Duration
	key  board.KeyName
	down bool
}

type out struct {
	emitted time.Duration // when the wrapper passed it on
	stamp   time.Duration // the edge's own time
	key     board.KeyName
	down    bool
}

func TestDebounce(t *testing.T) {
	const d = 10 * time.Millisecond
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		name string
		in   []edge
		want []out
	}{
		{"clean press and release pass at once",
			[]edge{{0, board.PTT, true}, {ms(100), board.PTT, false}},
			[]out{{0, 0, board.PTT, true}, {ms(100), ms(100), board.PTT, false}}},
		{"bouncing press is one press",
			[]edge{{0, board.PTT, true}, {ms(1), board.PTT, false}, {ms(2), board.PTT, true}, {ms(3), board.PTT, false}, {ms(4), board.PTT, true}},
			[]out{{0, 0, board.PTT, true}}},
		{"bouncing release is one release",
			[]edge{{0, board.PTT, true}, {ms(100), board.PTT, false}, {ms(101), board.PTT, true}, {ms(102), board.PTT, false}},
			[]out{{0, 0, board.PTT, true}, {ms(100), ms(100), board.PTT, false}}},
		{"a tap shorter than the window is reported when it ends",
			[]edge{{0, board.PTT, true}, {ms(4), board.PTT, false}},
			[]out{{0, 0, board.PTT, true}, {d, ms(4), board.PTT, false}}},
		{"keys are independent",
			[]edge{{0, board.PTT, true}, {ms(1), board.VolumeUp, true}, {ms(2), board.PTT, false}},
			[]out{{0, 0, board.PTT, true}, {ms(1), ms(1), board.VolumeUp, true}, {d, ms(2), board.PTT, false}}},
		{"a repeated state is not an edge",
			[]edge{{0, board.PTT, false}, {ms(50), board.PTT, true}, {ms(80), board.PTT, true}},
			[]out{{ms(50), ms(50), board.PTT, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				fake := boardtest.NewKey()
				ctx, cancel := context.WithCancel(t.Context())
				events := make(chan board.KeyEvent)
				var mu sync.Mutex
				var got []out
				go board.Debounce(fake, d).Run(ctx, events)
				go func() {
					for {
						select {
						case ev := <-events:
							mu.Lock()
							got = append(got, out{time.Since(start), ev.Time.Sub(start), ev.Key, ev.Down})
							mu.Unlock()
						case <-ctx.Done():
							return
						}
					}
				}()
				for _, e := range tc.in {
					time.Sleep(e.at - time.Since(start))
					fake.Send(board.KeyEvent{Key: e.key, Down: e.down, Time: time.Now()})
					synctest.Wait()
				}
				time.Sleep(time.Second)
				synctest.Wait()
				cancel()
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				if len(got) != len(tc.want) {
					t.Fatalf("got %+v\nwant %+v", got, tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Fatalf("event %d: got %+v, want %+v", i, got[i], tc.want[i])
					}
				}
			})
		})
	}
	if k := boardtest.NewKey(); board.Debounce(k, 0) != board.Key(k) {
		t.Fatal("Debounce(k, 0) should be k")
	}
}

func TestBenchSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "keys.sock")
	os.WriteFile(sock, nil, 0o600) // a stale file is replaced
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan board.KeyEvent, 8)
	done := make(chan error, 1)
	go func() { done <- (&board.Bench{Path: sock}).Run(ctx, events) }()
	var c net.Conn
	wait.For(t, 10*time.Second, "the bench socket to accept", func() bool {
		var err error
		c, err = net.Dial("unix", sock)
		return err == nil
	})
	if fi, _ := os.Stat(sock); fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v", fi.Mode().Perm())
	}
	r := bufio.NewReader(c)
	say := func(cmd, want string) {
		t.Helper()
		c.Write([]byte(cmd + "\n"))
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, want) {
			t.Fatalf("%q → %q %v, want %s…", cmd, line, err, want)
		}
	}
	say("ptt down", "ok")
	if ev := next(t, events); ev.Key != board.PTT || !ev.Down {
		t.Fatal(ev)
	}
	say("shout now", "error: unknown key")
	say("ptt sideways", "error:")
	say("volume_up tap 5", "ok")
	if a, b := next(t, events), next(t, events); a.Key != board.VolumeUp || !a.Down || b.Down || b.Time.Before(a.Time.Add(5*time.Millisecond)) {
		t.Fatalf("tap: %v %v", a, b)
	}
	c.Close() // PTT still held: released for us
	if ev := next(t, events); ev.Key != board.PTT || ev.Down {
		t.Fatalf("after close: %v", ev)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Error("socket left behind")
	}
}

func sysRoot(t *testing.T) string {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/sys")); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestSysfsLED(t *testing.T) {
	root := sysRoot(t)
	read := func(led, f string) string {
		b, _ := os.ReadFile(filepath.Join(root, "class/leds", led, f))
		return string(b)
	}
	tx, err := board.OpenLED(root, "red:tx")
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Blink(100*time.Millisecond, 400*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if read("red:tx", "trigger") != "timer" || read("red:tx", "delay_on") != "100" || read("red:tx", "delay_off") != "400" {
		t.Fatalf("blink: trigger %q on %q off %q", read("red:tx", "trigger"), read("red:tx", "delay_on"), read("red:tx", "delay_off"))
	}
	if err := tx.Set(true); err != nil || read("red:tx", "brightness") != "255" || read("red:tx", "trigger") != "none" {
		t.Fatalf("on: %v %q %q", err, read("red:tx", "brightness"), read("red:tx", "trigger"))
	}
	online, _ := board.OpenLED(root, "blue:online")
	if online.Set(true); read("blue:online", "brightness") != "1" {
		t.Fatal("max_brightness 1 LED")
	}
	if tx.Set(false); read("red:tx", "brightness") != "0" {
		t.Fatal("off")
	}
	_, err = board.OpenLED(root, "white:missing")
	if !errors.Is(err, board.ErrNoDevice) || !strings.Contains(err.Error(), "green:rx") {
		t.Fatalf("missing LED: %v (should list the LEDs there)", err)
	}
	// An LED whose attribute vanished fails, it does not create files.
	os.Remove(filepath.Join(root, "class/leds/green:rx/brightness"))
	rx, _ := board.OpenLED(root, "green:rx")
	if err := rx.Set(true); err == nil {
		t.Fatal("write to a missing attribute succeeded")
	}
}

func TestSysfsBattery(t *testing.T) {
	root := sysRoot(t)
	bat, err := board.OpenBattery(root, "") // the first supply of type Battery
	if err != nil {
		t.Fatal(err)
	}
	if st, err := bat.Read(); err != nil || st.Percent != 37 || st.Charging || st.Status != "Discharging" {
		t.Fatalf("BAT0: %+v %v", st, err)
	}
	bq, _ := board.OpenBattery(root, "bq27000")
	if st, err := bq.Read(); err != nil || st.Percent != 15 || !st.Charging {
		t.Fatalf("bq27000: %+v %v", st, err)
	}
	os.WriteFile(filepath.Join(root, "class/power_supply/BAT0/capacity"), []byte("250\n"), 0o644)
	if _, err := bat.Read(); err == nil {
		t.Fatal("capacity 250 accepted")
	}
	if _, err := board.OpenBattery(root, "BAT9"); !errors.Is(err, board.ErrNoDevice) {
		t.Fatalf("BAT9: %v", err)
	}
	if _, err := board.OpenBattery(t.TempDir(), ""); !errors.Is(err, board.ErrNoDevice) {
		t.Fatalf("no supplies: %v", err)
	}
	fb := boardtest.NewBattery(80)
	if st, _ := fb.Read(); st.Percent != 80 {
		t.Fatal("fake battery")
	}
}

// LongPress reports the emergency key only when held: its press after
// the hold, its release when it comes up; other keys pass at once.
func TestLongPress(t *testing.T) {
	const hold = 2 * time.Second
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		name string
		in   []edge
		want []out
	}{
		{"held long enough: pressed at the hold, released on release",
			[]edge{{0, board.SOS, true}, {ms(3000), board.SOS, false}},
			[]out{{hold, hold, board.SOS, true}, {ms(3000), ms(3000), board.SOS, false}}},
		{"a short press is nothing",
			[]edge{{0, board.SOS, true}, {ms(1999), board.SOS, false}},
			nil},
		{"held past the hold and still down: only the press",
			[]edge{{0, board.SOS, true}},
			[]out{{hold, hold, board.SOS, true}}},
		{"a knock, then a long press: the hold counts from the second press",
			[]edge{{0, board.SOS, true}, {ms(500), board.SOS, false}, {ms(1000), board.SOS, true}, {ms(3500), board.SOS, false}},
			[]out{{ms(3000), ms(3000), board.SOS, true}, {ms(3500), ms(3500), board.SOS, false}}},
		{"repeated downs do not restart the hold",
			[]edge{{0, board.SOS, true}, {ms(1500), board.SOS, true}, {ms(2500), board.SOS, false}},
			[]out{{hold, hold, board.SOS, true}, {ms(2500), ms(2500), board.SOS, false}}},
		{"a stray release is nothing",
			[]edge{{0, board.SOS, false}},
			nil},
		{"two long presses: raise, then cancel",
			[]edge{{0, board.SOS, true}, {ms(2100), board.SOS, false}, {ms(5000), board.SOS, true}, {ms(7500), board.SOS, false}},
			[]out{{hold, hold, board.SOS, true}, {ms(2100), ms(2100), board.SOS, false}, {ms(7000), ms(7000), board.SOS, true}, {ms(7500), ms(7500), board.SOS, false}}},
		{"other keys pass through at once, also while SOS is held",
			[]edge{{0, board.SOS, true}, {ms(100), board.PTT, true}, {ms(200), board.PTT, false}, {ms(300), board.SOS, false}},
			[]out{{ms(100), ms(100), board.PTT, true}, {ms(200), ms(200), board.PTT, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				fake := boardtest.NewKey()
				ctx, cancel := context.WithCancel(t.Context())
				events := make(chan board.KeyEvent)
				var mu sync.Mutex
				var got []out
				go board.LongPress(fake, board.SOS, hold).Run(ctx, events)
				go func() {
					for {
						select {
						case ev := <-events:
							mu.Lock()
							got = append(got, out{time.Since(start), ev.Time.Sub(start), ev.Key, ev.Down})
							mu.Unlock()
						case <-ctx.Done():
							return
						}
					}
				}()
				for _, e := range tc.in {
					time.Sleep(e.at - time.Since(start))
					fake.Send(board.KeyEvent{Key: e.key, Down: e.down, Time: time.Now()})
					synctest.Wait()
				}
				time.Sleep(10 * time.Second)
				synctest.Wait()
				cancel()
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				if len(got) != len(tc.want) {
					t.Fatalf("got %+v\nwant %+v", got, tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Fatalf("event %d: got %+v, want %+v", i, got[i], tc.want[i])
					}
				}
			})
		})
	}
	if k := boardtest.NewKey(); board.LongPress(k, board.SOS, 0) != board.Key(k) {
		t.Fatal("LongPress(k, SOS, 0) should be k")
	}
	// The source's error comes back.
	fake := boardtest.NewKey()
	errc := make(chan error, 1)
	go func() { errc <- board.LongPress(fake, board.SOS, hold).Run(t.Context(), make(chan board.KeyEvent)) }()
	fake.Fail(board.ErrNoDevice)
	if err := <-errc; !errors.Is(err, board.ErrNoDevice) {
		t.Fatalf("Run: %v", err)
	}
}
