package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/board"
)

// setupKey is `ptt` and `key`: they press keys of a running agent without
// hardware, for a technician's bench check and for demos; the agent hears
// the press exactly as from the key.
func setupKey(cmd string) func(fs *flag.FlagSet) runner {
	return func(fs *flag.FlagSet) runner {
		cfgPath := configFlag(fs, " (for board.bench_socket)")
		sock := fs.String("socket", "", "the bench socket `PATH` (instead of the config's)")
		return func(ctx context.Context, io stdio, args []string) error {
			key, action, ms, err := keyArgs(cmd, args)
			if err != nil {
				return err
			}
			return pressKey(ctx, io, *cfgPath, *sock, key, action, ms)
		}
	}
}

// keyArgs reads `ptt tap [MS]`, `ptt hold`, `key NAME [MS]`.
func keyArgs(cmd string, args []string) (key, action string, ms int, err error) {
	key, action, ms = "ptt", "tap", 2000
	if cmd == "ptt" {
		if len(args) == 0 {
			return "", "", 0, usagef("tap or hold?")
		}
		action, args = args[0], args[1:]
		if action != "tap" && action != "hold" {
			return "", "", 0, usagef("unknown action %q: tap [MS] or hold", action)
		}
	} else {
		if len(args) == 0 {
			return "", "", 0, usagef("which key? %s", keyNames())
		}
		key, args, ms = args[0], args[1:], 100
		known := false
		for _, k := range board.KnownKeys {
			known = known || string(k) == key
		}
		if !known || key == "ptt" {
			return "", "", 0, usagef("unknown key %q: %s (PTT: pttagent ptt)", key, keyNames())
		}
	}
	switch {
	case len(args) > 1 || (len(args) == 1 && action == "hold"):
		return "", "", 0, usagef("unexpected argument %q", args[len(args)-1])
	case len(args) == 1:
		if ms, err = strconv.Atoi(args[0]); err != nil || ms < 0 || ms > 60000 {
			return "", "", 0, usagef("%q is not a time in milliseconds from 0 to 60000", args[0])
		}
	}
	return key, action, ms, nil
}

func keyNames() string {
	var names []string
	for _, k := range board.KnownKeys {
		if k != "ptt" {
			names = append(names, string(k))
		}
	}
	return strings.Join(names, ", ")
}

func pressKey(ctx context.Context, io stdio, cfgPath, sock, key, action string, ms int) error {
	stdout := io.out
	path := sock
	if path == "" {
		cfg, _, err := config.Load(cfgPath)
		if err != nil {
			return fmt.Errorf("%w (or give the socket with --socket)", err)
		}
		if path = cfg.Board.BenchSocket; path == "" {
			return fmt.Errorf("%s has no board.bench_socket: set it (e.g. /run/pttagent/keys.sock) and restart the agent", cfgPath)
		}
	}
	c, err := net.Dial("unix", path)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("bench socket %s: %w: pressing keys is for the service's user and root (sudo pttagent %s …)", path, err, map[bool]string{true: "ptt", false: "key"}[key == "ptt"])
	case err != nil:
		return fmt.Errorf("bench socket %s: %w (is the agent running with board.bench_socket set?)", path, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	replies := bufio.NewScanner(c)
	cmd := func(line string) error {
		if _, err := fmt.Fprintln(c, line); err != nil {
			return err
		}
		if !replies.Scan() {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errors.New("the agent closed the bench socket")
		}
		if r := replies.Text(); r != "ok" {
			return fmt.Errorf("agent: %s", strings.TrimPrefix(r, "error: "))
		}
		return nil
	}
	if action == "tap" {
		fmt.Fprintf(stdout, "%s pressed for %d ms\n", key, ms)
		return cmd(fmt.Sprintf("%s tap %d", key, ms))
	}
	if err := cmd(key + " down"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s held since %s; Enter to release\n", key, time.Now().Format("15:04:05.000"))
	done := make(chan struct{})
	go func() {
		bufio.NewReader(io.in).ReadString('\n')
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	// Closing the connection releases the key too; say it anyway.
	cmd(key + " up")
	fmt.Fprintln(stdout, key, "released")
	return nil
}
