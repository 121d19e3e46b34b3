// Package recording keeps each talk burst as a standard Ogg Opus file on
// disk until the platform has it: the burst's Opus frames are written as
// they are encoded (the packetizer's OnFrame hook: nothing is encoded
// twice), the file survives reboots and power cuts (a burst cut short is
// kept up to its last complete page), and the Uploader sends it with the
// platform's file-upload and reports it over MQTT, deleting it only when
// both have succeeded.
//
// On disk, in Dir, each recording is two files named after the burst's
// start and id: {begin_ms}-{burst}.opus and {begin_ms}-{burst}.json (its
// Meta). The meta is written first (atomically: temporary file, fsync,
// rename), so an .opus file always has one.
package recording

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pttagent/pttagent/audio/ogg"
	"github.com/pttagent/pttagent/internal/regular"
)

// Meta describes one recording.
type Meta struct {
	ID         string `json:"id"` // file stem
	Account    string `json:"account"`
	Group      int64  `json:"group"`
	GroupName  string `json:"group_name,omitempty"`
	Burst      uint32 `json:"burst"`
	BeginMs    int64  `json:"begin_ms"`
	DurationMs int64  `json:"duration_ms"`
	// Complete is set when the burst ended and the file was synced (or
	// recovered after a crash).
	Complete bool `json:"complete"`
	// URL is where the platform keeps the file, once uploaded.
	URL string `json:"url,omitempty"`
}

// Stats count what the queue did.
type Stats struct {
	Queued     int    // complete recordings waiting for upload or report
	Bytes      int64  // on disk
	Recorded   uint64 // bursts recorded since start
	Uploaded   uint64 // files uploaded
	Reported   uint64 // reports acknowledged (then deleted)
	Dropped    uint64 // recordings dropped because the queue was full
	Recovered  uint64 // recordings cut short by a crash, recovered at start
	Skipped    uint64 // recordings set aside as unreadable (see SetAside)
	Failures   uint64 // failed upload or report attempts
	LastError  string
	LastUpload time.Time
}

// Queue is the directory of recordings. Safe for concurrent use.
type Queue struct {
	dir      string
	maxBytes int64
	log      *slog.Logger

	mu     sync.Mutex
	stats  Stats
	notify chan struct{}
}

// Open opens (creating it) the queue in dir, bounded to maxBytes, and
// recovers recordings a crash left incomplete.
func Open(dir string, maxBytes int64, log *slog.Logger) (*Queue, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Owner only: what was said on the handset is not for the service's
	// group, nor for anyone who may read its status. Chmod too: older
	// versions made the directory 0750.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recordings: %w", err)
	}
	q := &Queue{dir: dir, maxBytes: maxBytes, log: log, notify: make(chan struct{}, 1)}
	if err := q.recover(); err != nil {
		return nil, err
	}
	q.refresh()
	return q, nil
}

// Dir is where the recordings are.
func (q *Queue) Dir() string { return q.dir }

func (q *Queue) path(id, ext string) string { return filepath.Join(q.dir, id+ext) }

// recover completes recordings whose burst never ended (crash, power
// cut): their duration is what their intact pages hold; a recording with
// no audio at all is removed. Stray files are removed.
func (q *Queue) recover() error {
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("recordings: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".tmp") && e.Type().IsRegular():
			os.Remove(filepath.Join(q.dir, name))
		case strings.HasSuffix(name, ".opus"):
			if _, err := os.Lstat(q.path(strings.TrimSuffix(name, ".opus"), ".json")); errors.Is(err, os.ErrNotExist) {
				if e.Type().IsRegular() {
					os.Remove(filepath.Join(q.dir, name))
				} else {
					q.SetAside(strings.TrimSuffix(name, ".opus"), fmt.Errorf("%s: %w", name, regular.ErrNotRegular))
				}
			}
		case strings.HasSuffix(name, ".json"):
			id := strings.TrimSuffix(name, ".json")
			m, err := q.readMeta(id)
			if err != nil {
				q.SetAside(id, err)
				continue
			}
			if m.Complete {
				continue
			}
			data, err := readRegular(q.path(id, ".opus"), q.maxBytes)
			if errors.Is(err, regular.ErrNotRegular) || errors.Is(err, regular.ErrTooLarge) {
				q.SetAside(id, err)
				continue
			}
			var d time.Duration
			var fixed []byte
			if err == nil {
				fixed, d, err = ogg.Repair(data)
			}
			if err != nil || d == 0 {
				q.log.Warn("recording: burst cut short before any audio was written; removing it", "id", id, "err", err)
				q.remove(id)
				continue
			}
			if err := writeFile(q.path(id, ".opus"), fixed); err != nil {
				return fmt.Errorf("recordings: %w", err)
			}
			m.DurationMs, m.Complete = d.Milliseconds(), true
			if err := q.writeMeta(m); err != nil {
				return err
			}
			q.stats.Recovered++
			q.log.Info("recording: recovered a burst cut short", "id", id, "duration", d)
		}
	}
	return nil
}

