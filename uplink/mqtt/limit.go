package mqtt

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
)

// DefaultMaxIncoming bounds one incoming MQTT packet: the largest message
// the handset has a use for is a platform event (wire.MaxEventSize, 1 MiB)
// with its topic and header.
const DefaultMaxIncoming = 1<<20 + 4096

// packetFilter sits between the broker's byte stream and paho. paho reads a
// packet's declared length and then allocates and reads the whole body
// before any handler can look at it: a 100 MB message took a handset from
// 24 to 215 MB of memory, and a retained one did it again at every
// reconnect. The filter parses each fixed header as it passes and removes
// a PUBLISH larger than max from the stream, so paho never sees it and
// nothing is allocated for it. Any other packet that large cannot be a
// broker's (CONNACK, SUBACK, PUBACK, PINGRESP are a few bytes) and fails
// the connection.
//
// Dropping a QoS 1 PUBLISH without a PUBACK leaves the broker one in-flight
// slot short until the next (clean-session) connection; that is the price
// of never reading it, and each drop is logged and counted.
type packetFilter struct {
	net.Conn
	max     int
	onDrop  func(size int)
	onWrite func() // after each write: the radio is awake
	onRead  func() // after each read from the network: so it is

	buf  [4096]byte
	r, w int   // buf[r:w] is read from the network, not yet handled
	err  error // the network's error, returned once buf is drained

	hdr  [5]byte // the fixed header being collected
	nhdr int
	out  []byte // a complete fixed header, to hand paho before its body
	pass int    // body bytes of the current packet still to hand paho
	skip int    // body bytes of a dropped packet still to discard
}

// ErrPacketTooLarge fails a connection on which the broker sent a packet
// other than PUBLISH beyond the limit, or a malformed length.
var ErrPacketTooLarge = errors.New("mqtt: packet too large")

const publishType = 3

func newPacketFilter(c net.Conn, max int, onDrop func(int)) *packetFilter {
	return &packetFilter{Conn: c, max: max, onDrop: onDrop}
}

func (f *packetFilter) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if len(f.out) > 0 {
			n := copy(p, f.out)
			f.out = f.out[n:]
			return n, nil
		}
		if f.r == f.w {
			if f.err != nil {
				return 0, f.err
			}
			// Body bytes go straight into paho's buffer: only headers and
			// dropped packets pass through ours.
			if f.pass > 0 {
				n, err := f.Conn.Read(p[:min(len(p), f.pass)])
				f.pass -= n
				if n > 0 {
					f.read()
					return n, nil
				}
				return 0, err
			}
			n, err := f.Conn.Read(f.buf[:])
			f.r, f.w, f.err = 0, n, err
			if n == 0 {
				if err == nil {
					continue
				}
				return 0, err
			}
			f.read()
		}
		avail := f.buf[f.r:f.w]
		switch {
		case f.pass > 0:
			n := copy(p, avail[:min(len(avail), f.pass)])
			f.r += n
			f.pass -= n
			return n, nil
		case f.skip > 0:
			n := min(len(avail), f.skip)
			f.r += n
			f.skip -= n
			continue
		}
		if err := f.header(avail[0]); err != nil {
			return 0, err
		}
		f.r++
	}
}

// header takes the next byte of a fixed header: the type byte, then one to
// four bytes of the remaining length (MQTT 3.1.1 §2.2.3).
func (f *packetFilter) header(b byte) error {
	f.hdr[f.nhdr] = b
	f.nhdr++
	if f.nhdr == 1 || b&0x80 != 0 {
		if f.nhdr == len(f.hdr) {
			return fmt.Errorf("%w: malformed remaining length", ErrPacketTooLarge)
		}
		return nil
	}
	length, mult := 0, 1
	for _, lb := range f.hdr[1:f.nhdr] {
		length += int(lb&0x7f) * mult
		mult *= 128
	}
	typ := f.hdr[0] >> 4
	nhdr := f.nhdr
	f.nhdr = 0
	if length > f.max {
		if typ != publishType {
			return fmt.Errorf("%w: packet type %d of %d bytes (limit %d)", ErrPacketTooLarge, typ, length, f.max)
		}
		f.skip = length
		if f.onDrop != nil {
			f.onDrop(length)
		}
		return nil
	}
	f.out = f.hdr[:nhdr]
	f.pass = length
	return nil
}

func (f *packetFilter) read() {
	if f.onRead != nil {
		f.onRead()
	}
}

func (f *packetFilter) Write(p []byte) (int, error) {
	n, err := f.Conn.Write(p)
	if f.onWrite != nil && n > 0 {
		f.onWrite()
	}
	return n, err
}

var _ io.Reader = (*packetFilter)(nil)

// dropCounter counts the messages the filter removed, for Stats.
type dropCounter struct {
	n       atomic.Uint64
	largest atomic.Int64
}

func (d *dropCounter) add(size int) {
	d.n.Add(1)
	for {
		cur := d.largest.Load()
		if int64(size) <= cur || d.largest.CompareAndSwap(cur, int64(size)) {
			return
		}
	}
}
