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
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pttagent/pttagent/wire"
)

var (
	bucketPoints = []byte("points")
	bucketMeta   = []byte("meta")
	keyLastSeq   = []byte("last_seq")
	keyDropped   = []byte("dropped")
)

// ErrDiskFull is returned (wrapped) when the point could not be stored for
// lack of space; the caller reports it and carries on.
var ErrDiskFull = errors.New("disk full")

// Queue is safe for concurrent use.
type Queue struct {
	db      *bolt.DB
	max     int
	path    string
	mu      sync.Mutex
	n       int    // points stored
	lastSeq uint64 // last sequence number handed out, persisted with the point
	acked   uint64 // highest sequence acknowledged
	dropped uint64 // dropped oldest to honour max, persisted
	failed  uint64 // points that could not be stored (disk full, I/O error)
	notify  chan struct{}
}

// Stats is a snapshot for status and logs.
type Stats struct {
	Len       int
	LastSeq   uint64 // last sequence number assigned
	LastAcked uint64 // highest sequence number the broker acknowledged (this run)
	Dropped   uint64 // oldest points dropped because the queue was full (ever)
	Failed    uint64 // points that could not be written (this run)
}

// Open opens or creates the queue file; max caps the number of points.
func Open(path string, max int) (*Queue, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	// A second agent on the same state directory would corrupt sequence
	// numbering: fail fast instead of waiting for the lock forever.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open queue %s: locked by another process (is another pttagent running with the same state_dir?)", path)
		}
		return nil, fmt.Errorf("open queue %s: %w (if the file is corrupt, move it aside; its points are lost)", path, err)
	}
	q := &Queue{db: db, max: max, path: path, notify: make(chan struct{}, 1)}
	err = db.Update(func(tx *bolt.Tx) error {
		pts, err := tx.CreateBucketIfNotExists(bucketPoints)
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		q.lastSeq = getUint(meta, keyLastSeq)
		q.dropped = getUint(meta, keyDropped)
		q.n = pts.Stats().KeyN
		// Never hand out a number below one already on disk, even if the
		// meta key were lost.
		if k, _ := pts.Cursor().Last(); k != nil && binary.BigEndian.Uint64(k) > q.lastSeq {
			q.lastSeq = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open queue %s: %w", path, err)
	}
	return q, nil
}

// Close closes the file; points stay on disk for the next start.
func (q *Queue) Close() error { return q.db.Close() }

// Notify is signalled (without blocking) whenever a point is appended.
func (q *Queue) Notify() <-chan struct{} { return q.notify }

// Append gives p the next sequence number and commits it to disk before
// returning. When the queue is full the oldest point makes room.
func (q *Queue) Append(p *wire.Point) (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	seq := q.lastSeq + 1
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
	if err != nil {
		q.failed++
		p.Seq = 0
		if errors.Is(err, syscall.ENOSPC) {
			return 0, fmt.Errorf("queue %s: %w: %v", q.path, ErrDiskFull, err)
		}
		return 0, fmt.Errorf("queue %s: store point: %w", q.path, err)
	}
	q.lastSeq = seq
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
// (at least one point is returned if any is there). It reuses buf.
func (q *Queue) Peek(after uint64, maxPoints, maxBytes int, buf []wire.Point) ([]wire.Point, error) {
	buf = buf[:0]
	size := wire.TrackBatchOverhead
	var row [256]byte
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPoints).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(buf) < maxPoints; k, v = c.Next() {
			p, err := decode(v)
			if err != nil {
				return fmt.Errorf("point %d: %w", binary.BigEndian.Uint64(k), err)
			}
			p.Seq = binary.BigEndian.Uint64(k)
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
	return buf, nil
}

// Ack removes the points first..last (inclusive) after the broker
// acknowledged them. Points already gone (dropped) are ignored.
func (q *Queue) Ack(first, last uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	removed := 0
	err := q.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPoints).Cursor()
		for k, _ := c.Seek(seqKey(first)); k != nil && binary.BigEndian.Uint64(k) <= last; k, _ = c.Next() {
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
	return Stats{Len: q.n, LastSeq: q.lastSeq, LastAcked: q.acked, Dropped: q.dropped, Failed: q.failed}
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
	for i, f := range [...]float64{p.Latitude, p.Longitude, p.Speed, p.Altitude, p.Bearing, p.HDOP, 0} {
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
	p.Latitude, p.Longitude, p.Speed, p.Altitude, p.Bearing, p.HDOP = f(0), f(1), f(2), f(3), f(4), f(5)
	p.Sats = int(le.Uint32(b[65:]))
	p.Mode = int(b[69])
	p.PositionType = int(b[70])
	p.Trigger = wire.Trigger(b[71])
	p.FixAge = int64(le.Uint64(b[72:]))
	return p, nil
}
