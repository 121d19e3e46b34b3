package media

import "time"

// roundTrip is RFC 6298's estimator over the echoes of the keep-alives:
// the smoothed round trip and its variation. One sample gives a variation
// of half the round trip — a long link is taken for a jittery one until
// more echoes say otherwise (an idle handset gets one every KeepAlive).
type roundTrip struct {
	srtt, rttvar time.Duration
	n            int
}

func (r *roundTrip) add(d time.Duration) {
	if r.n == 0 {
		r.srtt, r.rttvar = d, d/2
	} else {
		r.rttvar = (3*r.rttvar + (r.srtt - d).Abs()) / 4
		r.srtt = (7*r.srtt + d) / 8
	}
	r.n++
}

// RoundTrip is the UDP path's smoothed round trip and how much it
// varies (RFC 6298's SRTT and RTTVAR), from the relay's echoes; ok is
// false before the first echo. Push-to-talk starts a new speaker's first
// burst at the variation (audio.Output.SetLinkHint).
func (c *Client) RoundTrip() (srtt, rttvar time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rtt.srtt, c.rtt.rttvar, c.rtt.n > 0
}
