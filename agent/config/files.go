package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// MaxFileSize bounds the config and secrets files. The commented example
// is 6 KB; yaml.v3 needs up to ~100 times a hostile file's size in memory
// (a 1 MiB flow list peaked at 124 MB RSS, this much at 29 MB; a 50 MB
// file used to take 300–940 MB).
const MaxFileSize = 128 << 10

// maxPEMSize bounds a CA bundle, certificate or key file (Debian's whole
// CA bundle is 220 KB).
const maxPEMSize = 1 << 20

// ServiceUser is the user the packaged unit runs the agent as
// (systemd/pttagent.service, User=).
const ServiceUser = "pttagent"

// ServiceDirs are the directories the packaged unit has systemd create
// for the agent (StateDirectory=, RuntimeDirectory=): the only places its
// sandbox (ProtectSystem=strict) lets it write.
var ServiceDirs = []string{"/var/lib/pttagent", "/run/pttagent"}

// ExampleConfig is where the package installs the commented example.
const ExampleConfig = "/usr/share/doc/pttagent/agent.example.yaml"

type notRegularError struct {
	path string
	mode fs.FileMode
}

func (e *notRegularError) Error() string {
	return fmt.Sprintf("%s is not a regular file (%s)", e.path, describeMode(e.mode))
}

type tooLargeError struct {
	path      string
	size, max int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes; at most %d bytes are read", e.path, e.size, e.max)
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
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

// readRegular reads a regular file of at most max bytes. It opens without
// blocking and checks the type before reading: a FIFO would hang the
// open, /dev/zero as a CA file was read until memory ran out.
func readRegular(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &notRegularError{path, fi.Mode()}
	}
	if fi.Size() > max {
		return nil, &tooLargeError{path, fi.Size(), max}
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max { // it grew while being read
		return nil, &tooLargeError{path, int64(len(data)), max}
	}
	return data, nil
}

// kernelFilesystems are where a directory cannot hold the agent's files:
// mkdir fails there (ENOENT under /proc, EPERM under /sys) or makes
// something else (a cgroup).
var kernelFilesystems = map[int64]string{
	unix.PROC_SUPER_MAGIC: "proc", unix.SYSFS_MAGIC: "sysfs", unix.CGROUP2_SUPER_MAGIC: "cgroup2",
	unix.CGROUP_SUPER_MAGIC: "cgroup", unix.DEBUGFS_MAGIC: "debugfs", unix.TRACEFS_MAGIC: "tracefs",
	unix.SECURITYFS_MAGIC: "securityfs", unix.DEVPTS_SUPER_MAGIC: "devpts", unix.BPF_FS_MAGIC: "bpf",
	unix.PSTOREFS_MAGIC: "pstore", unix.EFIVARFS_MAGIC: "efivarfs", unix.SELINUX_MAGIC: "selinuxfs",
}

// checkDir finds out whether this process could make path its directory
// the way the agent does (os.MkdirAll, then files and directories inside),
// by doing it: a directory is made in path, or in its nearest existing
// parent, and removed again. msg is "" when it could; denied says the
// failure is a permission one, which depends on the user checking.
func checkDir(path string) (msg string, denied bool) {
	target := path
	fi, err := os.Stat(path)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Sprintf("%s exists and is not a directory", path), false
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		for p := filepath.Dir(path); ; p = filepath.Dir(p) {
			fi, err := os.Stat(p)
			if err == nil && !fi.IsDir() {
				return fmt.Sprintf("cannot create %s: %s is a file, not a directory", path, p), false
			}
			if err == nil {
				target = p
				break
			}
			if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) || p == filepath.Dir(p) {
				return fmt.Sprintf("cannot create %s: %v", path, unwrapPath(err)), errors.Is(err, fs.ErrPermission)
			}
		}
	default:
		return fmt.Sprintf("cannot use %s: %v", path, unwrapPath(err)), errors.Is(err, fs.ErrPermission)
	}
	verb := "create"
	if target == path {
		verb = "use"
	}
	var st unix.Statfs_t
	if unix.Statfs(target, &st) == nil {
		if name, ok := kernelFilesystems[int64(st.Type)]; ok {
			return fmt.Sprintf("cannot %s %s: %s is the kernel's %s filesystem, where nothing can be kept; use a directory on disk", verb, path, target, name), false
		}
	}
	tmp, err := os.MkdirTemp(target, ".pttagent-check-")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Sprintf("cannot %s %s: %v", verb, path, err), errors.Is(err, fs.ErrPermission)
	}
	os.Remove(tmp)
	return "", false
}

// dirFor checks a directory the agent creates and writes, as checkDir
// does, and words a permission failure for the user checking:
// check-config is often run by root or a technician, the service runs
// as ServiceUser.
func (v *validation) dirFor(key, path string) {
	msg, denied := checkDir(path)
	if msg == "" {
		return
	}
	if !denied {
		v.err(key, "%s", msg)
		return
	}
	name := "uid " + fmt.Sprint(os.Getuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	switch {
	case isServiceDir(path):
		// systemd creates it for the service, owned by ServiceUser.
	case os.Getuid() == 0 || name == ServiceUser:
		v.err(key, "%s (checked as user %s, which the agent would run as)", msg, name)
	default:
		v.warn(key, "%s (checked as user %s; the service runs as %s: check as it with  runuser -u %s -- pttagent check-config FILE)",
			msg, name, ServiceUser, ServiceUser)
	}
}

func isServiceDir(path string) bool {
	for _, d := range ServiceDirs {
		if path == d {
			return true
		}
	}
	return false
}

func underServiceDir(path string) bool {
	for _, d := range ServiceDirs {
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}