func (q *Queue) readMeta(id string) (Meta, error) {
	b, err := readRegular(q.path(id, ".json"), maxMetaSize)
	if err != nil {
		return Meta{}, err
	}
	return decodeMeta(id, b)
}

// maxMetaSize bounds a description: a few hundred bytes in practice.
const maxMetaSize = 64 << 10

// maxDurationMs is the longest recording a report may carry (the
// platform's bound, wire.DecodeRecordReport).
const maxDurationMs = 24 * 3600 * 1000

// decodeMeta reads a recording's description and checks that it
// describes one the platform would take: the file is on the handset's own
// disk, but a damaged or hand-edited one must not be reported as a
// recording (the platform drops the report and the audio is deleted).
func decodeMeta(id string, b []byte) (Meta, error) {
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("%s.json: %w", id, err)
	}
	switch {
	case m.ID != id:
		return Meta{}, fmt.Errorf("%s.json: id %q", id, m.ID)
	case m.Group <= 0:
		return Meta{}, fmt.Errorf("%s.json: group %d", id, m.Group)
	case m.BeginMs <= 0 || m.DurationMs < 0 || m.DurationMs > maxDurationMs:
		return Meta{}, fmt.Errorf("%s.json: begin %d ms, duration %d ms", id, m.BeginMs, m.DurationMs)
	case m.URL != "" && !httpURL(m.URL):
		return Meta{}, fmt.Errorf("%s.json: url %q is not an http(s) URL", id, m.URL)
	}
	return m, nil
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// readRegular reads one of the queue's own files: a regular file, not a
// link, of at most limit bytes (internal/regular).
func readRegular(path string, limit int64) ([]byte, error) {
	return regular.Read(path, limit, regular.NoLinks)
}

// writeMeta replaces a recording's meta atomically.
func (q *Queue) writeMeta(m Meta) error {
	b, _ := json.Marshal(m)
	if err := writeFile(q.path(m.ID, ".json"), b); err != nil {
		return fmt.Errorf("recordings: write %s: %w", m.ID, err)
	}
	return nil
}

// writeFile replaces path atomically: a temporary file, fsync, rename,
// fsync of the directory.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err == nil {
		_, err = f.Write(b)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (q *Queue) remove(id string) {
	os.Remove(q.path(id, ".opus"))
	os.Remove(q.path(id, ".json"))
}

// badSuffix marks the files of a recording set aside: kept for a
// technician, within the queue's byte bound, and the first to go when room
// is needed.
const badSuffix = ".bad"

// SetAside takes a recording that cannot be sent (an unreadable or
// nonsensical description, an audio file that is not a regular file or is
// too large) out of the queue, so that it blocks nothing: its files are
// renamed {id}.json.bad and {id}.opus.bad, and Stats.Skipped counts it.
func (q *Queue) SetAside(id string, why error) {
	q.log.Warn("recording: cannot be sent; set aside", "id", id, "err", why, "kept_as", q.path(id, ".json"+badSuffix))
	os.Rename(q.path(id, ".json"), q.path(id, ".json"+badSuffix))
	os.Rename(q.path(id, ".opus"), q.path(id, ".opus"+badSuffix))
	syncDir(q.dir)
	q.mu.Lock()
	q.stats.Skipped++
	q.mu.Unlock()
}

// Pending lists the complete recordings, oldest first.
func (q *Queue) Pending() []Meta {
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return nil
	}
	var out []Meta
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		m, err := q.readMeta(id)
		switch {
		case errors.Is(err, os.ErrNotExist): // removed meanwhile
		case err != nil:
			q.SetAside(id, err)
		case m.Complete:
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Meta) int {
		return cmp.Or(cmp.Compare(a.BeginMs, b.BeginMs), strings.Compare(a.ID, b.ID))
	})
	return out
}

// Data returns a recording's file. A file that is not a regular file, or
// larger than the queue may hold, is an error wrapping ErrUnsendable.
func (q *Queue) Data(id string) ([]byte, error) {
	b, err := readRegular(q.path(id, ".opus"), q.maxBytes)
	if errors.Is(err, regular.ErrNotRegular) || errors.Is(err, regular.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrUnsendable, err)
	}
	return b, err
}

// ErrUnsendable marks a recording whose audio cannot be read as a file.
var ErrUnsendable = errors.New("recording cannot be sent")

// SetURL records where the platform keeps a recording, so that a restart
// does not upload it again.
func (q *Queue) SetURL(id, url string) error {
	m, err := q.readMeta(id)
	if err != nil {
		return fmt.Errorf("recordings: %w", err)
	}
	m.URL = url
	if err := q.writeMeta(m); err != nil {
		return err
	}
	q.mu.Lock()
	q.stats.Uploaded++
	q.stats.LastUpload = time.Now()
	q.mu.Unlock()
	return nil
}

