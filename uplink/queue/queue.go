// Package queue is the on-disk queue of track points between the reporter
// and the broker. A point is committed (fsync) before anyone may send it and
// leaves the disk only when Ack says the broker has it, so neither a dead
// zone, a crash nor a power cut loses it.
//
// The store is bbolt: a single-file B+tree with ACID transactions that
// fsyncs on commit, in pure Go (no cgo in the arm64 cross-build), kept by
// etcd. Keys are big-endian sequence numbers, so the oldest point is the
// first key and a batch is one cursor walk.
package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	bolt "go.etcd.io/bbolt"

	"github.com/pttagent/pttagent/wire"
)

var (
	bucketPoints = []byte("points")
	bucketMeta   = []byte("meta")
	keyLastSeq   = []byte("last_seq")
	keyDropped   = []byte("dropped")
	keySkipped   = []byte("skipped")
)

// ErrDiskFull is returned (wrapped) when the point could not be stored for
// lack of space; the caller reports it and carries on.
var ErrDiskFull = errors.New("disk full")

// ErrLocked is returned by Open when another process has the store open.
var ErrLocked = errors.New("locked by another process")

// Queue is safe for concurrent use.
type Queue struct {
	db     *bolt.DB
	mark   *mark
	max    int
	path   string
	notify chan struct{}

	mu        sync.Mutex
	n         int    // points stored
	lastSeq   uint64 // last sequence number handed out (stored or lost)
	acked     uint64 // highest sequence acknowledged
	dropped   uint64 // dropped oldest to honour max, persisted
	skipped   uint64 // unreadable records removed, persisted
	markDirty bool   // the mark on disk is behind q.mark.state
	recovered string
	setAside  []string
}

// Stats is a snapshot for status and logs.
type Stats struct {
	Len       int
	LastSeq   uint64 // last sequence number assigned (to a stored or a lost point)
	LastAcked uint64 // highest sequence number the broker acknowledged (this run)
	Dropped   uint64 // oldest points dropped because the queue was full (ever)
	// Failed counts points that could not be written (disk full, I/O
	// error), ever: it is kept outside the store and survives restarts and
	// a lost store.
	Failed uint64
	// Skipped counts records found unreadable and removed (ever, while the
	// store lasts).
	Skipped uint64
	// Recovered is set when Open found the store unusable and started a
	// fresh one: what was wrong and where the old file was put. The agent
	// shows it as a warning; the points in the old file are lost.
	Recovered string
	// SetAside lists the unusable stores kept beside the queue for a
	// technician (newest first; at most keepAside), found at Open.
	SetAside []string
}

// Open opens or creates the queue file; maxPoints caps the number of points.
//
// Beside it, Open keeps a small mark file (the queue's name with the
// extension .seq) with the sequence high-water mark and the count of
// points lost to write errors, so that neither is lost with the store.
//
// A store that cannot be used — not a regular file, not a bbolt file,
// truncated, failing bbolt's consistency check — is renamed to
// {path}.corrupt-{UTC time} and a fresh one started: the handset keeps
// working, and numbering continues above every seq that may have been
// sent. Stats.Recovered says what happened. Only a store locked by another
// process (ErrLocked) or a directory the agent may not write is an error.
func Open(path string, maxPoints int) (*Queue, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	q := &Queue{max: maxPoints, path: path, notify: make(chan struct{}, 1)}
	var notes []string

	// The store first: its lock keeps a second agent from touching the mark.
	db, l, err := openStore(path)
	if err != nil && unusable(err) {
		aside, aerr := setAside(path)
		if aerr != nil {
			return nil, fmt.Errorf("open queue %s: %w; cannot move it aside: %v", path, err, aerr)
		}
		notes = append(notes, fmt.Sprintf("track queue %s unusable (%v); moved to %s (kept for a technician) and started empty: the points still in it are lost",
			filepath.Base(path), err, filepath.Base(aside)))
		db, l, err = openStore(path)
	}
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open queue %s: %w (is another pttagent running with the same state_dir?)", path, ErrLocked)
		}
		return nil, fmt.Errorf("open queue %s: %w (check the owner, permissions and free space of its directory)", path, err)
	}

	markPath := strings.TrimSuffix(path, filepath.Ext(path)) + ".seq"
	m, err := openMark(markPath)
	if err != nil && unusable(err) {
		if m != nil {
			m.close()
		}
		aside, aerr := setAside(markPath)
		if aerr == nil {
			notes = append(notes, fmt.Sprintf("sequence mark %s: %v; moved to %s", filepath.Base(markPath), err, filepath.Base(aside)))
			m, err = openMark(markPath)
		} else {
			err = fmt.Errorf("%w; cannot move it aside: %v", err, aerr)
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue %s: sequence mark %s: %w", path, markPath, err)
	}
	q.mark = m
	q.db, q.n, q.dropped, q.skipped = db, l.n, l.dropped, l.skipped

	st := m.state
	if l.haveSeq {
		// The store numbers every point it commits: exact. Only seqs lost
		// to write errors may lie above it.
		q.lastSeq = max(l.lastSeq, l.lastKey, st.Consumed)
	} else {
		// A fresh (or recovered) store knows nothing: continue above
		// everything that may have been handed out.
		q.lastSeq = max(st.Reserved, st.Consumed, l.lastKey)
	}
	if st.Reserved < q.lastSeq {
		st.Reserved = q.lastSeq + markBlock
		q.markDirty = m.write(st) != nil
	}
	if len(notes) > 0 {
		q.recovered = strings.Join(notes, "; ") + fmt.Sprintf("; numbering continues at seq %d", q.lastSeq+1)
	}
	q.setAside = listAside(path)
	return q, nil
}

