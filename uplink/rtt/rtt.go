// Package rtt estimates a link's round trip and how much it varies, the
// way TCP does (RFC 6298's SRTT and RTTVAR), from whatever the uplink
// already exchanges: the media relay's echoes of the UDP keep-alives, the
// broker's SUBACKs. Push-to-talk starts a new speaker's first burst from
// the variation (audio.Jitter.SetLinkHint).
package rtt

import "time"

// Estimator is RFC 6298's estimator. One sample gives a variation of half
// the round trip — a long link is taken for a jittery one until more
// samples say otherwise. The zero value is ready; it is not safe for
// concurrent use.
type Estimator struct {
	srtt, rttvar time.Duration
	n            int
}

// Add takes one round-trip sample.
func (e *Estimator) Add(d time.Duration) {
	if e.n == 0 {
		e.srtt, e.rttvar = d, d/2
	} else {
		e.rttvar = (3*e.rttvar + (e.srtt - d).Abs()) / 4
		e.srtt = (7*e.srtt + d) / 8
	}
	e.n++
}

// Get is the smoothed round trip and its variation; ok is false before
// the first sample.
func (e *Estimator) Get() (srtt, rttvar time.Duration, ok bool) {
	return e.srtt, e.rttvar, e.n > 0
}
