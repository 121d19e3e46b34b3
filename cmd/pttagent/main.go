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

// errUsage means the command line was wrong and what was wrong has been
// printed: exit status 2.
var errUsage = errors.New("usage")

// errProblems means check-config found errors and printed them.
var errProblems = errors.New("config has errors")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode is the process's exit status for a command's outcome: 0 done,
// 2 a wrong command line, a command's own status (doctor), 1 anything
// else, said on stderr.
func exitCode(err error, stderr io.Writer) int {
	var st exitStatus
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &st):
		return int(st)
	case errors.Is(err, errProblems):
		return 1
	}
	fmt.Fprintln(stderr, "pttagent:", err)
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, stdio{in: os.Stdin, out: stdout, errOut: stderr}, args)
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

func setupRun(fs *flag.FlagSet) runner {
	path := configFlag(fs, "")
	return func(ctx context.Context, io stdio, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q (the config is given with --config FILE)", args[0])
		}
		return runAgent(ctx, *path, io.errOut)
	}
}

func runAgent(ctx context.Context, path string, stderr io.Writer) error {
	cfg, warns, err := config.Load(path)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			fmt.Fprintln(stderr, ps.Error())
			return fmt.Errorf("not starting: %s has errors (run `pttagent check-config %s` after fixing them)", path, path)
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

func setupCheckConfig(*flag.FlagSet) runner {
	return func(_ context.Context, io stdio, args []string) error {
		path := config.DefaultPath
		switch len(args) {
		case 0:
		case 1:
			path = args[0]
		default:
			return usagef("one FILE at most, got %d arguments", len(args))
		}
		return checkConfig(path, io.out, io.errOut)
	}
}

func checkConfig(path string, stdout, stderr io.Writer) error {
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