// Close closes the file; points stay on disk for the next start.
func (q *Queue) Close() error {
	err := q.db.Close()
	if merr := q.mark.close(); err == nil {
		err = merr
	}
	return err
}

// Notify is signalled (without blocking) whenever a point is appended.
func (q *Queue) Notify() <-chan struct{} { return q.notify }

// Append gives p the next sequence number and commits it to disk before
// returning. When the queue is full the oldest point makes room. A point
// that cannot be stored still uses up its sequence number, so that the
// platform sees the gap; Stats.Failed counts it.
func (q *Queue) Append(p *wire.Point) (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	seq := q.lastSeq + 1
	if st := q.mark.state; seq > st.Reserved || q.markDirty {
		// Reserve before use: once the point is committed it may be sent.
		// A failed write is retried at the next point; the point itself is
		// worth more than the guarantee.
		st.Reserved = max(st.Reserved, seq+markBlock-1)
		q.markDirty = q.mark.write(st) != nil
	}
	var rec [recordSize]byte
	dropped := 0
	err := q.db.Update(func(tx *bolt.Tx) error {
		pts := tx.Bucket(bucketPoints)
		meta := tx.Bucket(bucketMeta)
		c := pts.Cursor()
		for k, _ := c.First(); k != nil && q.n-dropped >= q.max; k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
			dropped++
		}
		p.Seq = seq
		if err := pts.Put(seqKey(seq), encode(rec[:], p)); err != nil {
			return err
		}
		if err := putUint(meta, keyLastSeq, seq); err != nil {
			return err
		}
		if dropped > 0 {
			return putUint(meta, keyDropped, q.dropped+uint64(dropped))
		}
		return nil
	})
	q.lastSeq = seq
	if err != nil {
		p.Seq = 0
		st := q.mark.state
		st.Consumed, st.Failed = seq, st.Failed+1
		q.markDirty = q.mark.write(st) != nil
		if errors.Is(err, syscall.ENOSPC) {
			return 0, fmt.Errorf("queue %s: %w: %v", q.path, ErrDiskFull, err)
		}
		return 0, fmt.Errorf("queue %s: store point: %w", q.path, err)
	}
	q.n += 1 - dropped
	q.dropped += uint64(dropped)
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return seq, nil
}

