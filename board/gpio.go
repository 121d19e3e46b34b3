package board

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/warthog618/go-gpiocdev"
	"golang.org/x/sys/unix"
)

// GPIO reads keys wired to GPIO lines through the GPIO character device
// (/dev/gpiochipN), with edge events from the kernel: nothing polls.
//
// It uses github.com/warthog618/go-gpiocdev, the maintained pure-Go client
// of the character device's uAPI (v1 and v2): line requests, bias, active
// low, kernel-side debounce and edge events are ioctl structures that are
// easy to get subtly wrong by hand, and the library tracks kernel changes.
// The legacy sysfs GPIO interface is deprecated and not used.
type GPIO struct {
	// Chip is the chip name or path: gpiochip0 or /dev/gpiochip0.
	Chip string
	// Lines maps line offsets on the chip to what the key does.
	Lines map[int]KeyName
	// ActiveLow: the key pulls the line low when pressed (the usual
	// wiring with a pull-up).
	ActiveLow bool
	// Bias is "pull-up", "pull-down", "disable" or "" (leave as is).
	Bias string
	// KernelDebounce asks the kernel to debounce the lines (uAPI v2, Linux
	// 5.10+); 0 leaves it to the Debounce wrapper.
	KernelDebounce time.Duration
	// Retry is how long to wait before requesting the lines again after a
	// failure (default 2 s).
	Retry  time.Duration
	Logger *slog.Logger
}

var _ Key = (*GPIO)(nil)

// Run implements Key.
func (g *GPIO) Run(ctx context.Context, events chan<- KeyEvent) error {
	if len(g.Lines) == 0 {
		return &DeviceError{Op: "configure", Device: g.Chip, Err: errors.New("no lines")}
	}
	opts, err := g.options()
	if err != nil {
		return &DeviceError{Op: "configure", Device: g.Chip, Err: err}
	}
	retry := g.Retry
	if retry <= 0 {
		retry = 2 * time.Second
	}
	log := g.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	failing := false
	for {
		err := g.session(ctx, events, opts)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !failing {
			log.Warn("GPIO keys failed; retrying", "chip", g.Chip, "err", err, "every", retry)
			failing = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retry):
		}
	}
}

func (g *GPIO) options() ([]gpiocdev.LineReqOption, error) {
	opts := []gpiocdev.LineReqOption{gpiocdev.AsInput, gpiocdev.WithBothEdges, gpiocdev.WithConsumer("pttagent")}
	if g.ActiveLow {
		opts = append(opts, gpiocdev.AsActiveLow)
	}
	switch g.Bias {
	case "":
	case "pull-up":
		opts = append(opts, gpiocdev.WithPullUp)
	case "pull-down":
		opts = append(opts, gpiocdev.WithPullDown)
	case "disable":
		opts = append(opts, gpiocdev.WithBiasDisabled)
	default:
		return nil, fmt.Errorf("bias %q: use pull-up, pull-down, disable or leave it empty", g.Bias)
	}
	if g.KernelDebounce > 0 {
		opts = append(opts, gpiocdev.WithDebounce(g.KernelDebounce))
	}
	return opts, nil
}

func (g *GPIO) session(ctx context.Context, events chan<- KeyEvent, opts []gpiocdev.LineReqOption) error {
	offsets := make([]int, 0, len(g.Lines))
	for off := range g.Lines {
		offsets = append(offsets, off)
	}
	// The library reads events on its own goroutine and calls the handler;
	// the handler hands them to ours so a slow agent never blocks it past
	// the buffered channel.
	edges := make(chan gpiocdev.LineEvent, 64)
	var overflow atomic.Bool
	handler := gpiocdev.WithEventHandler(func(le gpiocdev.LineEvent) {
		select {
		case edges <- le:
		default:
			// 64 edges behind: drop, and read the levels afterwards.
			overflow.Store(true)
		}
	})
	lines, err := gpiocdev.RequestLines(g.Chip, offsets, append(opts, handler)...)
	if err != nil {
		return &DeviceError{Op: "request lines", Device: g.Chip, Err: err}
	}
	defer lines.Close()
	held := map[KeyName]bool{}
	values := make([]int, len(offsets))
	if err := lines.Values(values); err != nil {
		return &DeviceError{Op: "read lines", Device: g.Chip, Err: err}
	}
	now := time.Now()
	for i, off := range offsets {
		if values[i] == 1 { // active: held at start
			held[g.Lines[off]] = true
			send(ctx, events, KeyEvent{Key: g.Lines[off], Down: true, Time: now})
		}
	}
	defer func() {
		for name, down := range held {
			if down {
				send(ctx, events, KeyEvent{Key: name, Time: time.Now()})
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case le := <-edges:
			ev, ok := gpioEvent(le, g.Lines, monotonicNow(), time.Now())
			if !ok || held[ev.Key] == ev.Down {
				continue
			}
			held[ev.Key] = ev.Down
			send(ctx, events, ev)
			if overflow.Swap(false) {
				if err := lines.Values(values); err != nil {
					return &DeviceError{Op: "read lines", Device: g.Chip, Err: err}
				}
				for i, off := range offsets {
					name, down := g.Lines[off], values[i] == 1
					if held[name] != down {
						held[name] = down
						send(ctx, events, KeyEvent{Key: name, Down: down, Time: time.Now()})
					}
				}
			}
		}
	}
}

// gpioEvent converts a line event. Its timestamp is CLOCK_MONOTONIC (Linux
// 5.7+): it is placed on the wall clock by its distance from monoNow.
func gpioEvent(le gpiocdev.LineEvent, lines map[int]KeyName, monoNow time.Duration, wallNow time.Time) (KeyEvent, bool) {
	name, ok := lines[le.Offset]
	if !ok {
		return KeyEvent{}, false
	}
	at := wallNow
	if age := monoNow - le.Timestamp; age >= 0 && age < time.Minute {
		at = wallNow.Add(-age)
	}
	return KeyEvent{Key: name, Down: le.Type == gpiocdev.LineEventRisingEdge, Time: at}, true
}

func monotonicNow() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
