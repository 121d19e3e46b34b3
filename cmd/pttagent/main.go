// Command pttagent is the push-to-talk handset daemon and its technician
// tools. Run `pttagent help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/pttagent/pttagent/agent"
	"github.com/pttagent/pttagent/agent/config"
)

// Set at build time: -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

const usage = `pttagent — push-to-talk handset agent

Usage:
  pttagent [run] [--config FILE]        run the agent (default config ` + config.DefaultPath + `)
  pttagent check-config [FILE]          check a config file; exit status 0 when it can be used
  pttagent gps replay FILE [--json]     print the fixes in an NMEA log
  pttagent gps watch --device DEV [--baud N]
                                        live view of a GNSS receiver
  pttagent gps simulate --log FILE --link PATH
                                        play an NMEA log into a pseudo-terminal at PATH
  pttagent status [--json]              ask the running agent: uplink, GPS, tracks, warnings
  pttagent ptt tap [MS] | ptt hold      press PTT through the running agent's bench socket
  pttagent key NAME [MS]                tap group_up, group_down, volume_up or volume_down there
  pttagent version                      print the version
`

// errUsage means the command line was wrong; usage has been printed.
var errUsage = errors.New("usage")

// errProblems means check-config found errors and printed them.
var errProblems = errors.New("config has errors")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.Is(err, errProblems):
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "pttagent:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "run"
	if len(args) > 0 && (args[0] == "" || args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runAgent(ctx, args, stderr)
	case "check-config":
		return checkConfig(args, stdout, stderr)
	case "gps":
		return gpsCommand(ctx, args, stdout, stderr)
	case "status":
		return statusCommand(ctx, args, stdout, stderr)
	case "ptt", "key":
		return pttCommand(ctx, cmd, args, os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "pttagent: unknown command %q\n\n%s", cmd, usage)
	return errUsage
}

func versionString() string {
	v, c := version, commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return fmt.Sprintf("pttagent %s (commit %s)", v, c)
}

func runAgent(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", config.DefaultPath, "config file")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg, warns, err := config.Load(*path)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(stderr, ps.Error())
			return fmt.Errorf("not starting: %s has errors (run `pttagent check-config %s` after fixing them)", *path, *path)
		}
		return err
	}
	log, flush := newServiceLogger(stderr, cfg)
	defer flush()
	for _, w := range warns {
		log.Warn("config", "problem", w.Error())
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// One P: the daemon idles nearly always (a fix a second, a message
		// a minute), and with two, every hand-over between its goroutines
		// woke a second thread: 34 CPU wake-ups a second idle against 13
		// (BENCHMARKS.md, "Agent idle"). Talking needs under 1 % of a core,
		// and push-to-talk's latencies did not change. It also ends Go's
		// once-a-second check of the cgroup's CPU limit.
		runtime.GOMAXPROCS(1)
	}
	a, err := agent.Assemble(cfg, log, version)
	if err != nil {
		return err
	}
	return runService(ctx, cfg, a, log)
}

func checkConfig(args []string, stdout, stderr io.Writer) error {
	path := config.DefaultPath
	switch len(args) {
	case 0:
	case 1:
		path = args[0]
	default:
		fmt.Fprint(stderr, "usage: pttagent check-config [FILE]\n")
		return errUsage
	}
	_, warns, err := config.Load(path)
	var ps config.Problems
	switch {
	case errors.As(err, &ps):
		fmt.Fprintln(stderr, ps.Error())
		n := 0
		for _, p := range ps {
			if !p.Warning {
				n++
			}
		}
		fmt.Fprintf(stderr, "%s: %d error(s); the agent will not start with this file\n", path, n)
		return errProblems
	case err != nil:
		return err
	}
	for _, w := range warns {
		fmt.Fprintln(stderr, w.Error())
	}
	fmt.Fprintf(stdout, "%s: OK\n", path)
	return nil
}
