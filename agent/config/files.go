package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pttagent/pttagent/internal/regular"
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

// readRegular reads a regular file (links followed: the technician's
// files) of at most max bytes.
func readRegular(path string, max int64) ([]byte, error) {
	return regular.Read(path, max, regular.FollowLinks)
}

func describeMode(m fs.FileMode) string { return regular.Describe(m) }

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
