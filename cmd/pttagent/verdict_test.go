package main

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/logbuf"
)

// startAgentEnv runs the agent binary with extra environment (a sound
// card made of files) until the test ends.
func startAgentEnv(t *testing.T, config string, env []string) *process {
	t.Helper()
	p := &process{log: &logbuf.Buffer{}}
	p.cmd = exec.Command(agentBinary(t), "run", "--config", config)
	p.cmd.Env = append(p.cmd.Environ(), env...)
	p.cmd.Stderr = p.log
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { p.cmd.Wait(); close(exited) }()
	p.exited = exited
	t.Cleanup(func() { p.cmd.Process.Kill(); <-exited })
	return p
}

// waitFor polls cond until it holds; the agent exiting, or d passing,
// fails the test with the agent's log.
func waitFor(t *testing.T, p *process, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		select {
		case <-p.exited:
			t.Fatalf("the agent exited while waiting for %s:\n%s", what, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; agent log:\n%s", d, what, p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
