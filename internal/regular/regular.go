// Package regular opens the files the agent reads and keeps — its config,
// secrets and CA files, its queues and state — only when they are regular
// files, and reads them only up to a bound. A FIFO put where a file should
// be would hang the open (and with it the start-up, deaf to SIGTERM),
// /dev/zero as a CA file was read until memory ran out, and a symbolic
// link in the state directory could make the agent write elsewhere.
//
// Every open is non-blocking (a FIFO opens at once instead of waiting for
// a writer), and the type is checked on the open descriptor, so nothing
// can be swapped in between.
package regular

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

var (
	// ErrNotRegular: the path is a FIFO, a directory, a device, a socket
	// or (for the agent's own files) a symbolic link.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file is larger than its reader allows.
	ErrTooLarge = errors.New("file too large")
)

// Error says which file and why; it wraps ErrNotRegular or ErrTooLarge.
type Error struct {
	Path      string
	Mode      fs.FileMode // for ErrNotRegular
	Size, Max int64       // for ErrTooLarge
	Err       error
}

func (e *Error) Error() string {
	if errors.Is(e.Err, ErrTooLarge) {
		return fmt.Sprintf("%s is %d bytes; at most %d bytes are read", e.Path, e.Size, e.Max)
	}
	return fmt.Sprintf("%s is not a regular file (%s)", e.Path, Describe(e.Mode))
}

func (e *Error) Unwrap() error { return e.Err }

// Describe names a file type the way a technician would: "a named pipe".
func Describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}

// Follow says whether a symbolic link is followed: yes for the files a
// technician names (a config may link to the real one), no for the
// agent's own files in its state directory.
type Follow bool

const (
	FollowLinks Follow = true
	NoLinks     Follow = false
)

// Open opens path with flag (os.O_RDONLY, os.O_RDWR|os.O_CREATE, …) and
// perm, refusing anything but a regular file.
func Open(path string, flag int, perm fs.FileMode, follow Follow) (*os.File, error) {
	flag |= syscall.O_NONBLOCK | syscall.O_NOCTTY
	if follow == NoLinks {
		flag |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flag, perm)
	if err != nil {
		if follow == NoLinks && errors.Is(err, syscall.ELOOP) {
			return nil, &Error{Path: path, Mode: fs.ModeSymlink, Err: ErrNotRegular}
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &Error{Path: path, Mode: fi.Mode(), Err: ErrNotRegular}
	}
	return f, nil
}

// Read reads the regular file at path, of at most max bytes.
func Read(path string, max int64, follow Follow) ([]byte, error) {
	f, err := Open(path, os.O_RDONLY, 0, follow)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > max {
		return nil, &Error{Path: path, Size: fi.Size(), Max: max, Err: ErrTooLarge}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max { // it grew while being read
		return nil, &Error{Path: path, Size: int64(len(data)), Max: max, Err: ErrTooLarge}
	}
	return data, nil
}
