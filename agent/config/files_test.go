package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A directory the agent cannot make stops it at start; check-config must
// say so first, and whose failure it is.
func TestDirectoryTheAgentCannotMake(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: makes a directory immutable (chattr +i) and runs a check as user nobody")
	}
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked")
	if err := os.Mkdir(locked, 0o755); err != nil {
		t.Fatal(err)
	}
	// Even root cannot create in an immutable directory (EPERM).
	if out, err := exec.Command("chattr", "+i", locked).CombinedOutput(); err != nil {
		t.Fatalf("chattr: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", locked).Run() })
	y := minimal + "state_dir: locked/state\nruntime_dir: run\n"
	path := filepath.Join(dir, "agent.yaml")
	_, _, err := Parse(path, []byte(y))
	want := path + ":7: state_dir: cannot create " + locked + "/state: operation not permitted (checked as user root, which the agent would run as)"
	if err == nil || err.Error() != want {
		t.Errorf("as root:\n got %v\nwant %s", err, want)
	}

	// As another user: a warning naming that user and the service's, and
	// nothing for the directories systemd makes for the service.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(dir), dir} { // t.TempDir's are 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "config.test")
	copyFile(t, exe, bin)
	// Under qemu-user without binfmt_misc (make test-arm64) the test
	// binary cannot start itself; the native run covers this half.
	if err := exec.Command(bin, "-test.run", "^$").Run(); errors.Is(err, syscall.ENOEXEC) {
		t.Skipf("the test binary cannot exec itself here (%v); the native run checks as another user", err)
	}
	rootOwned := filepath.Join(dir, "root-owned")
	if err := os.Mkdir(rootOwned, 0o755); err != nil {
		t.Fatal(err)
	}
	y = minimal + "state_dir: root-owned/state\nruntime_dir: /run/pttagent\n"
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", bin,
		"-test.run", "^TestCheckAsAnotherUserHelper$")
	cmd.Env = append(os.Environ(), "PTTAGENT_CHECK_CONFIG="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	want = path + ":7: warning: state_dir: cannot create " + rootOwned + "/state: permission denied (checked as user nobody; " +
		"the service runs as pttagent: check as it with  runuser -u pttagent -- pttagent check-config FILE)\n"
	if !strings.HasPrefix(string(out), "accepted\n") || !strings.Contains(string(out), want) || strings.Contains(string(out), "runtime_dir") {
		t.Errorf("as nobody:\n got %s\nwant accepted, then %s", out, want)
	}
}

// TestCheckAsAnotherUserHelper is the process TestDirectoryTheAgentCannotMake
// runs as another user; it does nothing in a normal test run.
func TestCheckAsAnotherUserHelper(t *testing.T) {
	path := os.Getenv("PTTAGENT_CHECK_CONFIG")
	if path == "" {
		return
	}
	_, warns, err := Load(path)
	if err != nil {
		fmt.Printf("refused\n%v\n", err)
		return
	}
	fmt.Printf("accepted\n%v\n", Problems(warns))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// A FIFO named as the config (or as any file it names) must not hang the
// check: it is refused as not a regular file.
func TestFIFOIsRefusedNotWaitedOn(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "agent.yaml")
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(fifo) // used to block until a writer came
	if err == nil || !strings.Contains(err.Error(), fifo+" is not a regular file (a named pipe)") {
		t.Errorf("got %v", err)
	}
}