// Peek returns up to maxPoints of the oldest points with a sequence number
// above after, stopping before the encoded batch would exceed maxBytes
// (at least one point is returned if any is there). It reuses buf. A
// record that cannot be read is removed and counted (Stats.Skipped), and
// the batch goes on without it.
func (q *Queue) Peek(after uint64, maxPoints, maxBytes int, buf []wire.Point) ([]wire.Point, error) {
	buf = buf[:0]
	size := wire.TrackBatchOverhead
	var (
		row [256]byte
		bad [][]byte
	)
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPoints).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(buf) < maxPoints; k, v = c.Next() {
			seq, ok := keySeq(k)
			p, err := decode(v)
			if !ok || err != nil {
				bad = append(bad, bytes.Clone(k))
				continue
			}
			p.Seq = seq
			n := len(wire.AppendTrackRow(row[:0], &p)) + 1
			if len(buf) > 0 && size+n > maxBytes {
				break
			}
			size += n
			buf = append(buf, p)
		}
		return nil
	})
	if err != nil {
		return buf, fmt.Errorf("queue %s: read: %w", q.path, err)
	}
	if len(bad) > 0 {
		if err := q.discard(bad); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// discard removes unreadable records and counts them.
func (q *Queue) discard(keys [][]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	removed := 0
	err := q.db.Update(func(tx *bolt.Tx) error {
		pts := tx.Bucket(bucketPoints)
		for _, k := range keys {
			if pts.Get(k) == nil {
				continue
			}
			if err := pts.Delete(k); err != nil {
				return err
			}
			removed++
		}
		return putUint(tx.Bucket(bucketMeta), keySkipped, q.skipped+uint64(removed))
	})
	if err != nil {
		return fmt.Errorf("queue %s: remove unreadable records: %w", q.path, err)
	}
	q.n -= removed
	q.skipped += uint64(removed)
	return nil
}

// Ack removes the points first..last (inclusive) after the broker
// acknowledged them. Points already gone (dropped) are ignored.
func (q *Queue) Ack(first, last uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	removed := 0
	err := q.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPoints).Cursor()
		for k, _ := c.Seek(seqKey(first)); k != nil; k, _ = c.Next() {
			// A key of the wrong length sorts among the others; it is as
			// unreadable here as in Peek, and goes with its neighbours.
			if seq, ok := keySeq(k); ok && seq > last {
				break
			}
			if err := c.Delete(); err != nil {
				return err
			}
			removed++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue %s: remove acknowledged points: %w", q.path, err)
	}
	q.n -= removed
	if last > q.acked {
		q.acked = last
	}
	return nil
}

// Len is the number of points on disk.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return Stats{Len: q.n, LastSeq: q.lastSeq, LastAcked: q.acked, Dropped: q.dropped, Failed: q.mark.state.Failed,
		Skipped: q.skipped, Recovered: q.recovered, SetAside: slices.Clone(q.setAside)}
}

// keySeq reads a key; a key that is not 8 bytes is not one of ours.
func keySeq(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func getUint(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func putUint(b *bolt.Bucket, k []byte, v uint64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	return b.Put(k, buf[:])
}

// The record is fixed-size little-endian, led by a version byte so the
// format can change without guessing.
const (
	recordVersion = 1
	recordSize    = 1 + 8 + 8*7 + 4 + 1 + 1 + 1 + 8
)

func encode(b []byte, p *wire.Point) []byte {
	b[0] = recordVersion
	le := binary.LittleEndian
	le.PutUint64(b[1:], uint64(p.Created))
	// The seventh float was reserved (0) before points had an accuracy, so
	// records written before it read as "not known".
	for i, f := range [...]float64{p.Latitude, p.Longitude, p.Speed, p.Altitude, p.Bearing, p.HDOP, p.Accuracy} {
		le.PutUint64(b[9+8*i:], math.Float64bits(f))
	}
	le.PutUint32(b[65:], uint32(p.Sats))
	b[69] = byte(p.Mode)
	b[70] = byte(p.PositionType)
	b[71] = byte(p.Trigger)
	le.PutUint64(b[72:], uint64(p.FixAge))
	return b[:recordSize]
}

func decode(b []byte) (wire.Point, error) {
	var p wire.Point
	if len(b) != recordSize || b[0] != recordVersion {
		return p, fmt.Errorf("unknown record format (%d bytes)", len(b))
	}
	le := binary.LittleEndian
	p.Created = int64(le.Uint64(b[1:]))
	f := func(i int) float64 { return math.Float64frombits(le.Uint64(b[9+8*i:])) }
	p.Latitude, p.Longitude, p.Speed, p.Altitude, p.Bearing, p.HDOP, p.Accuracy = f(0), f(1), f(2), f(3), f(4), f(5), f(6)
	p.Sats = int(le.Uint32(b[65:]))
	p.Mode = int(b[69])
	p.PositionType = int(b[70])
	p.Trigger = wire.Trigger(b[71])
	p.FixAge = int64(le.Uint64(b[72:]))
	return p, nil
}
