package recording

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/wire"
)

// frames encodes n frames of a tone, as the packetizer's OnFrame sees them.
func frames(t testing.TB, n int) [][]byte {
	t.Helper()
	enc, err := audio.NewEncoder(audio.EncoderConfig{Bitrate: 20000, Complexity: 5})
	if err != nil {
		t.Fatal(err)
	}
	tone, _ := audio.RenderTone(audio.ToneEnd, 0.5)
	pcm := make([]int16, audio.FrameSamples)
	var out [][]byte
	for i := range n {
		copy(pcm, tone[(i%4)*audio.FrameSamples:])
		buf := make([]byte, wire.MaxOpusFrame)
		k, err := enc.Encode(pcm, buf)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, buf[:k])
	}
	return out
}

func record(t *testing.T, q *Queue, begin int64, n int) Meta {
	t.Helper()
	b, err := q.Begin(Meta{Account: "a", Group: 7, GroupName: "Patrol", Burst: uint32(begin), BeginMs: begin})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames(t, n) {
		b.Frame(f)
	}
	m, err := b.End()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestQueueRecordsStandardOggOpus(t *testing.T) {
	q, err := Open(t.TempDir(), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := record(t, q, 1763712000123, 100)
	if !m.Complete || m.DurationMs != 2000 || m.ID != "1763712000123-a56d607b" {
		t.Fatalf("meta %+v", m)
	}
	p := q.Pending()
	if len(p) != 1 || p[0] != m {
		t.Fatalf("pending %+v", p)
	}
	if out, err := exec.Command("opusinfo", filepath.Join(q.Dir(), m.ID+".opus")).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "Playback length: 0m:01.993s") {
		t.Errorf("opusinfo: %v\n%s", err, out)
	}
	// A burst without a frame (a tap too short to capture one) leaves nothing.
	b, _ := q.Begin(Meta{Group: 7, Burst: 9, BeginMs: 1763712009000})
	if m, err := b.End(); err != nil || m.Complete {
		t.Errorf("empty burst: %+v %v", m, err)
	}
	if len(q.Pending()) != 1 {
		t.Errorf("pending %+v", q.Pending())
	}
	if st := q.Stats(); st.Recorded != 1 || st.Queued != 1 || st.Bytes == 0 {
		t.Errorf("stats %+v", st)
	}
}

// A power cut mid-burst: the meta says incomplete and the file ends in a
// torn page. At the next start the recording is kept up to its last
// intact page, marked complete, and uploaded like any other.
func TestQueueRecoversABurstCutShort(t *testing.T) {
	dir := t.TempDir()
	q, _ := Open(dir, 1<<20, nil)
	b, err := q.Begin(Meta{Account: "a", Group: 7, Burst: 5, BeginMs: 1763712000000})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames(t, 170) { // pages of 50 frames: 3 full pages written, 20 frames in memory
		b.Frame(f)
	}
	b.f.Close() // the process dies here
	path := filepath.Join(dir, b.meta.ID+".opus")
	data, _ := os.ReadFile(path)
	os.WriteFile(path, append(data, "OggS\x00\x00garbage of a torn page"...), 0o640)
	// A stray temporary file and an .opus without its meta are removed.
	os.WriteFile(filepath.Join(dir, "x.json.tmp"), []byte("{"), 0o640)
	os.WriteFile(filepath.Join(dir, "orphan.opus"), data, 0o640)

	q2, err := Open(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := q2.Pending()
	if len(p) != 1 || !p[0].Complete || p[0].DurationMs != 3000 {
		t.Fatalf("recovered %+v", p)
	}
	if q2.Stats().Recovered != 1 {
		t.Errorf("stats %+v", q2.Stats())
	}
	if out, err := exec.Command("opusinfo", path).CombinedOutput(); err != nil || strings.Contains(string(out), "WARNING") {
		t.Errorf("the recovered file: %v\n%s", err, out)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("files left: %v", entries)
	}
	// A burst cut before any audio page is dropped, not uploaded empty.
	b, _ = q2.Begin(Meta{Group: 7, Burst: 6, BeginMs: 1763712100000})
	b.f.Close()
	q3, _ := Open(dir, 1<<20, nil)
	if len(q3.Pending()) != 1 {
		t.Errorf("pending %+v", q3.Pending())
	}
}

func TestQueueDropsTheOldestWhenFull(t *testing.T) {
	q, _ := Open(t.TempDir(), 20000, nil)
	for i := range 6 {
		record(t, q, 1763712000000+int64(i)*10000, 100) // ~5 KB each
	}
	p := q.Pending()
	st := q.Stats()
	if st.Dropped == 0 || st.Bytes > 20000 || len(p) == 0 || p[len(p)-1].BeginMs != 1763712050000 {
		t.Errorf("stats %+v pending %d", st, len(p))
	}
	if p[0].BeginMs == 1763712000000 {
		t.Errorf("the oldest recording was kept")
	}
}

type fakePlatform struct {
	mu       sync.Mutex
	down     bool
	files    map[string][]byte
	stored   map[string]int // successful uploads per file name
	reports  []wire.RecordReport
	uploads  int
	failRepo bool
	refuse   string // a file name the platform always refuses
}

func (f *fakePlatform) upload(_ context.Context, name string, data []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads++
	if f.down {
		return "", errors.New("platform down")
	}
	if f.refuse != "" && strings.Contains(name, f.refuse) {
		return "", errors.New("HTTP 400: bad file")
	}
	if f.stored == nil {
		f.stored = map[string]int{}
	}
	f.stored[name]++
	f.files[name] = data
	return "http://platform.example/files/" + name, nil
}

func (f *fakePlatform) report(_ context.Context, r wire.RecordReport) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRepo {
		return errors.New("no PUBACK")
	}
	f.reports = append(f.reports, r)
	return nil
}

func (f *fakePlatform) set(down, failReport bool) {
	f.mu.Lock()
	f.down, f.failRepo = down, failReport
	f.mu.Unlock()
}

// The uploader retries through an outage, never
// uploads a file twice once the platform has it (even when the report
// fails), and leaves the disk empty once everything is reported.
func TestUploaderThroughAnOutage(t *testing.T) {
	q, _ := Open(t.TempDir(), 1<<20, nil)
	plat := &fakePlatform{files: map[string][]byte{}, down: true}
	u := &Uploader{Queue: q, Upload: plat.upload, Report: plat.report, BackoffMin: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1) // Run's goroutine ends even when the test fails before reading
	go func() { done <- u.Run(ctx) }()
	first := record(t, q, 1763712000000, 50)
	second := record(t, q, 1763712060000, 25)
	wait.For(t, 5*time.Second, "failed attempts", func() bool { return q.Stats().Failures >= 3 })
	plat.set(false, true) // uploads work, reports do not
	wait.For(t, 5*time.Second, "the first upload", func() bool { plat.mu.Lock(); defer plat.mu.Unlock(); return len(plat.files) == 1 })
	wait.For(t, 5*time.Second, "failed reports", func() bool { return q.Stats().Failures >= 6 })
	plat.mu.Lock()
	uploads := plat.uploads
	plat.mu.Unlock()
	plat.set(false, false)
	wait.For(t, 5*time.Second, "both reported", func() bool { return q.Stats().Reported == 2 })
	cancel()
	<-done
	plat.mu.Lock()
	defer plat.mu.Unlock()
	for name, n := range plat.stored {
		if n != 1 {
			t.Errorf("%s went up %d times", name, n)
		}
	}
	if plat.uploads > uploads+1 || len(plat.files) != 2 {
		t.Errorf("uploaded %d times (%d before the reports worked), %d files: a file went up twice", plat.uploads, uploads, len(plat.files))
	}
	// A failing recording goes behind the others: through an outage the
	// order may change.
	slices.SortFunc(plat.reports, func(a, b wire.RecordReport) int { return cmp.Compare(a.BeginMs, b.BeginMs) })
	if len(plat.reports) != 2 || plat.reports[0].BeginMs != first.BeginMs || plat.reports[1].Burst != second.Burst ||
		plat.reports[0].DurationMs != 1000 || plat.reports[1].DurationMs != 500 || plat.reports[0].GroupName != "Patrol" ||
		!strings.HasSuffix(plat.reports[0].URL, "a_1763712000000_"+first.ID[len(first.ID)-8:]+".opus") {
		t.Errorf("reports %+v", plat.reports)
	}
	if entries, _ := os.ReadDir(q.Dir()); len(entries) != 0 {
		t.Errorf("left on disk: %v", entries)
	}
}

// An upload that succeeded before a reboot is not repeated after it.
func TestUploadedURLSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	q, _ := Open(dir, 1<<20, nil)
	m := record(t, q, 1763712000000, 10)
	if err := q.SetURL(m.ID, "http://p/f.opus"); err != nil {
		t.Fatal(err)
	}
	q2, _ := Open(dir, 1<<20, nil)
	plat := &fakePlatform{files: map[string][]byte{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go (&Uploader{Queue: q2, Upload: plat.upload, Report: plat.report}).Run(ctx)
	wait.For(t, 5*time.Second, "the report of the file uploaded before the restart", func() bool { return q2.Stats().Reported > 0 })
	plat.mu.Lock()
	defer plat.mu.Unlock()
	if plat.uploads != 0 || len(plat.reports) != 1 || plat.reports[0].URL != "http://p/f.opus" {
		t.Errorf("uploads %d reports %+v", plat.uploads, plat.reports)
	}
}

// Recordings that cannot be sent are set aside (kept as .bad, counted) and
// hold nothing up: a FIFO in place of a description once hung Open (and
// with it push-to-talk's start), a directory in place of the audio was
// "reported" and deleted, and a description the platform would refuse was
// reported all the same.
func TestUnsendableRecordingsAreSetAside(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	oldest := record(t, q, 1763712000000, 10)
	dirAudio := record(t, q, 1763712010000, 10)
	nonsense := record(t, q, 1763712020000, 10)
	newest := record(t, q, 1763712050000, 10)
	// The audio of one is a directory; another says group 0.
	os.Remove(filepath.Join(dir, dirAudio.ID+".opus"))
	os.MkdirAll(filepath.Join(dir, dirAudio.ID+".opus", "x"), 0o750)
	b, _ := os.ReadFile(filepath.Join(dir, nonsense.ID+".json"))
	os.WriteFile(filepath.Join(dir, nonsense.ID+".json"), []byte(strings.Replace(string(b), `"group":7`, `"group":0`, 1)), 0o640)
	// A FIFO and garbage as descriptions.
	if err := syscall.Mkfifo(filepath.Join(dir, "1763712030000-0000000b.json"), 0o640); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "1763712040000-0000000c.json"), []byte("{\"id\":"), 0o640)

	opened := make(chan *Queue, 1)
	go func() { q, _ := Open(dir, 1<<20, nil); opened <- q }()
	select {
	case q = <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("Open hangs")
	}
	if q == nil {
		t.Fatal("Open failed")
	}
	if st := q.Stats(); st.Skipped != 3 {
		t.Errorf("skipped %d at Open, want 3 (FIFO, garbage, group 0)", st.Skipped)
	}
	plat := &fakePlatform{files: map[string][]byte{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go (&Uploader{Queue: q, Upload: plat.upload, Report: plat.report, BackoffMin: 10 * time.Millisecond}).Run(ctx)
	wait.For(t, 5*time.Second, "two reports", func() bool { plat.mu.Lock(); defer plat.mu.Unlock(); return len(plat.reports) == 2 })
	wait.For(t, 5*time.Second, "the directory set aside", func() bool { return q.Stats().Skipped == 4 })
	plat.mu.Lock()
	if plat.reports[0].BeginMs != oldest.BeginMs || plat.reports[1].BeginMs != newest.BeginMs {
		t.Errorf("reports %+v", plat.reports)
	}
	plat.mu.Unlock()
	for _, name := range []string{dirAudio.ID + ".json.bad", dirAudio.ID + ".opus.bad", nonsense.ID + ".json.bad",
		nonsense.ID + ".opus.bad", "1763712030000-0000000b.json.bad", "1763712040000-0000000c.json.bad"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("not kept: %v", err)
		}
	}
	if p := q.Pending(); len(p) != 0 {
		t.Errorf("pending %+v", p)
	}
}

// A recording the platform keeps refusing goes behind the others instead
// of holding them up forever.
func TestOneRefusedRecordingDoesNotHoldUpTheRest(t *testing.T) {
	q, _ := Open(t.TempDir(), 1<<20, nil)
	refused := record(t, q, 1763712000000, 10)
	record(t, q, 1763712010000, 10)
	record(t, q, 1763712020000, 10)
	plat := &fakePlatform{files: map[string][]byte{}, refuse: refused.ID[len(refused.ID)-8:]}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go (&Uploader{Queue: q, Upload: plat.upload, Report: plat.report, BackoffMin: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond}).Run(ctx)
	wait.For(t, 5*time.Second, "the two others reported", func() bool { return q.Stats().Reported == 2 })
	if p := q.Pending(); len(p) != 1 || p[0].ID != refused.ID {
		t.Errorf("pending %+v", p)
	}
}

// When room is needed, recordings set aside go before any that can be sent.
func TestSetAsideGoFirstWhenFull(t *testing.T) {
	dir := t.TempDir()
	q, _ := Open(dir, 20000, nil)
	os.WriteFile(filepath.Join(dir, "1763711000000-00000001.opus.bad"), make([]byte, 15000), 0o640)
	a := record(t, q, 1763712000000, 50)
	b := record(t, q, 1763712010000, 50)
	if p := q.Pending(); len(p) != 2 || p[0].ID != a.ID || p[1].ID != b.ID {
		t.Errorf("pending %+v", p)
	}
	if _, err := os.Stat(filepath.Join(dir, "1763711000000-00000001.opus.bad")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file set aside was kept, recordings dropped: %v (stats %+v)", err, q.Stats())
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add("1763712000123-a56d607b", []byte(`{"id":"1763712000123-a56d607b","account":"a","group":7,"group_name":"Patrol","burst":2775408763,"begin_ms":1763712000123,"duration_ms":2000,"complete":true}`))
	f.Add("x", []byte(`{"id":"x","group":1,"begin_ms":1,"duration_ms":0,"url":"https://p/f"}`))
	f.Add("x", []byte(`{"id":"x","group":1,"begin_ms":1,"duration_ms":-1}`))
	f.Add("x", []byte(`{"id":"x","group":1,"begin_ms":1,"url":"javascript:x"}`))
	f.Add("x", []byte(`{`))
	f.Fuzz(func(t *testing.T, id string, b []byte) {
		m, err := decodeMeta(id, b)
		if err != nil {
			return
		}
		// What is accepted is a report the platform takes.
		r := wire.RecordReport{Group: m.Group, GroupName: m.GroupName, Burst: m.Burst, BeginMs: m.BeginMs,
			DurationMs: m.DurationMs, URL: cmp.Or(m.URL, "http://p/f")}
		if _, err := wire.DecodeRecordReport(r.Encode()); err != nil && len(r.Encode()) <= wire.MaxRecordSize {
			t.Fatalf("meta %+v accepted, report refused: %v", m, err)
		}
		again, _ := json.Marshal(m)
		if m2, err := decodeMeta(id, again); err != nil || m2 != m {
			t.Fatalf("round trip: %+v, %v (from %+v)", m2, err, m)
		}
	})
}
