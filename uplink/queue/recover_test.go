package queue

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/pttagent/pttagent/wire"
)

// openSoon opens the queue on another goroutine and fails the test if that
// takes more than a few seconds: a FIFO in place of the store once hung
// the agent's start.
func openSoon(t *testing.T, path string, max int) *Queue {
	t.Helper()
	type result struct {
		q   *Queue
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("panic: %v", r)}
			}
		}()
		q, err := Open(path, max)
		done <- result{q, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Open: %v", r.err)
		}
		t.Cleanup(func() { r.q.Close() })
		return r.q
	case <-time.After(10 * time.Second):
		t.Fatal("Open hangs")
		return nil
	}
}

// fill appends n points and acknowledges the first acked of them, then
// closes the queue: a store that has sent points the platform keeps.
func fill(t *testing.T, path string, n, acked int) {
	t.Helper()
	q := openQ(t, path, 100_000)
	for i := 0; i < n; i++ {
		if _, err := q.Append(pt(float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if acked > 0 {
		q.Ack(1, uint64(acked))
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
}

// A store that cannot be used is moved aside, kept for a technician, and
// a fresh one started; the points continue above every seq ever handed
// out, so the platform does not drop them as duplicates (issue 13, items
// 10 and 16). Before, garbage or a FIFO made Open fail (the agent exited
// 1, forever, under systemd) and a truncated file made bbolt panic.
func TestUnusableStoreIsSetAsideAndNumberingContinues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"zeros", func(t *testing.T, path string) { os.WriteFile(path, make([]byte, 64<<10), 0o600) }},
		{"random bytes", func(t *testing.T, path string) {
			b := make([]byte, 64<<10)
			r := rand.NewChaCha8([32]byte{1})
			r.Read(b)
			os.WriteFile(path, b, 0o600)
		}},
		{"one byte", func(t *testing.T, path string) { os.WriteFile(path, []byte{0}, 0o600) }},
		{"truncated after the meta pages", func(t *testing.T, path string) { os.Truncate(path, 2*4096+100) }},
		{"truncated to half", func(t *testing.T, path string) {
			// A store of 3000 points, so that half of it is half the tree.
			q := openQ(t, path, 100_000)
			var rec [recordSize]byte
			q.db.Update(func(tx *bolt.Tx) error {
				for seq := q.lastSeq + 1; seq < 3000; seq++ {
					tx.Bucket(bucketPoints).Put(seqKey(seq), encode(rec[:], pt(1)))
				}
				return nil
			})
			q.lastSeq = 2999
			q.Append(pt(1))
			q.Close()
			info, _ := os.Stat(path)
			os.Truncate(path, info.Size()/2)
		}},
		{"page overwritten", func(t *testing.T, path string) {
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			f.WriteAt(make([]byte, 4096), 3*4096) // a tree page, not a meta page
			f.Close()
		}},
		{"fifo", func(t *testing.T, path string) {
			os.Remove(path)
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory", func(t *testing.T, path string) {
			os.Remove(path)
			os.MkdirAll(filepath.Join(path, "sub"), 0o750)
		}},
		{"symlink", func(t *testing.T, path string) {
			os.Rename(path, path+".real")
			os.Symlink(path+".real", path)
		}},
		{"deleted", func(t *testing.T, path string) { os.Remove(path) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "tracks.db")
			fill(t, path, 40, 25) // seqs 1–25 reached the platform
			tc.damage(t, path)
			handedOut := uint64(40)
			if tc.name == "truncated to half" {
				handedOut = 3000
			}

			q := openSoon(t, path, 100_000)
			st := q.Stats()
			if tc.name == "deleted" {
				if st.Recovered != "" {
					t.Errorf("a missing store is not a corrupt one: %q", st.Recovered)
				}
			} else {
				if !strings.Contains(st.Recovered, "tracks.db.corrupt-") || len(st.SetAside) != 1 {
					t.Fatalf("stats %+v: no word of the store moved aside", st)
				}
				if _, err := os.Lstat(st.SetAside[0]); err != nil {
					t.Errorf("the unusable store was not kept: %v", err)
				}
			}
			if st.Len != 0 {
				t.Errorf("Len = %d", st.Len)
			}
			seq, err := q.Append(pt(1))
			if err != nil {
				t.Fatal(err)
			}
			if seq <= handedOut {
				t.Fatalf("next seq %d: the platform, which may have up to %d, drops it as a duplicate", seq, handedOut)
			}
			// The new store is sound: it reopens without a word, and the
			// copy set aside stays listed until a technician removes it.
			q.Close()
			q2 := openQ(t, path, 100_000)
			defer q2.Close()
			if st := q2.Stats(); st.Recovered != "" || st.LastSeq != seq || (tc.name != "deleted" && len(st.SetAside) != 1) {
				t.Errorf("after reopening: %+v", st)
			}
			if s, _ := q2.Append(pt(1)); s != seq+1 {
				t.Errorf("a clean restart left a gap: %d after %d", s, seq)
			}
		})
	}
}

