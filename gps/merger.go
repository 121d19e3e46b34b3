package gps

import "time"

// maxCyclePRN bounds the satellites remembered for a cycle's union of GSA
// PRNs: 12 per GSA, one GSA per constellation (GPS, GLONASS, Galileo,
// BeiDou, QZSS, NavIC, and SBAS in some).
const maxCyclePRN = 96

// cycle accumulates the sentences of one reporting cycle.
type cycle struct {
	fix    Fix
	n      int             // sentences merged
	seen   [numKinds]uint8 // sentences merged, by kind
	last   kind            // kind of the last sentence merged
	first  kind            // kind of the first sentence with a time
	tod    time.Duration
	hasTOD bool
	date   civil // from an RMC of this cycle
	good   bool  // some sentence said the fix is good
	bad    bool  // some sentence said it is not
	// Satellites used: GGA's count wins, then GNS's, then the GSA union.
	satsGGA, satsGNS bool
	gsaMode          Mode
	dopFromGSA       Fields
	prns             [maxCyclePRN]uint16
	nprn             int
}

// Merger decodes sentences and merges each reporting cycle of the receiver
// into one Fix.
//
// A receiver reports once per cycle (typically 1 Hz) with several
// sentences, each carrying part of the fix: RMC has speed, course and date,
// GGA altitude and satellite count, GSA the fix mode and DOPs (one GSA per
// constellation on multi-GNSS receivers), VTG speed again, and so on. A cycle
// ends
//
//   - when a sentence carries a UTC time different from the cycle's: the
//     previous cycle is complete, whatever came last;
//   - as soon as the sentence that ended the previous cycles arrives. Like
//     gpsd, the Merger learns that sentence from the first cycle that ended
//     by a time change (the last sentence before the change, unless it was a
//     GSA, of which a cycle has a varying number), so that fixes are emitted
//     without waiting for the next cycle's first sentence. If that sentence
//     stops coming (two cycles end by time change), it learns again; if a
//     sentence of the emitted cycle's time arrives afterwards, the learned
//     end was wrong: the late sentence is discarded (counted in Late, never
//     a second fix with the same time) and the Merger learns again;
//   - when a sentence type repeats in a cycle that has no time (receivers
//     without a fix often send empty time fields), other than GSA.
//
// Sentences without a time (GSA, VTG) belong to the cycle being assembled.
//
// The date comes from RMC (or ZDA); cycles without one take the last known
// date, advanced when the time of day wraps past midnight.
//
// A Merger allocates nothing per sentence. It is not safe for concurrent use.
type Merger struct {
	d   decoded
	cur cycle

	ender  kind // the learned last sentence of a cycle, kindNone until learned
	misses int  // cycles in a row that ended by time change although ender is known
	// closedTOD is the time of the cycle last emitted on its end sentence,
	// to recognise late sentences of that cycle.
	closedTOD   time.Duration
	closedFirst kind // the first timed sentence of that cycle
	closed      bool

	date    civil         // last known date
	dateTOD time.Duration // the time of day date applied to

	c Counters
}

// Counters returns what the Merger has decoded, ignored and dropped.
func (m *Merger) Counters() Counters { return m.c }

