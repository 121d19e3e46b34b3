package queue

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"

	"github.com/pttagent/pttagent/internal/regular"
)

// mark is what must outlive the store: a store moved aside for
// corruption takes its sequence numbers with it, and the platform drops
// every point whose seq is not above the highest it has, so a fresh store
// must continue above every seq that may ever have been sent. It lives in
// a small file of its own beside the store.
//
// The file holds two fixed slots, each checksummed and numbered, written
// in turn in place: a torn write spoils only the slot being written, and
// the other still holds the previous state. Writing in place into blocks
// allocated when the file was created also works on a full disk (on file
// systems that overwrite in place: ext4, tmpfs), which is when Failed and
// Consumed change. Each slot has its own 4 KiB page so that a flash page
// rewritten whole cannot take the other slot with it.
type mark struct {
	f     *os.File
	gen   uint64
	state markState
}

type markState struct {
	// Reserved: every seq ever handed out is at most this. Written ahead
	// of use, a block at a time (markBlock), so that it is rarely written.
	Reserved uint64
	// Consumed is the highest seq given to a point that could not be
	// stored: the point is lost and its seq stays unused, a gap the
	// platform sees. A healthy store does not know these seqs.
	Consumed uint64
	// Failed counts the points that could not be stored, ever.
	Failed uint64
}

const (
	markSlot  = 4096
	markMagic = "PTQM"
	// markBlock seqs are reserved per write of the mark: at one point a
	// second that is one write every 17 minutes; after a lost store the
	// platform sees a gap of at most this many unused seqs.
	markBlock = 1000
)

var errMarkUnreadable = errors.New("neither slot holds a valid mark")

// openMark opens or creates the mark file. A file that exists but holds
// no valid slot is reported with errMarkUnreadable (and left open, to be
// rewritten); the caller decides what it means.
func openMark(path string) (*mark, error) {
	f, err := openRegular(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	m := &mark{f: f}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if info.Size() == 0 {
		// Allocate both slots now, while there is room.
		if err := m.write(markState{}); err == nil {
			err = m.write(markState{})
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		return m, nil
	}
	var buf [2 * markSlot]byte
	n, err := f.ReadAt(buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, err
	}
	found := false
	for i := 0; i < 2; i++ {
		if (i+1)*markSlot > n {
			break
		}
		gen, st, ok := decodeMark(buf[i*markSlot : (i+1)*markSlot])
		if ok && (!found || gen > m.gen) {
			m.gen, m.state, found = gen, st, true
		}
	}
	if !found {
		return m, errMarkUnreadable
	}
	return m, nil
}

// write stores st in the older slot and syncs it.
func (m *mark) write(st markState) error {
	var buf [markSlot]byte
	gen := m.gen + 1
	encodeMark(buf[:], gen, st)
	if _, err := m.f.WriteAt(buf[:], int64(gen%2)*markSlot); err != nil {
		return err
	}
	if err := m.f.Sync(); err != nil {
		return err
	}
	m.gen, m.state = gen, st
	return nil
}

func (m *mark) close() error { return m.f.Close() }

// Slot layout: magic, version, generation, the three counters, CRC-32C of
// what precedes it; the rest of the slot is zero.
const markLen = 4 + 1 + 8*4 + 4

func encodeMark(b []byte, gen uint64, st markState) {
	copy(b, markMagic)
	b[4] = 1
	le := binary.LittleEndian
	le.PutUint64(b[5:], gen)
	le.PutUint64(b[13:], st.Reserved)
	le.PutUint64(b[21:], st.Consumed)
	le.PutUint64(b[29:], st.Failed)
	le.PutUint32(b[37:], crc32.Checksum(b[:37], castagnoli))
}

func decodeMark(b []byte) (gen uint64, st markState, ok bool) {
	if len(b) < markLen || string(b[:4]) != markMagic || b[4] != 1 {
		return 0, st, false
	}
	le := binary.LittleEndian
	if le.Uint32(b[37:]) != crc32.Checksum(b[:37], castagnoli) {
		return 0, st, false
	}
	st = markState{Reserved: le.Uint64(b[13:]), Consumed: le.Uint64(b[21:]), Failed: le.Uint64(b[29:])}
	return le.Uint64(b[5:]), st, true
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// openRegular opens one of the queue's own files: a regular file, not a
// link (internal/regular).
func openRegular(path string, flag int, perm os.FileMode) (*os.File, error) {
	return regular.Open(path, flag, perm, regular.NoLinks)
}