// A store that fails at every start does not fill the disk with copies.
func TestSetAsideCopiesAreBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tracks.db")
	for i := 0; i < keepAside+3; i++ {
		os.WriteFile(path, []byte("garbage"), 0o600)
		q := openSoon(t, path, 100)
		q.Close()
	}
	if got := listAside(path); len(got) != keepAside {
		t.Errorf("%d copies kept: %v", len(got), got)
	}
}

// Errors that moving the file would not cure are reported, and the store
// is left where it is: another agent holding it, a directory the agent
// may not write.
func TestLockedStoreIsAnErrorNotACorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracks.db")
	q := openQ(t, path, 100)
	defer q.Close()
	_, err := Open(path, 100)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v", err)
	}
	if got := listAside(path); len(got) != 0 {
		t.Errorf("a locked store was moved aside: %v", got)
	}
}

// The mark outlives the store; it must not be what makes a clean restart
// leave a gap, and losing it alone loses nothing.
func TestMarkLostOrDamagedWithSoundStore(t *testing.T) {
	for _, damage := range []string{"deleted", "garbage", "fifo"} {
		t.Run(damage, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tracks.db")
			fill(t, path, 7, 0)
			markPath := filepath.Join(filepath.Dir(path), "tracks.seq")
			os.Remove(markPath)
			switch damage {
			case "garbage":
				os.WriteFile(markPath, []byte(strings.Repeat("x", 9000)), 0o600)
			case "fifo":
				syscall.Mkfifo(markPath, 0o600)
			}
			q := openSoon(t, path, 100)
			if seq, _ := q.Append(pt(1)); seq != 8 {
				t.Errorf("seq %d after 7 with the store intact", seq)
			}
			if st := q.Stats(); (damage == "deleted") != (st.Recovered == "") {
				t.Errorf("recovered %q", st.Recovered)
			}
			q.Close()
			// The mark was rewritten: now losing the store is covered.
			os.Remove(path)
			q = openSoon(t, path, 100)
			if seq, _ := q.Append(pt(1)); seq <= 8 {
				t.Errorf("seq %d reused after the store was lost", seq)
			}
		})
	}
}

// A power cut tearing one slot of the mark leaves the other, which holds
// the state before the write; both torn is reported, not trusted.
func TestMarkSurvivesATornSlot(t *testing.T) {
	markPath := filepath.Join(t.TempDir(), "tracks.seq")
	m, err := openMark(markPath)
	if err != nil {
		t.Fatal(err)
	}
	want := markState{Reserved: 1000, Consumed: 7, Failed: 2}
	m.write(want)
	m.write(want) // both slots hold it, as after two writes of the same state
	m.close()
	tear := func(slot int) {
		f, _ := os.OpenFile(markPath, os.O_RDWR, 0)
		f.WriteAt([]byte("torn"), int64(slot*markSlot+10))
		f.Close()
	}
	tear(0)
	m, err = openMark(markPath)
	if err != nil || m.state != want {
		t.Fatalf("slot 0 torn: %+v, %v", m.state, err)
	}
	m.write(want) // rewrites slot 0 (the older)
	m.close()
	tear(1)
	m, err = openMark(markPath)
	if err != nil || m.state != want {
		t.Fatalf("slot 1 torn: %+v, %v", m.state, err)
	}
	m.close()
	tear(0)
	if m, err = openMark(markPath); !errors.Is(err, errMarkUnreadable) {
		t.Fatalf("both torn: %+v, %v", m.state, err)
	}
	m.close()
}

