package gps

// Reason says why input was thrown away. Every byte sequence that does not
// become part of a fix is counted under exactly one reason, so a technician
// can tell a wrong baud rate (garbage, binary) from a flaky cable (checksum,
// cut) from a receiver speaking a dialect we do not understand (decode).
type Reason uint8

const (
	// DropGarbage counts runs of bytes outside any sentence (text before
	// the first '$', noise between sentences). One run counts once.
	DropGarbage Reason = iota
	// DropCut counts sentences that never reached their line end: a new '$'
	// or '!' arrived first, or the input ended (device unplugged mid-line).
	DropCut
	// DropOverlong counts sentences longer than MaxSentence bytes.
	DropOverlong
	// DropBinary counts sentences containing a control or non-ASCII byte.
	DropBinary
	// DropNoChecksum counts sentences without a "*hh" checksum. NMEA makes
	// the checksum optional for some sentences, but every GNSS receiver we
	// target sends it, and without it a line cut and spliced by a serial
	// overrun is indistinguishable from a real one: we are strict.
	DropNoChecksum
	// DropChecksum counts sentences whose checksum does not match.
	DropChecksum
	// DropFraming counts sentences whose envelope is wrong: an address that
	// is not two upper-case letters plus a type, junk after the checksum.
	DropFraming
	// DropDecode counts sentences of a type we decode whose fields are
	// malformed or out of range (letters in a number, latitude minutes ≥ 60,
	// hour 25, too few fields).
	DropDecode
	// NumReasons is the number of reasons; Drops is indexed by Reason.
	NumReasons
)

var reasonNames = [NumReasons]string{
	DropGarbage:    "garbage",
	DropCut:        "cut",
	DropOverlong:   "overlong",
	DropBinary:     "binary",
	DropNoChecksum: "no-checksum",
	DropChecksum:   "checksum",
	DropFraming:    "framing",
	DropDecode:     "decode",
}

func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Drops counts dropped input by Reason.
type Drops [NumReasons]uint64

// Total is the number of drops for all reasons.
func (d *Drops) Total() uint64 {
	var n uint64
	for _, v := range d {
		n += v
	}
	return n
}

// Counters is what a Scanner or a Merger has seen. The two count disjoint
// things (the Scanner framing, the Merger content), so Add of both gives the
// whole pipeline without double counting.
type Counters struct {
	Sentences uint64 // sentences decoded and merged into a cycle (Merger)
	Ignored   uint64 // well-formed sentences of types we do not use: GSV, TXT, proprietary, '!' AIS
	Comments  uint64 // lines starting with '#', as written into logs
	// Late counts sentences that arrived after their cycle had already been
	// emitted (the learned end-of-cycle sentence turned out not to be the
	// last); they are discarded rather than emitted as a second fix with the
	// same time, and the learned end is forgotten.
	Late  uint64
	Fixes uint64 // cycles completed into a Fix (Merger)
	Drops Drops
}

// Add adds o's counts to c.
func (c *Counters) Add(o *Counters) {
	c.Sentences += o.Sentences
	c.Ignored += o.Ignored
	c.Comments += o.Comments
	c.Late += o.Late
	c.Fixes += o.Fixes
	for i := range c.Drops {
		c.Drops[i] += o.Drops[i]
	}
}
