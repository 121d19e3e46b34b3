package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A world file that does not check stops pttsim before it serves
// anything, with every problem at its line.
func TestWorldFlagRefusesABadFile(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "pttsim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	world := filepath.Join(dir, "bench.yaml")
	os.WriteFile(world, []byte("members:\n  - {account: a, password: x}\ngroups:\n  - {name: G, members: [a, ghost]}\n"), 0o644)
	out, err := exec.Command(bin, "-world", world, "-http", "127.0.0.1:0", "-files", filepath.Join(dir, "files")).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("pttsim with a bad world: %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{
		world + `:4: groups[0].creator: give one, or list a member of type owner`,
		world + `:4: groups[0].members[1] "ghost": not in members`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "pttsim serving") {
		t.Errorf("it served with a bad world:\n%s", out)
	}
}