// Feed decodes one sentence ("$GPGGA,...*hh", trailing CR LF allowed) and
// returns the fix of a cycle when this sentence completed one. The sentence
// is not retained.
func (m *Merger) Feed(sentence []byte) (Fix, bool) {
	res, reason := decode(sentence, &m.d)
	switch res {
	case decIgnored:
		m.c.Ignored++
		return Fix{}, false
	case decDropped:
		m.c.Drops[reason]++
		return Fix{}, false
	}
	d := &m.d
	if d.kind == kindZDA {
		m.c.Sentences++
		// ZDA is a clock, not part of the fix: many receivers send it on
		// their own schedule, so it only tells the date.
		if d.date.good && d.hasTOD {
			m.date, m.dateTOD = d.date, d.tod
		}
		return Fix{}, false
	}

	if m.closed && !m.cur.hasTOD && d.hasTOD {
		// The time of the cycle just emitted again: a sentence of that
		// cycle that came after its learned end, unless it is the kind
		// that began the cycle (a receiver reporting faster than its time
		// field resolves begins the next cycle with the same time).
		if d.tod == m.closedTOD && d.kind != m.closedFirst {
			m.c.Late++
			m.ender = kindNone
			return Fix{}, false
		}
		m.closed = false
	}

	var out Fix
	emitted := false
	switch {
	case d.hasTOD && m.cur.hasTOD && d.tod != m.cur.tod:
		m.learn()
		out, emitted = m.emit(), true
	case m.cur.n > 0 && d.kind != kindGSA && m.cur.seen[d.kind] > 0:
		// A type repeats: a receiver sends each once a cycle (GSA once
		// per constellation), so this is the next cycle, whether its time
		// is missing or the same as this one's (whole seconds at 5 Hz).
		if d.hasTOD && m.cur.hasTOD {
			m.learn()
		}
		out, emitted = m.emit(), true
	}
	m.merge(d)
	if !emitted && d.kind == m.ender && m.cur.seen[d.kind] == 1 {
		m.misses = 0
		tod, hasTOD, first := m.cur.tod, m.cur.hasTOD, m.cur.first
		out, emitted = m.emit(), true
		// A cycle without a time cannot have late sentences recognised.
		m.closed, m.closedTOD, m.closedFirst = hasTOD, tod, first
	}
	return out, emitted
}

// Flush returns the cycle in progress, if any, as at the end of input.
func (m *Merger) Flush() (Fix, bool) {
	if m.cur.n == 0 {
		return Fix{}, false
	}
	return m.emit(), true
}

// learn is called when a cycle ended by a time change: its last sentence is
// the one that ends cycles.
func (m *Merger) learn() {
	if m.ender != kindNone {
		if m.misses++; m.misses < 2 {
			return
		}
	}
	m.misses = 0
	m.ender = kindNone
	if k := m.cur.last; k != kindGSA && k != kindNone && m.cur.seen[k] == 1 {
		m.ender = k
	}
}

func (m *Merger) merge(d *decoded) {
	m.c.Sentences++
	c := &m.cur
	c.n++
	c.seen[d.kind]++
	c.last = d.kind
	if d.hasTOD && !c.hasTOD {
		c.tod, c.hasTOD = d.tod, true
		c.first = d.kind
	}
	switch d.valid {
	case vGood:
		c.good = true
	case vBad:
		c.bad = true
	}
	f, h := &c.fix, d.fix.Has
	if h&HasPosition != 0 {
		f.Lat, f.Lon = d.fix.Lat, d.fix.Lon
	}
	if h&HasAltitude != 0 {
		f.Alt = d.fix.Alt
	}
	if h&HasSpeed != 0 {
		f.Speed = d.fix.Speed
	}
	if h&HasCourse != 0 {
		f.Course = d.fix.Course
	}
	if h&HasQuality != 0 {
		f.Quality = d.fix.Quality
	}
	if h&HasAccuracy != 0 {
		f.Accuracy = d.fix.Accuracy
	}
	f.Has |= h & (HasPosition | HasAltitude | HasSpeed | HasCourse | HasQuality | HasAccuracy | HasGST)
	if d.kind == kindRMC && d.date.good {
		c.date = d.date
	}
	switch d.kind {
	case kindGGA, kindGNS:
		if h&HasSats != 0 && !c.satsGGA {
			f.Sats, f.Has = d.fix.Sats, f.Has|HasSats
			c.satsGGA = d.kind == kindGGA
			c.satsGNS = d.kind == kindGNS
		}
		if h&HasHDOP != 0 && c.dopFromGSA&HasHDOP == 0 {
			f.HDOP, f.Has = d.fix.HDOP, f.Has|HasHDOP
		}
	case kindGSA:
		if h&HasMode != 0 && d.fix.Mode > c.gsaMode {
			c.gsaMode = d.fix.Mode
		}
		// GSA's DOPs are the solution's, repeated in each constellation's
		// GSA; they take precedence over GGA's HDOP, which some receivers
		// round to one decimal.
		if h&HasPDOP != 0 {
			f.PDOP = d.fix.PDOP
		}
		if h&HasHDOP != 0 {
			f.HDOP = d.fix.HDOP
		}
		if h&HasVDOP != 0 {
			f.VDOP = d.fix.VDOP
		}
		dops := h & (HasPDOP | HasHDOP | HasVDOP)
		f.Has |= dops
		c.dopFromGSA |= dops
		for _, prn := range d.prns[:d.nprn] {
			c.addPRN(uint16(d.sys)<<10 | prn)
		}
	}
}

