package mqtt

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/sys/unix"
)

// chunkConn hands out a byte stream in reads of random sizes, as TCP does.
type chunkConn struct {
	net.Conn
	data []byte
	rng  *rand.Rand
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.rng.IntN(700))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// packet encodes one MQTT packet: a type byte, the remaining length as
// MQTT's variable-length integer, and a body of that many bytes.
func packet(typ byte, body []byte) []byte {
	b := []byte{typ<<4 | 2}
	n := len(body)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			break
		}
	}
	return append(b, body...)
}

// readAll reads the filter the way paho does: a byte, then the length byte
// by byte, then the body — here simply in odd-sized reads.
func readAll(r io.Reader, rng *rand.Rand) ([]byte, error) {
	var out []byte
	buf := make([]byte, 300)
	for {
		n, err := r.Read(buf[:1+rng.IntN(len(buf))])
		out = append(out, buf[:n]...)
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
	}
}

// filterStream builds a stream from seed and checks the filter passes every
// packet within max unchanged, drops every larger PUBLISH, and fails on a
// larger packet of another type.
func filterStream(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	const max = 1000
	var in, want []byte
	var drops []int
	fatal := false
	for i := 0; i < 40 && !fatal; i++ {
		size := rng.IntN(3 * max)
		if rng.IntN(4) == 0 {
			size = rng.IntN(10)
		}
		typ := byte(publishType)
		if rng.IntN(5) == 0 {
			typ = byte(1 + rng.IntN(14))
		}
		body := make([]byte, size)
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		p := packet(typ, body)
		in = append(in, p...)
		switch {
		case size <= max:
			want = append(want, p...)
		case typ == publishType:
			drops = append(drops, size)
		default:
			fatal = true
		}
	}
	var dropped []int
	f := newPacketFilter(&chunkConn{data: in, rng: rng}, max, func(n int) { dropped = append(dropped, n) })
	got, err := readAll(f, rng)
	if fatal {
		if !errors.Is(err, ErrPacketTooLarge) {
			t.Fatalf("seed %d: an oversized non-PUBLISH packet did not fail the stream: %v", seed, err)
		}
		if !bytes.HasPrefix(want, got) {
			t.Fatalf("seed %d: before the failure, the stream differs", seed)
		}
		return
	}
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("seed %d: filtered stream differs: %d bytes, want %d", seed, len(got), len(want))
	}
	if len(dropped) != len(drops) {
		t.Fatalf("seed %d: dropped %v, want %v", seed, dropped, drops)
	}
	for i := range drops {
		if dropped[i] != drops[i] {
			t.Fatalf("seed %d: dropped %v, want %v", seed, dropped, drops)
		}
	}
}

func TestPacketFilterPassesSmallAndDropsLargePublish(t *testing.T) {
	for seed := range uint64(200) {
		filterStream(t, seed)
	}
}

func FuzzPacketFilter(f *testing.F) {
	f.Add(uint64(1))
	f.Add(uint64(99))
	f.Fuzz(func(t *testing.T, seed uint64) { filterStream(t, seed) })
}

// A malformed length (five continuation bytes) fails instead of looping.
func TestPacketFilterMalformedLength(t *testing.T) {
	in := []byte{publishType << 4, 0xff, 0xff, 0xff, 0xff, 0x01}
	f := newPacketFilter(&chunkConn{data: in, rng: rand.New(rand.NewPCG(1, 1))}, 100, nil)
	if _, err := io.ReadAll(f); !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("got %v", err)
	}
}

// The filter itself allocates nothing per packet.
func TestPacketFilterAllocs(t *testing.T) {
	p := packet(publishType, make([]byte, 60))
	stream := bytes.Repeat(p, 100)
	buf := make([]byte, 256)
	c := &chunkConn{rng: rand.New(rand.NewPCG(1, 2))}
	f := newPacketFilter(c, 1000, nil)
	allocs := testing.AllocsPerRun(20, func() {
		c.data = stream
		for {
			if _, err := f.Read(buf); err != nil {
				break
			}
		}
		f.err = nil
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per 100 packets", allocs)
	}
}

// The broker connection carries no TCP keep-alive: MQTT's own PINGREQ
// proves the link, and TCP's probes beneath it would wake the radio.
func TestBrokerConnectionHasNoTCPKeepAlive(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	c := New(Options{Brokers: []string{"tcp://" + l.Addr().String()}, ConnectTimeout: time.Second})
	u, _ := url.Parse("tcp://" + l.Addr().String())
	conn, err := c.open(u, *paho.NewClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := conn.(*packetFilter).Conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var on int
	raw.Control(func(fd uintptr) { on, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE) })
	if err != nil || on != 0 {
		t.Errorf("SO_KEEPALIVE = %d (%v), want 0", on, err)
	}
}
