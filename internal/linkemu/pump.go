package linkemu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// pipe is one direction in motion: the model, and the two descriptors it
// moves packets between. Two threads work it: carry reads packets in as
// they come, release writes them out when they are due.
type pipe struct {
	src, dst int // TUN descriptors
	stop     int // eventfd, readable once the link is closing
	kick     int // eventfd: a packet arrived on an empty pipe

	mu      sync.Mutex // guards m and stopErr, and orders the writes to dst
	m       *model
	stopErr error // why the pipe stopped early

	tap func(at time.Time, packet []byte) // Config.Tap for this direction; nil: none
}

func newPipe(src, dst, stop int, m *model) (*pipe, error) {
	kick, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("link: eventfd: %w", err)
	}
	return &pipe{src: src, dst: dst, stop: stop, kick: kick, m: m}, nil
}

// onRealtimeThread runs f on an OS thread of its own at the lowest
// real-time priority (SCHED_FIFO 1), which runs before every normal
// thread on the machine. Without it a busy machine (other test binaries,
// a build) delays the link's wake-ups by milliseconds, and the impairments
// are no longer what the profile says. The threads sleep in ppoll(2) all
// but a few µs per packet, so they take nothing from anyone. Without the
// privilege f runs at normal priority, with the finest timer slack.
//
// The thread stays locked to the goroutine, so it ends with f and its
// priority never passes to other goroutines.
func onRealtimeThread(f func()) {
	runtime.LockOSThread()
	attr := unix.SchedAttr{Policy: unix.SCHED_FIFO, Priority: 1}
	if unix.SchedSetAttr(0, &attr, 0) != nil {
		// Real-time threads have no slack; a normal one gets 50 µs.
		unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	}
	f()
}

// signal makes an eventfd readable.
func signal(fd int) {
	unix.Write(fd, binary.NativeEndian.AppendUint64(nil, 1))
}

// wait sleeps in ppoll(2) until one of fds is readable or timeout passes
// (nil: no timeout). It reports whether the last of fds, the link's stop,
// is readable; an error stops the pipe too.
func (p *pipe) wait(fds []unix.PollFd, timeout *unix.Timespec) (stop bool) {
	for i := range fds {
		fds[i].Revents = 0
	}
	if _, err := unix.Ppoll(fds, timeout, nil); err != nil && !errors.Is(err, unix.EINTR) {
		p.fail(fmt.Errorf("link stopped: ppoll: %w", err))
		return true
	}
	return fds[len(fds)-1].Revents != 0
}

// carry reads the packets the kernel sends into src and feeds them to the
// model, until the link closes.
func (p *pipe) carry() {
	buf := make([]byte, 1<<16)
	fds := []unix.PollFd{{Fd: int32(p.src), Events: unix.POLLIN}, {Fd: int32(p.stop), Events: unix.POLLIN}}
	for {
		n, err := unix.Read(p.src, buf)
		switch {
		case err == nil:
			p.arrive(time.Now(), append([]byte(nil), buf[:n]...))
			continue
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EBADFD):
			// The kernel deletes the devices of a namespace that is gone.
			p.fail(fmt.Errorf("link stopped: %w (the link outlived its namespace: close the link first)", err))
			return
		default:
			p.fail(fmt.Errorf("link stopped: read: %w", err))
			return
		}
		if p.wait(fds, nil) {
			return
		}
	}
}

// fail records why the pipe stopped, for Close to return.
func (p *pipe) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopErr == nil {
		p.stopErr = err
	}
}

// arrive puts a packet through the model. One due at once with nothing
// ahead of it is written here and now, so a clean link costs no more than
// a read and a write; anything else is left to release.
func (p *pipe) arrive(now time.Time, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	idle := len(p.m.inFlight) == 0
	if p.m.arrive(now, data) != keep || !idle {
		return // release is awake, or sleeping until a packet ahead
	}
	if out, drop, ok := p.m.pop(now); ok {
		if drop == keep {
			p.write(out)
		}
		return
	}
	signal(p.kick)
}

// release writes each packet out when it is due, until the link closes.
// It sleeps in ppoll(2), whose timeout is a high-resolution timer: no
// polling, and no millisecond rounding.
func (p *pipe) release() {
	fds := []unix.PollFd{{Fd: int32(p.kick), Events: unix.POLLIN}, {Fd: int32(p.stop), Events: unix.POLLIN}}
	var counter [8]byte
	for {
		p.mu.Lock()
		now := time.Now()
		for {
			out, drop, ok := p.m.pop(now)
			if !ok {
				break
			}
			if drop == keep {
				p.write(out)
			}
		}
		// A Stall may begin while asleep; then the next look finds
		// nothing to pop, and the one after is at the stall's end.
		next, ok := p.m.next()
		p.mu.Unlock()
		var timeout *unix.Timespec
		if ok {
			ts := unix.NsecToTimespec(max(0, time.Until(next).Nanoseconds()))
			timeout = &ts
		}
		if p.wait(fds, timeout) {
			return
		}
		unix.Read(p.kick, counter[:]) // reset: the kick is taken
	}
}

// write hands a packet to the receiving end's kernel; p.mu is held, so
// writes leave in the model's order.
func (p *pipe) write(data []byte) {
	if _, err := unix.Write(p.dst, data); err != nil {
		p.m.stats.DroppedWrite++
		return
	}
	p.m.sent(len(data))
	if p.tap != nil {
		p.tap(time.Now(), data)
	}
}
