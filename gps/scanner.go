package gps

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// MaxSentence is the longest sentence the Scanner accepts, from '$' to the
// end of the checksum. NMEA 0183 allows 82 bytes including CR LF; receivers
// exceed that with long GSA/GSV variants and proprietary sentences, so we
// are lenient up to here. Anything longer is a corrupt or binary stream.
const MaxSentence = 120

// readBuf is big enough to read files in few syscalls; a serial port returns
// far smaller chunks anyway.
const readBuf = 4096

type scanState uint8

const (
	stHunt     scanState = iota // between sentences: wait for '$', '!' or a '#' comment
	stSentence                  // inside a sentence
	stComment                   // inside a '#' comment line
)

// Scanner splits NMEA 0183 sentences out of a byte stream that may contain
// anything: noise from a wrong baud rate, lines cut by an unplug, binary
// protocol frames, log comments. It returns only sentences that start with
// '$', end at CR or LF, carry a correct "*hh" checksum and are printable
// ASCII of at most MaxSentence bytes; everything else is counted by Reason
// in Counters and skipped. A '$' or '!' inside a sentence means the previous
// one was cut: the Scanner drops it and starts again at the new start
// character, so a sentence following a cut one is not lost. '!' sentences
// (AIS encapsulation) are framed and checked like the others, then counted as
// ignored. Lines starting with '#' are comments.
//
// Scan allocates nothing: it copies each sentence into a fixed buffer and
// Bytes returns a view of it.
type Scanner struct {
	r    io.Reader
	rerr error // the reader's last error, acted on once its bytes are consumed
	err  error // what Err reports

	buf        [readBuf]byte
	rpos, rend int

	line  [MaxSentence]byte
	n     int
	state scanState
	// lineStart is true when the last byte seen ended a line (or nothing was
	// read yet): only there does '#' start a comment.
	lineStart bool
	// inGarbage is true while the bytes being skipped belong to a run already
	// counted (as garbage, or as the tail of a dropped sentence).
	inGarbage bool
	empty     int // consecutive reads that returned nothing
	tok       []byte

	c Counters
}

// NewScanner returns a Scanner reading from r.
func NewScanner(r io.Reader) *Scanner {
	s := &Scanner{}
	s.Reset(r)
	return s
}

// Reset makes the Scanner read from r, as after a reconnect. A sentence in
// progress is dropped as cut; the counters are kept.
func (s *Scanner) Reset(r io.Reader) {
	if s.state == stSentence {
		s.c.Drops[DropCut]++
	}
	s.r = r
	s.err = nil
	s.rerr = nil
	s.rpos, s.rend = 0, 0
	s.n = 0
	s.state = stHunt
	s.lineStart = true
	s.inGarbage = false
	s.empty = 0
	s.tok = nil
}

// Bytes returns the sentence found by the last Scan, from '$' through the
// two checksum digits, without line end. It is valid until the next Scan.
func (s *Scanner) Bytes() []byte { return s.tok }

// Err returns the first read error other than io.EOF.
func (s *Scanner) Err() error { return s.err }

// Counters returns what the Scanner has dropped and ignored so far.
// Counters.Sentences stays zero: a Merger counts the sentences it uses.
func (s *Scanner) Counters() Counters { return s.c }

// Scan advances to the next good sentence. It returns false at the end of
// input or on a read error (see Err).
func (s *Scanner) Scan() bool {
	s.tok = nil
	for {
		for s.rpos < s.rend {
			if s.step() {
				return true
			}
		}
		if s.rerr != nil {
			// End of input: a sentence without its line end is incomplete
			// however plausible it looks (the last bytes before an unplug).
			if s.state == stSentence {
				s.c.Drops[DropCut]++
				s.state = stHunt
			}
			if s.rerr != io.EOF {
				s.err = s.rerr
			}
			return false
		}
		s.fill()
	}
}

// fill reads more input into s.buf; the reader's error is kept in s.rerr
// until the bytes that came with it are consumed.
func (s *Scanner) fill() {
	n, err := s.r.Read(s.buf[:])
	s.rpos, s.rend = 0, max(n, 0)
	switch {
	case errors.Is(err, io.EOF):
		s.rerr = io.EOF
	case err != nil:
		s.rerr = err
	case n > 0:
		s.empty = 0
	default:
		// io.Reader allows (0, nil); a reader that does it forever is broken.
		if s.empty++; s.empty >= 100 {
			s.rerr = io.ErrNoProgress
		}
	}
}

