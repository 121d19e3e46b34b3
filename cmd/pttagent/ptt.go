package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/board"
)

const pttUsage = `Usage (through the running agent's bench socket, board.bench_socket):
  pttagent ptt tap [MS]       press PTT for MS milliseconds (default 2000), then release
  pttagent ptt hold           press PTT until Enter, Ctrl-D or Ctrl-C
  pttagent key NAME [MS]      tap another key: group_up, group_down, volume_up, volume_down
Flags: --config FILE (default ` + config.DefaultPath + `) or --socket PATH
`

// pttCommand presses keys of a running agent without hardware, for a
// technician's bench check and for demos: the agent hears the press exactly
// as from the PTT key.
func pttCommand(ctx context.Context, key string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(key, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", config.DefaultPath, "the agent's config file (for board.bench_socket)")
	sock := fs.String("socket", "", "the bench socket (instead of the config's)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		fmt.Fprint(stderr, pttUsage)
		return errUsage
	}
	action, ms := "tap", 2000
	if key == "ptt" {
		if len(rest) == 0 {
			fmt.Fprint(stderr, pttUsage)
			return errUsage
		}
		action, rest = rest[0], rest[1:]
	} else {
		if len(rest) == 0 {
			fmt.Fprint(stderr, pttUsage)
			return errUsage
		}
		key, rest, ms = rest[0], rest[1:], 100
	}
	if len(rest) > 0 {
		if ms, err = strconv.Atoi(rest[0]); err != nil || ms < 0 || ms > 60000 || action != "tap" {
			fmt.Fprint(stderr, pttUsage)
			return errUsage
		}
	}
	known := false
	for _, k := range board.KnownKeys {
		known = known || string(k) == key
	}
	if !known || (action != "tap" && action != "hold") {
		fmt.Fprint(stderr, pttUsage)
		return errUsage
	}
	path := *sock
	if path == "" {
		cfg, _, err := config.Load(*cfgPath)
		if err != nil {
			return fmt.Errorf("%w (or give the socket with --socket)", err)
		}
		if path = cfg.Board.BenchSocket; path == "" {
			return fmt.Errorf("%s has no board.bench_socket: set it (e.g. /run/pttagent/keys.sock) and restart the agent", *cfgPath)
		}
	}
	c, err := net.Dial("unix", path)
	if err != nil {
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
		bufio.NewReader(stdin).ReadString('\n')
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