func (c *cycle) addPRN(key uint16) {
	for _, k := range c.prns[:c.nprn] {
		if k == key {
			return
		}
	}
	if c.nprn < len(c.prns) {
		c.prns[c.nprn] = key
		c.nprn++
	}
}

// emit completes the current cycle into a Fix and starts a new one.
func (m *Merger) emit() Fix {
	c := &m.cur
	f := c.fix
	if c.hasTOD {
		f.Has |= HasTime
		f.Time = time.Time{}.Add(c.tod)
		if date, ok := m.dateFor(c); ok {
			f.Time = date.at(c.tod)
			f.Has |= HasDate
		}
	}
	if !c.satsGGA && !c.satsGNS && c.seen[kindGSA] > 0 {
		f.Sats, f.Has = c.nprn, f.Has|HasSats
	}
	f.Valid = c.good && !c.bad && f.Has&HasPosition != 0
	switch {
	case !f.Valid:
		// An error estimate belongs to a position; an invalid cycle has
		// none to speak of.
		f.Accuracy, f.Has = 0, f.Has&^(HasAccuracy|HasGST)
	case f.Has&HasGST == 0 && f.Has&HasHDOP != 0 && f.HDOP > 0:
		f.Accuracy, f.Has = f.HDOP*UERE, f.Has|HasAccuracy
	}
	// Mode is 2D or 3D exactly when the fix is valid, so that a consumer
	// looking only at Mode is never misled by a GSA that claims 3D in a
	// cycle whose RMC says the data are not valid.
	switch {
	case f.Valid && c.gsaMode >= Mode2D:
		f.Mode = c.gsaMode
	case f.Valid && f.Has&HasAltitude != 0 && (c.seen[kindGGA] > 0 || c.seen[kindGNS] > 0):
		f.Mode = Mode3D
	case f.Valid:
		f.Mode = Mode2D
	case c.bad || c.gsaMode != ModeUnknown:
		f.Mode = ModeNoFix
	}
	if f.Mode != ModeUnknown {
		f.Has |= HasMode
	}
	m.c.Fixes++
	m.cur = cycle{}
	m.closed = false
	return f
}

// dateFor returns the date of cycle c and remembers it for later cycles.
func (m *Merger) dateFor(c *cycle) (civil, bool) {
	if c.date.good {
		m.date, m.dateTOD = c.date, c.tod
		return c.date, true
	}
	if !m.date.good {
		return civil{}, false
	}
	// Cycles are at most seconds apart: a time of day far below the last
	// one means midnight passed, far above means the date came from a
	// sentence just after midnight that preceded this cycle.
	const halfDay = 12 * time.Hour
	switch {
	case c.tod < m.dateTOD-halfDay:
		m.date = m.date.next()
	case c.tod > m.dateTOD+halfDay:
		m.date = m.date.prev()
	}
	m.dateTOD = c.tod
	return m.date, true
}

// discard forgets the cycle in progress, as when the device went away in
// the middle of it. What was learned about the receiver is kept.
func (m *Merger) discard() {
	m.cur = cycle{}
	m.closed = false
}
