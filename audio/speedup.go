package audio

// #cgo LDFLAGS: -lsonic
// #include <sonic.h>
import "C"

import (
	"errors"
	"runtime"
	"unsafe"
)

// speedup plays speech faster without changing its pitch, to catch up a
// backlog: libsonic (the library espeak-ng speeds speech up with; see the
// README's dependency table). For speeds between 1 and 2 it uses PICOLA:
// it finds the pitch period and leaves out whole periods, overlapping the
// neighbours, so voiced sound keeps its pitch and no splice lands
// mid-cycle. At speed 1 it copies its input straight through, holding
// nothing back; above 1 it holds up to ~30 ms of input (two periods of
// the lowest pitch) to search in.
//
// libsonic allocates its buffers in C when the stream is made and grows
// them only for a larger write than any before, so the hot path allocates
// nothing.
type speedup struct {
	s     C.sonicStream
	speed float32
	in    uint64 // samples written
	out   uint64 // samples read
	// saved is how many samples the stream left out, as of the last time
	// it held no input back (after a write at speed 1, or a flush).
	saved uint64
}

// maxHold is the most input the stream holds back above speed 1: two
// periods of the lowest pitch it looks for (65 Hz).
const maxHold = 2 * SampleRate / 65

func newSpeedup() (*speedup, error) {
	s := C.sonicCreateStream(SampleRate, 1)
	if s == nil {
		return nil, errors.New("libsonic: cannot create a stream (out of memory)")
	}
	// Quality 0 finds the pitch on a 4 kHz copy of the signal: plenty for
	// speech at 16 kHz, and a quarter of the work.
	C.sonicSetQuality(s, 0)
	sp := &speedup{s: s, speed: 1}
	runtime.AddCleanup(sp, func(s C.sonicStream) { C.sonicDestroyStream(s) }, s)
	return sp, nil
}

// setSpeed takes effect from the next write.
func (sp *speedup) setSpeed(speed float32) {
	if speed != sp.speed {
		sp.speed = speed
		C.sonicSetSpeed(sp.s, C.float(speed))
	}
}

// write hands pcm to the stream (nil: push what it holds through, at speed
// 1 all of it).
func (sp *speedup) write(pcm []int16) error {
	var p *C.short
	if len(pcm) > 0 {
		p = (*C.short)(unsafe.Pointer(&pcm[0]))
	}
	if C.sonicWriteShortToStream(sp.s, p, C.int(len(pcm))) == 0 {
		return errors.New("libsonic: out of memory")
	}
	sp.in += uint64(len(pcm))
	if sp.speed == 1 {
		sp.noteSaved()
	}
	return nil
}

func (sp *speedup) noteSaved() {
	sp.saved = sp.in - sp.out - uint64(sp.available())
}

// held is about how many written samples have not come out yet (nor wait
// to be read): what a sample written now is heard after, beside what is
// available. Exact at speed 1 (0); above it an upper bound, as what the
// stream will leave out of them is not known yet.
func (sp *speedup) held() int { return sp.heldWith(sp.available()) }

// behind is what a sample written now is heard after: what waits to be
// read and what is held (one call into libsonic, once per frame).
func (sp *speedup) behind() int {
	a := sp.available()
	return a + sp.heldWith(a)
}

func (sp *speedup) heldWith(available int) int {
	h := int64(sp.in) - int64(sp.out) - int64(available) - int64(sp.saved)
	return int(min(max(h, 0), maxHold))
}

// read moves up to len(dst) samples of output into dst.
func (sp *speedup) read(dst []int16) int {
	if len(dst) == 0 {
		return 0
	}
	n := int(C.sonicReadShortFromStream(sp.s, (*C.short)(unsafe.Pointer(&dst[0])), C.int(len(dst))))
	sp.out += uint64(n)
	return n
}

func (sp *speedup) available() int { return int(C.sonicSamplesAvailable(sp.s)) }

// flush pushes out everything held, at the end of a burst.
func (sp *speedup) flush() error {
	if C.sonicFlushStream(sp.s) == 0 {
		return errors.New("libsonic: out of memory")
	}
	sp.noteSaved()
	return nil
}

// SpeedUp plays pcm through the Receiver's speed-up (libsonic) at speed
// and returns what comes out: the whole-signal form of what a backlog
// gets, for quality measurements (tests, benches).
func SpeedUp(pcm []int16, speed float32) ([]int16, error) {
	sp, err := newSpeedup()
	if err != nil {
		return nil, err
	}
	sp.setSpeed(speed)
	var out []int16
	buf := make([]int16, 4*FrameSamples)
	for i := 0; i+FrameSamples <= len(pcm); i += FrameSamples {
		if err := sp.write(pcm[i : i+FrameSamples]); err != nil {
			return nil, err
		}
		for n := sp.read(buf); n > 0; n = sp.read(buf) {
			out = append(out, buf[:n]...)
		}
	}
	if err := sp.flush(); err != nil {
		return nil, err
	}
	for n := sp.read(buf); n > 0; n = sp.read(buf) {
		out = append(out, buf[:n]...)
	}
	return out, nil
}
