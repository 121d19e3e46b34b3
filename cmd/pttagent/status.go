package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/statussock"
)

func setupStatus(fs *flag.FlagSet) runner {
	asJSON := fs.Bool("json", false, "print the agent's JSON, for scripts (with --watch: one document a line)")
	watch := fs.Bool("watch", false, "ask again every --interval until Ctrl-C: in place on a terminal, a line each time otherwise")
	every := fs.Duration("interval", 2*time.Second, "how often --watch asks (`DURATION`)")
	cfgPath := configFlag(fs, " (for its runtime_dir)")
	sock := fs.String("socket", "", "the status socket `PATH` (default: runtime_dir/"+statussock.FileName+")")
	return func(ctx context.Context, io stdio, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		if *every < 100*time.Millisecond {
			return usagef("--interval %v is too short: 100ms at least", *every)
		}
		path := *sock
		if path == "" {
			path = statusSocket(*cfgPath)
		}
		if !*watch {
			data, err := fetchStatus(ctx, path)
			if err != nil {
				return err
			}
			return printStatus(io.out, data, *asJSON, time.Now())
		}
		return watchStatus(ctx, io, path, *asJSON, *every)
	}
}

func fetchStatus(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return statussock.Fetch(ctx, path)
}

func printStatus(w io.Writer, data []byte, asJSON bool, now time.Time) error {
	if !asJSON {
		return statussock.Render(w, data, now)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(data), "", "  "); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// watchStatus asks every interval until ctx ends. On a terminal the
// screen is redrawn in place, as watch(1) does; into a pipe or a file it
// writes one line per look (the verdict, or one JSON document), which a
// script or a log can follow. The agent stopping or restarting is shown
// and waited out, not an end.
func watchStatus(ctx context.Context, io stdio, path string, asJSON bool, every time.Duration) error {
	tty := terminal(io.out)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		now := time.Now()
		data, err := fetchStatus(ctx, path)
		if ctx.Err() != nil {
			return nil
		}
		var screen bytes.Buffer
		switch {
		case tty:
			// Home and clear, then the whole status: one write, so the
			// terminal never shows half a screen.
			fmt.Fprintf(&screen, "\x1b[H\x1b[2J%s  every %v  (Ctrl-C ends)\n\n", now.Format("15:04:05"), every)
			if err != nil {
				fmt.Fprintf(&screen, "%v\n", err)
			} else if err := printStatus(&screen, data, asJSON, now); err != nil {
				fmt.Fprintf(&screen, "%v\n", err)
			}
		case err != nil:
			if asJSON {
				b, _ := json.Marshal(map[string]string{"time": now.Format(time.RFC3339), "error": err.Error()})
				fmt.Fprintf(&screen, "%s\n", b)
			} else {
				fmt.Fprintf(&screen, "%s %v\n", now.Format("15:04:05"), err)
			}
		case asJSON:
			var c bytes.Buffer
			if err := json.Compact(&c, data); err != nil {
				return fmt.Errorf("status: %w", err)
			}
			fmt.Fprintf(&screen, "%s\n", c.Bytes())
		default:
			fmt.Fprintf(&screen, "%s %s\n", now.Format("15:04:05"), verdictOf(data))
		}
		if _, err := io.out.Write(screen.Bytes()); err != nil {
			return err // the reader went away
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// verdictOf is the status's first line, escaped as Render escapes it.
func verdictOf(data []byte) string {
	var b bytes.Buffer
	if err := statussock.Render(&b, data, time.Now()); err != nil {
		return err.Error()
	}
	line, _, _ := bytes.Cut(b.Bytes(), []byte("\n"))
	return string(line)
}

// terminal reports whether w is a terminal (so it can be redrawn).
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// statusSocket finds the socket in the config's runtime_dir. A config this
// user cannot load (a technician of group pttagent-status may not read
// /etc/pttagent) means the default runtime_dir, which is the packaged
// service's.
func statusSocket(cfgPath string) string {
	dir := config.Default().RuntimeDir
	if cfg, _, err := config.Load(cfgPath); err == nil {
		dir = cfg.RuntimeDir
	}
	return filepath.Join(dir, statussock.FileName)
}
