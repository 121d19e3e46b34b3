package board

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Bench is a key source on a unix socket, for a technician without the
// hardware and for tests: one command a line,
//
//	ptt down | ptt up | ptt tap [ms] | volume_up tap | …
//
// answered "ok" or "error: …". Keys a connection holds are released when
// it closes, so a script that dies mid-press does not leave the handset
// transmitting. Try it with:
//
//	socat - UNIX-CONNECT:/run/pttagent/keys.sock
type Bench struct {
	// Path of the socket; an old socket file there is replaced.
	Path string
	// Mode of the socket file (default 0600: root and the service's user;
	// a key press opens the microphone, which is not for everyone who may
	// read the status).
	Mode   os.FileMode
	Logger *slog.Logger
}

var _ Key = (*Bench)(nil)

// Run implements Key.
func (b *Bench) Run(ctx context.Context, events chan<- KeyEvent) error {
	if err := os.Remove(b.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return &DeviceError{Op: "remove old socket", Device: b.Path, Err: err}
	}
	ln, err := net.Listen("unix", b.Path)
	if err != nil {
		return &DeviceError{Op: "listen", Device: b.Path, Err: err}
	}
	mode := b.Mode
	if mode == 0 {
		mode = 0o600
	}
	if err := os.Chmod(b.Path, mode); err != nil {
		ln.Close()
		return &DeviceError{Op: "chmod", Device: b.Path, Err: err}
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				os.Remove(b.Path)
				return ctx.Err()
			}
			return &DeviceError{Op: "accept", Device: b.Path, Err: err}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.serve(ctx, c, events)
		}()
	}
}

func (b *Bench) serve(ctx context.Context, c net.Conn, events chan<- KeyEvent) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	held := map[KeyName]bool{}
	defer func() {
		for k, down := range held {
			if down {
				send(ctx, events, KeyEvent{Key: k, Time: time.Now()})
			}
		}
	}()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		err := b.command(ctx, line, held, events)
		reply := "ok\n"
		if err != nil {
			reply = "error: " + err.Error() + "\n"
		}
		if _, err := c.Write([]byte(reply)); err != nil {
			return
		}
	}
}

func (b *Bench) command(ctx context.Context, line string, held map[KeyName]bool, events chan<- KeyEvent) error {
	f := strings.Fields(line)
	if len(f) < 2 || len(f) > 3 {
		return fmt.Errorf("%q: write KEY down|up|tap [ms], e.g. \"ptt down\"", line)
	}
	key := KeyName(f[0])
	known := false
	for _, k := range KnownKeys {
		known = known || k == key
	}
	if !known {
		return fmt.Errorf("unknown key %q; keys: %v", f[0], KnownKeys)
	}
	edge := func(down bool) {
		held[key] = down
		send(ctx, events, KeyEvent{Key: key, Down: down, Time: time.Now()})
	}
	switch f[1] {
	case "down", "press":
		edge(true)
	case "up", "release":
		edge(false)
	case "tap":
		hold := 100 * time.Millisecond
		if len(f) == 3 {
			ms, err := time.ParseDuration(f[2] + "ms")
			if err != nil || ms < 0 || ms > time.Minute {
				return fmt.Errorf("tap %q: give milliseconds, 0–60000", f[2])
			}
			hold = ms
		}
		edge(true)
		select {
		case <-time.After(hold):
		case <-ctx.Done():
		}
		edge(false)
	default:
		return fmt.Errorf("%q: use down, up or tap", f[1])
	}
	return nil
}
