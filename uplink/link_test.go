package uplink_test

import (
	"bufio"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// link is a TCP proxy between the handset and the broker that plays a bad
// radio link: it carries Rate bytes per second each way (0: as fast as
// loopback), like GPRS at the edge of coverage — what the client writes is
// accepted at once, into the kernel's buffers and the radio's queue, and
// crosses slowly — and it can lose chosen PUBACKs on the way back while
// the connection stays up.
type link struct {
	Port   int
	target string
	rate   int
	// dropPuback says whether to lose the n-th PUBACK (from 1).
	dropPuback func(n int) bool
	l          net.Listener
	// Up counts the bytes carried from the client to the broker.
	Up      atomic.Int64
	pubacks atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
}

func newLink(t *testing.T, target string, rate int, dropPuback func(n int) bool) *link {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &link{Port: l.Addr().(*net.TCPAddr).Port, target: target, rate: rate, dropPuback: dropPuback, l: l}
	go k.serve()
	t.Cleanup(func() {
		l.Close()
		k.mu.Lock()
		for _, c := range k.conns {
			c.Close()
		}
		k.mu.Unlock()
	})
	return k
}

func (k *link) URL() string { return "tcp://127.0.0.1:" + strconv.Itoa(k.Port) }

func (k *link) serve() {
	for {
		c, err := k.l.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", k.target)
		if err != nil {
			c.Close()
			continue
		}
		k.mu.Lock()
		k.conns = append(k.conns, c, up)
		k.mu.Unlock()
		go k.carry(up, c, &k.Up, nil)
		go k.carry(c, up, nil, k.dropPuback)
	}
}

// carry copies src to dst at the link's rate, one MQTT packet at a time,
// leaving out the PUBACKs drop chooses.
func (k *link) carry(dst, src net.Conn, count *atomic.Int64, drop func(int) bool) {
	defer dst.Close()
	defer src.Close()
	r := bufio.NewReader(src)
	start, sent := time.Now(), 0
	for {
		pkt, err := mqtttest.ReadPacket(r)
		if err != nil {
			return
		}
		if drop != nil && pkt[0]>>4 == 4 && drop(int(k.pubacks.Add(1))) {
			continue
		}
		for len(pkt) > 0 {
			n := len(pkt)
			if k.rate > 0 {
				n = min(n, max(1, k.rate/10)) // a tenth of a second at a time
			}
			if _, err := dst.Write(pkt[:n]); err != nil {
				return
			}
			if count != nil {
				count.Add(int64(n))
			}
			pkt = pkt[n:]
			if k.rate == 0 {
				continue
			}
			sent += n
			due := start.Add(time.Duration(sent) * time.Second / time.Duration(k.rate))
			if now := time.Now(); due.Before(now) {
				// The link idled while there was nothing to send: that
				// time is gone, not credit for a burst.
				start, sent = now, n
				due = now.Add(time.Duration(n) * time.Second / time.Duration(k.rate))
			}
			time.Sleep(time.Until(due))
		}
	}
}
