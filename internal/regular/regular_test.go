package regular_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/regular"
)

// Only regular files are read, and only up to the bound; a FIFO neither
// hangs the open nor is read.
func TestReadRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("hello"), 0o600)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(file, link)

	if b, err := regular.Read(file, 5, regular.NoLinks); err != nil || string(b) != "hello" {
		t.Fatalf("regular file: %q, %v", b, err)
	}
	done := make(chan error, 1)
	go func() { _, err := regular.Read(fifo, 5, regular.FollowLinks); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, regular.ErrNotRegular) || !strings.Contains(err.Error(), "a named pipe") {
			t.Errorf("FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("opening a FIFO hung")
	}
	for _, tc := range []struct {
		path   string
		follow regular.Follow
		want   error
		msg    string
	}{
		{dir, regular.FollowLinks, regular.ErrNotRegular, "a directory"},
		{"/dev/zero", regular.FollowLinks, regular.ErrNotRegular, "a character device"},
		{link, regular.NoLinks, regular.ErrNotRegular, "a symbolic link"},
		{file + "x", regular.FollowLinks, os.ErrNotExist, ""},
	} {
		_, err := regular.Read(tc.path, 100, tc.follow)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %v (%q)", tc.path, err, tc.want, tc.msg)
		}
	}
	if b, err := regular.Read(link, 5, regular.FollowLinks); err != nil || string(b) != "hello" {
		t.Errorf("followed link: %q, %v", b, err)
	}
	if _, err := regular.Read(file, 4, regular.NoLinks); !errors.Is(err, regular.ErrTooLarge) || !strings.Contains(err.Error(), "at most 4 bytes") {
		t.Errorf("too large: %v", err)
	}
}