// A record that cannot be read (a one-byte key once panicked Open; a
// value of another format stopped every later upload) is removed and
// counted; the rest go on in order.
func TestBadRecordsAreSkippedAndCounted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tracks.db")
	fill(t, path, 10, 0)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPoints)
		b.Put([]byte{0}, []byte("x"))                 // a one-byte key, sorted first
		b.Put(seqKey(4), []byte{9, 9, 9})             // a record of another format
		b.Put(append(seqKey(6), 0), make([]byte, 81)) // a nine-byte key between 6 and 7
		return nil
	})
	db.Close()

	q := openSoon(t, path, 100)
	if st := q.Stats(); st.Skipped != 3 || st.Len != 9 {
		t.Errorf("after opening: %+v", st)
	}
	got, err := q.Peek(0, 100, 1<<20, nil)
	if err != nil || len(got) != 9 || got[3].Seq != 5 {
		t.Fatalf("Peek = %d points, %v", len(got), err)
	}
	// Damage found while running: skipped on the way, not a stall.
	q.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPoints).Put(seqKey(8), []byte{1}) })
	got, err = q.Peek(5, 100, 1<<20, got)
	if err != nil || len(got) != 4 || got[0].Seq != 6 || got[2].Seq != 9 {
		t.Fatalf("Peek past a bad record = %+v, %v", got, err)
	}
	if st := q.Stats(); st.Skipped != 4 || st.Len != 8 {
		t.Errorf("after the second: %+v", st)
	}
	q.Close()
	q = openQ(t, path, 100)
	defer q.Close()
	if st := q.Stats(); st.Skipped != 4 || st.LastSeq != 10 {
		t.Errorf("after reopening: %+v", st)
	}
}

// Points lost to a full disk use up their seqs, so the platform sees the
// gap, and the count of them survives a restart, also one made while the
// disk is still full (issue 13, item 17). A real full file system: a
// small tmpfs.
func TestFullDiskLossIsAGapAndIsRemembered(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	path := filepath.Join(dir, "tracks.db")
	q := openQ(t, path, 1_000_000)
	ballast := filepath.Join(dir, "ballast")
	f, _ := os.Create(ballast)
	f.Write(make([]byte, 256<<10))
	f.Close()
	var (
		err    error
		stored uint64
	)
	for i := 0; i < 20000 && err == nil; i++ {
		var seq uint64
		if seq, err = q.Append(pt(1)); err == nil {
			stored = seq
		}
	}
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("want ErrDiskFull, got %v", err)
	}
	for i := 0; i < 4; i++ {
		q.Append(pt(1))
	}
	if st := q.Stats(); st.Failed != 5 {
		t.Fatalf("failed %d, want 5", st.Failed)
	}
	// A restart while the disk is still full: the store opens, and the
	// count and the used-up seqs are still known.
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = openQ(t, path, 1_000_000)
	if st := q.Stats(); st.Failed != 5 || st.LastSeq != stored+5 {
		t.Errorf("after a restart on a full disk: %+v (stored up to %d)", st, stored)
	}
	os.Remove(ballast)
	seq, err := q.Append(pt(2))
	if err != nil {
		t.Fatalf("after freeing space: %v", err)
	}
	if seq != stored+6 {
		t.Errorf("seq %d after %d stored and 5 lost: the platform sees no gap", seq, stored)
	}
	got, _ := q.Peek(stored-1, 10, 1<<20, nil)
	if len(got) != 2 || got[0].Seq != stored || got[1].Seq != seq {
		t.Errorf("the queue around the gap: %+v", got)
	}
	q.Close()
	q = openQ(t, path, 1_000_000)
	defer q.Close()
	if st := q.Stats(); st.Failed != 5 {
		t.Errorf("failed %d after a second restart", st.Failed)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	var rec [recordSize]byte
	f.Add(encode(rec[:], pt(22.5)))
	f.Add([]byte{})
	f.Add([]byte{recordVersion})
	f.Add(make([]byte, recordSize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decode(b)
		if err != nil {
			return
		}
		// What decodes survives being stored again (the reserved slot
		// aside), and encodes on the wire (the sender's next step).
		var again [recordSize]byte
		p2, err := decode(encode(again[:], &p))
		if err != nil || fmt.Sprintf("%#v", p2) != fmt.Sprintf("%#v", p) {
			t.Fatalf("stored again: %+v, %v; read %+v", p2, err, p)
		}
		p.Seq = 1
		if _, err := wire.DecodeTrackBatch(wire.AppendTrackBatch(nil, []wire.Point{p})); err != nil &&
			!strings.Contains(err.Error(), "position out of range") {
			t.Fatalf("a stored point does not travel: %v", err)
		}
	})
}

func FuzzDecodeMark(f *testing.F) {
	var slot [markSlot]byte
	encodeMark(slot[:], 7, markState{Reserved: 2000, Consumed: 1500, Failed: 3})
	f.Add(slot[:markLen])
	f.Add([]byte(markMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		gen, st, ok := decodeMark(b)
		if !ok {
			return
		}
		var again [markSlot]byte
		encodeMark(again[:], gen, st)
		if string(again[:markLen]) != string(b[:markLen]) {
			t.Fatalf("re-encoded %x, read %x", again[:markLen], b[:markLen])
		}
	})
}
