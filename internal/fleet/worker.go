package fleet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pttagent/pttagent/internal/brokers"
)

// WorkerEnv, set to 1 in a process's environment, makes it a worker:
// the program's main (or a test binary's TestMain) calls WorkerMain. Run
// starts its workers so.
const WorkerEnv = "PTTFLEET_WORKER"

// WorkerMain runs this process as a worker of Run and returns its exit
// code. The protocol, one line each, on stdin and stdout: Options as
// JSON in; "ready <ns until all connected>" out; "stop" in; the Part as
// JSON out.
func WorkerMain() int {
	if err := worker(context.Background(), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pttfleet worker:", err)
		return 1
	}
	return 0
}

func worker(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewReader(stdin)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("options: %w", err)
	}
	var o Options
	if err := json.Unmarshal(line, &o); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := RaiseFileLimit(filesFor(o.Handsets)); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The parent going away (stdin closed) ends the worker.
	stop := make(chan struct{})
	go func() {
		l, err := in.ReadString('\n')
		if err != nil || strings.TrimSpace(l) != "stop" {
			cancel()
			return
		}
		close(stop)
	}()
	g, err := startGroup(ctx, o)
	if err != nil {
		return err
	}
	defer g.close()
	fmt.Fprintf(stdout, "ready %d\n", g.connected)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
	}
	p, err := g.finish(ctx)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(p)
}

// workers are the processes running the handsets of a run.
type workers struct {
	procs     []*workerProc
	connected time.Duration
}

type workerProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startWorkers starts procs workers, each with a share of the handsets
// (whole talk groups) under its own topic prefix, and returns once every
// worker's handsets are connected.
func startWorkers(ctx context.Context, o Options, procs int) (*workers, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	per := (o.Handsets + procs - 1) / procs
	if gs := max(1, o.GroupSize); per%gs != 0 {
		per += gs - per%gs
	}
	w := &workers{}
	for k := 1; k <= procs && (k-1)*per < o.Handsets; k++ {
		wo := o
		wo.Worker, wo.First = k, (k-1)*per
		wo.Handsets = min(per, o.Handsets-wo.First)
		wo.Ramp = max(1, o.Ramp/procs)
		wo.Dir = filepath.Join(o.Dir, "w"+strconv.Itoa(k))
		if k > 1 {
			wo.Prefix = o.Prefix + strconv.Itoa(k)
		}
		opts, err := json.Marshal(wo)
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), WorkerEnv+"=1")
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			w.close()
			return nil, fmt.Errorf("start worker %d: %w", k, err)
		}
		wp := &workerProc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
		w.procs = append(w.procs, wp)
		if _, err := fmt.Fprintf(in, "%s\n", opts); err != nil {
			w.close()
			return nil, fmt.Errorf("worker %d: %w", k, err)
		}
	}
	for k, wp := range w.procs {
		line, err := wp.out.ReadString('\n')
		var ns int64
		if err == nil {
			_, err = fmt.Sscanf(line, "ready %d", &ns)
		}
		if err != nil {
			w.close()
			return nil, fmt.Errorf("worker %d did not get ready: %w", k+1, err)
		}
		w.connected = max(w.connected, time.Duration(ns))
	}
	return w, ctx.Err()
}

func (w *workers) connectedAfter() time.Duration { return w.connected }

func (w *workers) usage() brokers.Usage {
	var sum brokers.Usage
	for _, wp := range w.procs {
		if u, err := brokers.Proc(wp.cmd.Process.Pid); err == nil {
			sum.CPU += u.CPU
			sum.RSS += u.RSS
		}
	}
	return sum
}

func (w *workers) finish(ctx context.Context) (*Part, error) {
	for _, wp := range w.procs {
		fmt.Fprintln(wp.in, "stop")
	}
	total := &Part{}
	var errs []error
	for k, wp := range w.procs {
		var p Part
		if err := json.NewDecoder(wp.out).Decode(&p); err != nil {
			errs = append(errs, fmt.Errorf("worker %d's report: %w", k+1, err))
			continue
		}
		total.add(&p)
	}
	w.close()
	return total, errors.Join(append(errs, ctx.Err())...)
}

func (w *workers) close() {
	for _, wp := range w.procs {
		wp.in.Close()
		done := make(chan struct{})
		go func() { wp.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			wp.cmd.Process.Kill()
			<-done
		}
	}
	w.procs = nil
}
