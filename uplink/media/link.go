package media

import "time"

// linkConfig are the timings of the UDP path's liveness (Options).
type linkConfig struct {
	KeepAlive     time.Duration // idle: one keep-alive this often, for the NAT binding
	ProbeInterval time.Duration // in doubt: one probe this often
	MediaTimeout  time.Duration // sent (or expecting voice) and heard nothing this long: in doubt
	DownAfter     int           // unanswered probes that make the path down
}

// link is the UDP path's health as the handset sees it, a pure state
// machine the client drives with the current time. The path is up from
// the first authenticated packet heard from the relay — an echo, a
// report, voice: each proves both that the relay has this handset's
// current address and that its packets get here. It is in doubt when
// nothing has been heard for MediaTimeout after the handset sent something
// (voice, a report) or while it expects voice (another member holds the
// floor), and when a keep-alive is not echoed within ProbeInterval; in
// doubt it probes every ProbeInterval and is down after DownAfter
// unanswered probes. Down, it keeps probing with a backoff up to
// KeepAlive, so it comes back by itself once UDP gets through again.
//
// Idle and healthy it sends one keep-alive per KeepAlive, and none at all
// while other packets go out: every radio wake-up costs battery.
type link struct {
	up          bool
	heard       time.Time // last authenticated packet from the relay
	sent        time.Time // last packet sent
	unanswered  time.Time // first packet sent after heard; zero: none
	expectSince time.Time // voice expected since; zero: not expected
	probes      int       // probes sent since heard
	firstProbe  time.Time
	lastProbe   time.Time
	announce    bool // send a keep-alive now: a new session, a new listen group
}

// heardFrom records an authenticated packet from the relay; it reports
// whether the path came up.
func (l *link) heardFrom(now time.Time) (cameUp bool) {
	l.heard, l.unanswered, l.probes = now, time.Time{}, 0
	if !l.up {
		l.up = true
		return true
	}
	return false
}

// sentPacket records a packet sent (voice, report); it reports whether it
// is the first since the relay was last heard, which arms a deadline the
// client's loop must learn about.
func (l *link) sentPacket(now time.Time) (armed bool) {
	l.sent = now
	if l.unanswered.IsZero() {
		l.unanswered = now
		return true
	}
	return false
}

// probed records a keep-alive sent.
func (l *link) probed(now time.Time) {
	l.sentPacket(now)
	if l.probes == 0 {
		l.firstProbe = now
	}
	l.probes++
	l.lastProbe = now
	l.announce = false
}

// expect says whether voice is expected from the relay (another member
// holds the floor of the group listened to).
func (l *link) expect(on bool, now time.Time) {
	switch {
	case on && l.expectSince.IsZero():
		l.expectSince = now
	case !on:
		l.expectSince = time.Time{}
	}
}

// sendable says whether voice should go over UDP now: the path is up and
// not in doubt. In doubt, voice goes over MQTT at once, while the probes
// decide.
func (l *link) sendable(c linkConfig, now time.Time) bool {
	if !l.up {
		return false
	}
	if !l.unanswered.IsZero() && !now.Before(l.unanswered.Add(c.MediaTimeout)) {
		return false
	}
	return l.probes == 0 || now.Before(l.firstProbe.Add(c.ProbeInterval))
}

// step advances the machine to now: probe says to send a keep-alive now
// (then call probed), wentDown that the path just went down, next when to
// call step again at the latest.
func (l *link) step(c linkConfig, now time.Time) (probe, wentDown bool, next time.Time) {
	if l.up && l.probes >= c.DownAfter && !now.Before(l.lastProbe.Add(c.ProbeInterval)) {
		l.up, wentDown = false, true
	}
	next = l.probeAt(c)
	probe = !now.Before(next)
	if l.up && l.probes >= c.DownAfter {
		if d := l.lastProbe.Add(c.ProbeInterval); d.Before(next) {
			next = d
		}
	}
	return probe, wentDown, next
}

func (l *link) probeAt(c linkConfig) time.Time {
	switch {
	case l.announce:
		return time.Time{}
	case l.probes > 0:
		d := c.ProbeInterval
		for extra := l.probes - c.DownAfter; !l.up && extra > 0 && d < c.KeepAlive; extra-- {
			d *= 2
		}
		return l.lastProbe.Add(min(d, max(c.KeepAlive, c.ProbeInterval)))
	case !l.up:
		return time.Time{}
	}
	at := l.sent.Add(c.KeepAlive)
	if !l.unanswered.IsZero() {
		at = earlier(at, l.unanswered.Add(c.MediaTimeout))
	}
	if !l.expectSince.IsZero() {
		since := l.expectSince
		if l.heard.After(since) {
			since = l.heard
		}
		at = earlier(at, since.Add(c.MediaTimeout))
	}
	return at
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
