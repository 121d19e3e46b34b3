package queue

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// errCorrupt marks a store that opened but is not sound.
var errCorrupt = errors.New("corrupt")

// loaded is what Open learns from a store.
type loaded struct {
	n       int
	lastKey uint64 // highest seq on disk
	lastSeq uint64 // the store's own high-water mark
	haveSeq bool   // the store has one (it has numbered a point)
	dropped uint64
	skipped uint64
}

// openStore opens the bbolt file, checks it whole and removes the records
// it cannot read. bbolt trusts its file: a truncated or damaged one makes
// it panic (or fault on a page beyond the end of the file) rather than
// return an error, so the opening runs with faults turned into panics and
// any panic into an error; the check then walks every page, so that a
// store that opens is one the agent can use.
func openStore(path string) (db *bolt.DB, l loaded, err error) {
	var file *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			} else if file != nil {
				file.Close() // bbolt panicked inside Open: release the file and its lock
			}
			db, err = nil, fmt.Errorf("%w: %v", errCorrupt, r)
		}
	}()
	opts := &bolt.Options{
		// A second agent on the same state directory would corrupt
		// sequence numbering: fail fast instead of waiting for the lock.
		Timeout: 2 * time.Second,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := openRegular(name, flag, perm)
			file = f
			return f, err
		},
	}
	db, err = bolt.Open(path, 0o600, opts)
	if err != nil {
		return nil, l, err
	}
	// Read first and write only if something needs repair: a full disk
	// must not stop a sound store from opening.
	var bad [][]byte
	fresh := false
	err = db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drained: the check runs on its own goroutine
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return fmt.Errorf("%w: %v", errCorrupt, first)
		}
		pts, meta := tx.Bucket(bucketPoints), tx.Bucket(bucketMeta)
		if pts == nil || meta == nil {
			fresh = true
			return nil
		}
		l.dropped, l.skipped = getUint(meta, keyDropped), getUint(meta, keySkipped)
		if v := meta.Get(keyLastSeq); len(v) == 8 {
			l.lastSeq, l.haveSeq = getUint(meta, keyLastSeq), true
		}
		c := pts.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				return fmt.Errorf("%w: a bucket among the points", errCorrupt)
			}
			seq, ok := keySeq(k)
			if _, derr := decode(v); !ok || derr != nil {
				bad = append(bad, bytes.Clone(k))
				continue
			}
			l.n++
			l.lastKey = max(l.lastKey, seq)
		}
		return nil
	})
	if err == nil && (fresh || len(bad) > 0) {
		err = db.Update(func(tx *bolt.Tx) error {
			pts, err := tx.CreateBucketIfNotExists(bucketPoints)
			if err != nil {
				return fmt.Errorf("%w: %v", errCorrupt, err)
			}
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return fmt.Errorf("%w: %v", errCorrupt, err)
			}
			for _, k := range bad {
				if err := pts.Delete(k); err != nil {
					return err
				}
			}
			if len(bad) == 0 {
				return nil
			}
			return putUint(meta, keySkipped, l.skipped+uint64(len(bad)))
		})
		if err == nil {
			l.skipped += uint64(len(bad))
		}
	}
	if err != nil {
		db.Close()
		return nil, l, err
	}
	return db, l, nil
}

// unusable tells a file that is itself the problem (moving it aside helps)
// from a directory the agent may not write or a full disk (moving it aside
// would lose good points and not help).
func unusable(err error) bool {
	for _, e := range []error{bolt.ErrTimeout, os.ErrPermission, syscall.EROFS, syscall.ENOSPC, syscall.EDQUOT} {
		if errors.Is(err, e) {
			return false
		}
	}
	return true
}

// asideSuffix names a file moved aside; keepAside bounds how many are
// kept, so that a store failing at every start cannot fill the disk.
const (
	asideSuffix = ".corrupt-"
	keepAside   = 3
)

// setAside renames path to path.corrupt-{UTC time}, for a technician to
// find, and deletes the oldest such files beyond keepAside.
func setAside(path string) (string, error) {
	stamp := time.Now().UTC().Format("20060102T150405Z")
	aside := path + asideSuffix + stamp
	for i := 2; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s%s%s-%d", path, asideSuffix, stamp, i)
	}
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	if all := listAside(path); len(all) > keepAside {
		for _, old := range all[keepAside:] {
			os.RemoveAll(old)
		}
	}
	return aside, nil
}

// listAside returns the files set aside for path, newest first (the
// names carry the time they were set aside; a rename keeps the
// modification time, which therefore says nothing).
func listAside(path string) []string {
	entries, _ := os.ReadDir(filepath.Dir(path))
	prefix := filepath.Base(path) + asideSuffix
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, filepath.Join(filepath.Dir(path), e.Name()))
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}
