package linkemu

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// subnets is where links take their addresses: a /30 each, the platform
// end on the first host address and the handset on the second.
var subnets = netip.MustParsePrefix("10.77.0.0/16")

const subnetBits = 30

// reserveSubnet picks a /30 of subnets that no other link on the machine
// uses, and holds it while the returned socket is open. The reservation is
// an abstract unix socket: binding its name is atomic, and the kernel drops
// it when the process dies, so a crashed test leaves nothing to clean up.
// Abstract names are per network namespace, as are the addresses they
// guard.
//
// The search starts at random, so that a subnet just freed is seldom taken
// again at once: a socket can outlive its link (a TCP FIN retransmitted
// for a minute), and its packets would land on the next link to use the
// addresses.
func reserveSubnet() (c net.Conn, platform, handset netip.Addr, err error) {
	n := 1 << (subnetBits - subnets.Bits())
	base := subnets.Addr().As4()
	first := rand.IntN(n)
	for i := range n {
		k := (first + i) % n
		a := base
		a[2], a[3] = byte(k>>6), byte(k<<2)
		name := fmt.Sprintf("@pttagent-linkemu-%s/%d", netip.AddrFrom4(a), subnetBits)
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if errors.Is(err, unix.EADDRINUSE) {
			continue
		}
		if err != nil {
			return nil, netip.Addr{}, netip.Addr{}, fmt.Errorf("reserve a link subnet: %w", err)
		}
		platform = netip.AddrFrom4(a).Next()
		return c, platform, platform.Next(), nil
	}
	return nil, netip.Addr{}, netip.Addr{}, fmt.Errorf("reserve a link subnet: all %d in %v are in use; close links that are done", n, subnets)
}

// guardSubnets makes the link addresses unreachable from the process's
// namespace except through a link, whose /32 route is more specific.
// Without it, a packet for a link that is gone (from a socket that
// outlived it) would follow the default route out of the machine. The
// route stays after the links are closed, as such sockets may live on for
// minutes; `ip route` shows it as "unreachable 10.77.0.0/16".
var guardSubnets = sync.OnceValue(func() error {
	if err := runIP("route", "replace", "unreachable", subnets.String()); err != nil {
		return fmt.Errorf("guard route for %v (needs root): %w", subnets, err)
	}
	return nil
})