// step consumes input from s.buf[s.rpos:] and returns true when a good
// sentence is in s.tok.
func (s *Scanner) step() bool {
	switch s.state {
	case stHunt:
		for s.rpos < s.rend {
			b := s.buf[s.rpos]
			s.rpos++
			switch {
			case b == '$' || b == '!':
				s.start(b)
				return false
			case b == '\r' || b == '\n':
				s.lineStart = true
				s.inGarbage = false
			case b == '#' && s.lineStart:
				s.state = stComment
				s.c.Comments++
				return false
			case (b == ' ' || b == '\t') && !s.inGarbage:
				// Blank space between sentences is not noise.
			default:
				s.lineStart = false
				if !s.inGarbage {
					s.inGarbage = true
					s.c.Drops[DropGarbage]++
				}
			}
		}
	case stComment:
		for s.rpos < s.rend {
			b := s.buf[s.rpos]
			s.rpos++
			if b == '\r' || b == '\n' {
				s.state = stHunt
				s.lineStart = true
				s.inGarbage = false
				return false
			}
		}
	case stSentence:
		// Copy the run of ordinary printable bytes at once; stop at anything
		// that needs a decision.
		i := s.rpos
		for i < s.rend && !stops[s.buf[i]] {
			i++
		}
		if room := MaxSentence - s.n; i-s.rpos > room {
			s.c.Drops[DropOverlong]++
			s.rpos += room + 1
			s.skip()
			return false
		}
		s.n += copy(s.line[s.n:], s.buf[s.rpos:i])
		s.rpos = i
		if i == s.rend {
			return false
		}
		b := s.buf[i]
		s.rpos++
		switch {
		case b == '\r' || b == '\n':
			s.state = stHunt
			s.lineStart = true
			s.inGarbage = false
			return s.finish()
		case b == '$' || b == '!':
			s.c.Drops[DropCut]++
			s.start(b)
		default:
			s.c.Drops[DropBinary]++
			s.skip()
		}
	}
	return false
}

// stops marks the bytes that end a run of sentence text: line ends, the
// start characters, control and non-ASCII bytes. A table is the fastest
// test for a loop that sees every byte of the stream.
var stops = func() (t [256]bool) {
	for b := range t {
		t[b] = b < 0x20 || b > 0x7e || b == '$' || b == '!'
	}
	return t
}()

func (s *Scanner) start(b byte) {
	s.state = stSentence
	s.line[0] = b
	s.n = 1
	s.lineStart = false
	s.inGarbage = false
}

// skip abandons the current sentence; the rest of its line belongs to the
// same drop and is not counted again as garbage.
func (s *Scanner) skip() {
	s.state = stHunt
	s.lineStart = false
	s.inGarbage = true
}

// finish validates the complete line in s.line[:s.n].
func (s *Scanner) finish() bool {
	line := s.line[:s.n]
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	if r := checkFrame(line); r != NumReasons {
		s.c.Drops[r]++
		return false
	}
	if line[0] == '!' {
		s.c.Ignored++
		return false
	}
	s.tok = line
	return true
}

// checkFrame checks the checksum of a sentence "$...*hh" (or "!...*hh") and
// returns the drop reason, or NumReasons if it is good.
func checkFrame(line []byte) Reason {
	star := bytes.IndexByte(line[1:], '*') + 1
	if star <= 0 {
		return DropNoChecksum
	}
	if len(line)-star != 3 {
		return DropChecksum
	}
	hi, ok1 := unhex(line[star+1])
	lo, ok2 := unhex(line[star+2])
	if !ok1 || !ok2 || hi<<4|lo != xorBytes(line[1:star]) {
		return DropChecksum
	}
	return NumReasons
}

// xorBytes is the NMEA checksum of b, eight bytes at a time.
func xorBytes(b []byte) byte {
	var w uint64
	for len(b) >= 8 {
		w ^= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	w ^= w >> 32
	w ^= w >> 16
	w ^= w >> 8
	s := byte(w)
	for _, c := range b {
		s ^= c
	}
	return s
}

func unhex(b byte) (byte, bool) {
	switch {
	case '0' <= b && b <= '9':
		return b - '0', true
	case 'A' <= b && b <= 'F':
		return b - 'A' + 10, true
	case 'a' <= b && b <= 'f':
		return b - 'a' + 10, true
	}
	return 0, false
}
