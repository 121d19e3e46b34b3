package linkemu

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// tunDevice is where the kernel hands out TUN devices.
const tunDevice = "/dev/net/tun"

// openTUN creates the TUN device name, carrying bare IP packets (no
// packet-information header), and returns its non-blocking descriptor.
// The device lives as long as the descriptor is open, in whichever
// namespace it has been moved to.
func openTUN(name string) (int, error) {
	fd, err := unix.Open(tunDevice, unix.O_RDWR|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return -1, fmt.Errorf("no %s (modprobe tun, or give the container the device): %w", tunDevice, err)
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		return -1, fmt.Errorf("open %s: needs root (or CAP_NET_ADMIN): %w", tunDevice, err)
	case err != nil:
		return -1, fmt.Errorf("open %s: %w", tunDevice, err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUN device name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			return -1, fmt.Errorf("create TUN device %s: needs root (or CAP_NET_ADMIN): %w", name, err)
		}
		return -1, fmt.Errorf("create TUN device %s: %w", name, err)
	}
	// Non-blocking: the link's threads wait in ppoll(2), where they also
	// hear that the link is closing.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUN device %s: set non-blocking: %w", name, err)
	}
	return fd, nil
}
