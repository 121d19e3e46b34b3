package board

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
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
	// Bound under a temporary name, given its mode, then renamed into
	// place: there is no moment in which the socket is there with the
	// umask's looser mode (as agent/statussock does; a clean-clone run
	// under qemu connected in between and saw 0755).
	tmp := b.Path + ".tmp" + strconv.Itoa(os.Getpid())
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return &DeviceError{Op: "listen", Device: tmp, Err: err}
	}
	ln.SetUnlinkOnClose(false) // the temporary name is renamed away
	mode := b.Mode
	if mode == 0 {
		mode = 0o600
	}
	if err := os.Chmod(tmp, mode); err != nil {
		ln.Close()
		os.Remove(tmp)
		return &DeviceError{Op: "chmod", Device: tmp, Err: err}
	}
	if err := os.Rename(tmp, b.Path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return &DeviceError{Op: "rename", Device: b.Path, Err: err}
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
	c, err := parseBench(line)
	if err != nil {
		return err
	}
	edge := func(down bool) {
		held[c.key] = down
		send(ctx, events, KeyEvent{Key: c.key, Down: down, Time: time.Now()})
	}
	switch c.op {
	case benchDown:
		edge(true)
	case benchUp:
		edge(false)
	case benchTap:
		edge(true)
		select {
		case <-time.After(c.hold):
		case <-ctx.Done():
		}
		edge(false)
	}
	return nil
}

type benchOp uint8

const (
	benchDown benchOp = iota + 1
	benchUp
	benchTap
)

// benchCommand is one line of the bench socket, parsed.
type benchCommand struct {
	key  KeyName
	op   benchOp
	hold time.Duration // benchTap
}

// maxTap bounds how long a tap holds its key.
const maxTap = time.Minute

// parseBench reads "KEY down|up|tap [ms]" (press and release also mean
// down and up). Anyone in the socket's group can write here, so a line is
// checked whole: a known key, a known action, and for a tap milliseconds
// as plain digits, 0–60000.
func parseBench(line string) (benchCommand, error) {
	f := strings.Fields(line)
	if len(f) < 2 || len(f) > 3 {
		return benchCommand{}, fmt.Errorf("%q: write KEY down|up|tap [ms], e.g. \"ptt down\"", line)
	}
	c := benchCommand{key: KeyName(f[0])}
	if !slices.Contains(KnownKeys, c.key) {
		return benchCommand{}, fmt.Errorf("unknown key %q; keys: %v", f[0], KnownKeys)
	}
	switch f[1] {
	case "down", "press":
		c.op = benchDown
	case "up", "release":
		c.op = benchUp
	case "tap":
		c.op, c.hold = benchTap, 100*time.Millisecond
	default:
		return benchCommand{}, fmt.Errorf("%q: use down, up or tap", f[1])
	}
	if len(f) == 3 {
		// Atoi alone would take "+5"; time.ParseDuration took "1s5" + "ms".
		ms, err := strconv.Atoi(f[2])
		if c.op != benchTap || err != nil || strings.TrimLeft(f[2], "0123456789") != "" || ms > int(maxTap/time.Millisecond) {
			return benchCommand{}, fmt.Errorf("%q: only tap takes a time, in milliseconds, 0–60000", line)
		}
		c.hold = time.Duration(ms) * time.Millisecond
	}
	return c, nil
}
