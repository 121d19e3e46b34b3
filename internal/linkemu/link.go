package linkemu

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Direction is one way across a link.
type Direction int

const (
	Downlink Direction = iota // platform to handset
	Uplink                    // handset to platform
)

func (d Direction) String() string {
	switch d {
	case Downlink:
		return "downlink"
	case Uplink:
		return "uplink"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// Config says what a link joins and how it starts.
type Config struct {
	// Platform and Handset name the network namespaces of the two ends,
	// as `ip netns` knows them (Namespace.Name); "" is the namespace of
	// the calling process. They must differ.
	Platform, Handset string
	// Profile is the impairment of both directions to begin with;
	// SetProfile and SetDirectionProfile change it later.
	Profile Profile
	// Seed makes the random draws (loss, jitter) repeatable: two links
	// with the same Seed that see the same packets treat them alike.
	Seed uint64
	// Tap, if set, sees every packet the link delivers (an IPv4 packet,
	// headers included), when it is handed to the receiving end: a meter
	// of what crossed the link (internal/linkmeter). It runs on the link's
	// real-time threads with the direction's lock held: copy what it
	// keeps, and return at once.
	Tap func(dir Direction, at time.Time, packet []byte)
}

// Link is an emulated link between two network namespaces. Each end has a
// point-to-point TUN device with an IPv4 address; the kernels on both
// sides run real TCP and UDP over it, and the Link moves the packets
// between the devices through each direction's Profile. Its methods are
// safe for concurrent use.
type Link struct {
	platformAddr, handsetAddr netip.Addr
	devs                      [2]string // TUN device names: platform end, handset end

	subnet net.Conn // holds the address reservation; see reserveSubnet
	tun    [2]int   // TUN descriptors, platform end, handset end; -1 if none
	dirs   [2]*pipe // indexed by Direction
	stop   int      // eventfd, readable once Close has begun
	wg     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New creates the two TUN devices, moves each into its end's namespace,
// gives them addresses (PlatformAddr, HandsetAddr) and starts moving
// packets. Close undoes all of it. It needs root.
func New(cfg Config) (*Link, error) {
	if cfg.Platform == cfg.Handset {
		return nil, fmt.Errorf("link between %q and %q: the ends must be in different namespaces (\"\" is this process's)", cfg.Platform, cfg.Handset)
	}
	if err := cfg.Profile.Validate(); err != nil {
		return nil, err
	}
	if err := guardSubnets(); err != nil {
		return nil, err
	}
	subnet, platformAddr, handsetAddr, err := reserveSubnet()
	if err != nil {
		return nil, err
	}
	stop, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		subnet.Close()
		return nil, fmt.Errorf("link: eventfd: %w", err)
	}
	l := &Link{
		platformAddr: platformAddr,
		handsetAddr:  handsetAddr,
		subnet:       subnet,
		tun:          [2]int{-1, -1},
		stop:         stop,
	}
	// pid and sequence keep the names apart across parallel test
	// processes; they fit the 15 bytes of an interface name for any pid
	// and the first 1.6 million links.
	id := fmt.Sprintf("le%d-%s", os.Getpid(), strconv.FormatUint(nsSeq.Add(1), 36))
	ends := [2]struct {
		ns, dev     string
		local, peer netip.Addr
	}{
		{cfg.Platform, id + "p", l.platformAddr, l.handsetAddr},
		{cfg.Handset, id + "h", l.handsetAddr, l.platformAddr},
	}
	for i, e := range ends {
		l.devs[i] = e.dev
		fd, err := openTUN(e.dev)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.tun[i] = fd
		if err := configureEnd(e.ns, e.dev, e.local, e.peer); err != nil {
			l.Close()
			return nil, err
		}
	}
	for d := range l.dirs {
		// Downlink reads the platform end and writes the handset end.
		p, err := newPipe(l.tun[d], l.tun[1-d], l.stop, newModel(cfg.Profile, cfg.Seed, uint64(d)))
		if err != nil {
			l.Close()
			return nil, err
		}
		if tap := cfg.Tap; tap != nil {
			dir := Direction(d)
			p.tap = func(at time.Time, pkt []byte) { tap(dir, at, pkt) }
		}
		l.dirs[d] = p
	}
	for _, p := range l.dirs {
		l.wg.Add(2)
		go func() { defer l.wg.Done(); onRealtimeThread(p.carry) }()
		go func() { defer l.wg.Done(); onRealtimeThread(p.release) }()
	}
	return l, nil
}

// configureEnd moves a TUN device into its namespace and brings it up with
// a /32 address and a route to the one peer.
func configureEnd(ns, dev string, local, peer netip.Addr) error {
	nsFlag := []string{}
	if ns != "" {
		if err := runIP("link", "set", "dev", dev, "netns", ns); err != nil {
			return fmt.Errorf("move %s to namespace %s (create it with NewNamespace or `ip netns add`): %w", dev, ns, err)
		}
		nsFlag = []string{"-n", ns}
	}
	// IPv4 only: with IPv6 on, the kernel would send router solicitations
	// and MLD reports of its own across the link, which would show in
	// Stats and draw on the loss model.
	err := inNamedNamespace(ns, func() error {
		err := os.WriteFile(filepath.Join("/proc/sys/net/ipv6/conf", dev, "disable_ipv6"), []byte("1"), 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil // a kernel without IPv6
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("turn IPv6 off on %s: %w", dev, err)
	}
	batch := fmt.Sprintf("link set dev %s mtu %d\naddress add %s/32 peer %s/32 dev %s\nlink set dev %s up\n",
		dev, MTU, local, peer, dev, dev)
	if err := runIPInput([]byte(batch), append(nsFlag, "-batch", "-")...); err != nil {
		return fmt.Errorf("configure %s: %w", dev, err)
	}
	return nil
}

// PlatformAddr is the address of the platform end; the handset end routes
// to it over the link.
func (l *Link) PlatformAddr() netip.Addr { return l.platformAddr }

// HandsetAddr is the address of the handset end; the platform end routes
// to it over the link.
func (l *Link) HandsetAddr() netip.Addr { return l.handsetAddr }

// SetProfile changes both directions' impairments from now on. Packets
// already in flight keep the times they were given.
func (l *Link) SetProfile(p Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	for _, d := range l.dirs {
		d.mu.Lock()
		d.m.prof = p
		d.mu.Unlock()
	}
	return nil
}

// SetDirectionProfile is SetProfile for one direction.
func (l *Link) SetDirectionProfile(dir Direction, p Profile) error {
	if err := p.Validate(); err != nil {
		return err
	}
	d, err := l.dir(dir)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.m.prof = p
	d.mu.Unlock()
	return nil
}

// Stall holds every packet in both directions for d from now, then lets
// the held backlog out at once, in order, as a cellular link does with
// what it buffered during a handover. Nothing is lost.
func (l *Link) Stall(d time.Duration) {
	now := time.Now()
	for _, p := range l.dirs {
		p.mu.Lock()
		p.m.stall(now, d)
		p.mu.Unlock()
	}
}

// Blackout loses every packet in both directions, those sent and those
// due out, for d from now, as when coverage is gone.
func (l *Link) Blackout(d time.Duration) {
	now := time.Now()
	for _, p := range l.dirs {
		p.mu.Lock()
		p.m.blackout(now, d)
		p.mu.Unlock()
	}
}

// Stats is what has happened to one direction's packets so far; zero for
// a Direction that is neither Downlink nor Uplink.
func (l *Link) Stats(dir Direction) Stats {
	d, err := l.dir(dir)
	if err != nil {
		return Stats{}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m.stats
}

func (l *Link) dir(dir Direction) (*pipe, error) {
	if dir != Downlink && dir != Uplink {
		return nil, fmt.Errorf("%v: want Downlink or Uplink", dir)
	}
	return l.dirs[dir], nil
}

// Close stops the link and removes its devices (with their addresses and
// routes); packets in flight are lost. The namespaces stay. It returns the
// first error the link met while running, if any.
func (l *Link) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		// Wake every thread, and wait for them to be done with the
		// descriptors before closing them.
		signal(l.stop)
		l.wg.Wait()
		for _, d := range l.dirs {
			if d != nil {
				errs = append(errs, d.stopErr)
				unix.Close(d.kick)
			}
		}
		for _, fd := range l.tun {
			if fd >= 0 {
				// A TUN device without an open descriptor is deleted.
				unix.Close(fd)
			}
		}
		unix.Close(l.stop)
		errs = append(errs, l.subnet.Close())
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}