// Done deletes a recording the platform has (uploaded and reported).
func (q *Queue) Done(id string) {
	q.remove(id)
	syncDir(q.dir)
	q.mu.Lock()
	q.stats.Reported++
	q.mu.Unlock()
	q.refresh()
}

// Failed counts a failed attempt.
func (q *Queue) Failed(err error) {
	q.mu.Lock()
	q.stats.Failures++
	q.stats.LastError = err.Error()
	q.mu.Unlock()
}

// Stats returns a snapshot.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats
}

// Ready is signalled when a recording was completed.
func (q *Queue) Ready() <-chan struct{} { return q.notify }

// refresh recounts what is on disk.
func (q *Queue) refresh() {
	n, bytes := 0, int64(0)
	entries, _ := os.ReadDir(q.dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			bytes += info.Size()
		}
		if strings.HasSuffix(e.Name(), ".json") {
			n++
		}
	}
	q.mu.Lock()
	q.stats.Queued, q.stats.Bytes = n, bytes
	q.mu.Unlock()
}

// makeRoom drops the oldest complete recordings (other than keep) until
// the queue fits its bound.
func (q *Queue) makeRoom(keep string) {
	q.refresh()
	entries, _ := os.ReadDir(q.dir)
	for _, e := range entries { // oldest first: the names start with the time
		if q.Stats().Bytes <= q.maxBytes {
			return
		}
		if strings.HasSuffix(e.Name(), badSuffix) && e.Type().IsRegular() {
			q.log.Warn("recording queue full; deleting a recording set aside", "file", e.Name())
			os.Remove(filepath.Join(q.dir, e.Name()))
			q.refresh()
		}
	}
	for _, m := range q.Pending() {
		if q.Stats().Bytes <= q.maxBytes {
			return
		}
		if m.ID == keep {
			continue
		}
		q.log.Warn("recording queue full; dropping the oldest recording", "id", m.ID, "group", m.Group,
			"duration_ms", m.DurationMs, "max_bytes", q.maxBytes)
		q.remove(m.ID)
		q.mu.Lock()
		q.stats.Dropped++
		q.mu.Unlock()
		q.refresh()
	}
}

// Burst is one recording being written.
type Burst struct {
	q      *Queue
	meta   Meta
	f      *os.File
	w      *ogg.Writer
	frames int64
	err    error
}

// Begin starts the recording of a burst (meta.Group, Burst, BeginMs and
// Account are used; the rest is filled in).
func (q *Queue) Begin(meta Meta) (*Burst, error) {
	meta.ID = fmt.Sprintf("%d-%08x", meta.BeginMs, meta.Burst)
	meta.Complete, meta.DurationMs, meta.URL = false, 0, ""
	if err := q.writeMeta(meta); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(q.path(meta.ID, ".opus"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		q.remove(meta.ID)
		return nil, fmt.Errorf("recordings: %w", err)
	}
	begin := time.UnixMilli(meta.BeginMs).UTC()
	w, err := ogg.NewWriter(f, ogg.Options{Serial: meta.Burst,
		Comments: []string{"ARTIST=" + meta.Account, "ALBUM=" + meta.GroupName, "DATE=" + begin.Format(time.RFC3339)}})
	if err != nil {
		f.Close()
		q.remove(meta.ID)
		return nil, fmt.Errorf("recordings: %w", err)
	}
	return &Burst{q: q, meta: meta, f: f, w: w}, nil
}

// Frame adds one encoded 20 ms Opus frame (the packetizer's OnFrame). A
// write error is kept and reported by End; the burst goes on.
func (b *Burst) Frame(frame []byte) {
	if b.err != nil {
		return
	}
	b.err = b.w.WritePacket(frame, 960)
	b.frames++
}

// End closes the file, syncs it and marks the recording complete, ready
// for upload. A burst without a frame leaves no recording.
func (b *Burst) End() (Meta, error) {
	err := b.err
	if cerr := b.w.Close(); err == nil {
		err = cerr
	}
	if serr := b.f.Sync(); err == nil {
		err = serr
	}
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	if b.frames == 0 {
		b.q.remove(b.meta.ID)
		return b.meta, err
	}
	if err != nil {
		// Keep what reached the disk: recover() will measure it at the
		// next start if the meta cannot be written now either.
		b.q.log.Warn("recording: write failed", "id", b.meta.ID, "err", err)
	}
	b.meta.DurationMs = b.frames * 20
	b.meta.Complete = true
	if werr := b.q.writeMeta(b.meta); werr != nil {
		return b.meta, werr
	}
	b.q.mu.Lock()
	b.q.stats.Recorded++
	b.q.mu.Unlock()
	b.q.makeRoom(b.meta.ID)
	select {
	case b.q.notify <- struct{}{}:
	default:
	}
	return b.meta, err
}
