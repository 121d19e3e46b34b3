package mqtttest

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// Proxy forwards loopback TCP to a target. Cut drops every connection and
// refuses new ones without telling either side — a handset entering a dead
// zone — until Restore.
type Proxy struct {
	Port   int
	target string
	l      net.Listener
	mu     sync.Mutex
	cut    bool
	drop   bool // discard what the target sends back
	conns  map[net.Conn]struct{}
}

// NewProxy listens on a free port and forwards to target (host:port).
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Port: l.Addr().(*net.TCPAddr).Port, target: target, l: l, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.Cut() })
	return p
}

// URL is the proxy as a plaintext MQTT broker URL.
func (p *Proxy) URL() string { return "tcp://127.0.0.1:" + strconv.Itoa(p.Port) }

func (p *Proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(c, up, true)
		go p.pipe(up, c, false)
	}
}

func (p *Proxy) pipe(dst, src net.Conn, reply bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := reply && p.drop
			p.mu.Unlock()
			if !drop {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Cut closes every connection through the proxy and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		// RST rather than FIN: the broker sees the client vanish, as on a
		// lost radio link, and publishes its last will.
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}

// DropReplies makes the proxy discard everything the target sends back
// (PUBACKs, PINGRESPs) while still delivering what the client sends: the
// broker has the message, the client never learns it. That is the moment
// a crash turns into a duplicate rather than a loss.
func (p *Proxy) DropReplies(on bool) {
	p.mu.Lock()
	p.drop = on
	p.mu.Unlock()
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}
