package ptt_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/agent/ptt/ptttest"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/wire"
)

// fakeCopy is the second broker connection: a fake link that counts the
// Runs (the connection is up while one runs).
type fakeCopy struct {
	*ptttest.Link
	mu            sync.Mutex
	runs, running int
}

func (c *fakeCopy) Run(ctx context.Context) error {
	c.mu.Lock()
	c.runs++
	c.running++
	c.mu.Unlock()
	<-ctx.Done()
	c.mu.Lock()
	c.running--
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeCopy) state() (runs, running int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs, c.running
}

// timedBurst is n packets of 3 frames of a sine and the burst's end, as
// captured from at on: packet i's first frame at at + i·60 ms.
func timedBurst(t *testing.T, id uint32, n int, at time.Time) [][]byte {
	t.Helper()
	return burstCaptured(t, id, time.Duration(3*n)*audio.FrameDuration, func(frame int) time.Time {
		return at.Add(time.Duration(frame) * audio.FrameDuration)
	})
}

// While voice comes over the broker, the floor taken in the active group
// opens the copy: a second connection with the same voice subscription,
// whose packets the buffer takes as duplicates of the broker's. It
// closes two minutes after the floor was last held, and follows a group
// switch; with the UDP path up there is none.
func TestVoiceCopyAroundTalk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vc := &fakeCopy{Link: ptttest.NewLink()}
		r := start(t, func(_ *rig, _ *ptt.Options, p *ptt.Parts) { p.VoiceCopy = vc })
		voice := wire.GroupVoice("ptt", patrol, "+")
		if runs, _ := vc.state(); runs != 0 || len(vc.Subscribed()) != 0 || r.status().VoiceCopy {
			t.Fatalf("a copy before anyone talked: %d runs, subscribed %v", runs, vc.Subscribed())
		}
		r.arbiter(wire.Floor{Type: wire.FloorTaken, Speaker: "other", TimeMs: time.Now().UnixMilli()})
		if _, running := vc.state(); running != 1 || len(vc.Subscribed()) != 1 || vc.Subscribed()[0] != voice || !r.status().VoiceCopy {
			t.Fatalf("floor taken: %d running, subscribed %v, status %+v", running, vc.Subscribed(), r.status())
		}
		// Both connections bring the burst; it plays once.
		const n = 25
		pkts := timedBurst(t, 0xc0b1, n, time.Now()) // and an empty end
		for _, p := range pkts {
			r.link.Deliver(wire.GroupVoice("ptt", patrol, "other"), p)
			time.Sleep(5 * time.Millisecond)
			vc.Deliver(wire.GroupVoice("ptt", patrol, "other"), p)
			time.Sleep(55 * time.Millisecond)
		}
		r.sleep(time.Second)
		r.arbiter(wire.Floor{Type: wire.FloorIdle, TimeMs: time.Now().UnixMilli()})
		s := r.status()
		if s.Jitter == nil || s.Jitter.Duplicates != 3*n || s.Jitter.Late != 0 || s.VoiceReceived != 2*uint64(len(pkts)) {
			t.Errorf("two copies of %d packets: jitter %+v, received %d", n, s.Jitter, s.VoiceReceived)
		}
		if s.VoiceCopyBackOffs != 0 {
			t.Errorf("backed off on a calm link: %+v", s)
		}

		// The next turn within two minutes finds it open.
		r.sleep(time.Minute)
		if _, running := vc.state(); running != 1 {
			t.Fatal("the copy closed a minute after the floor")
		}
		// The group switch moves it.
		r.tap(board.GroupUp)
		if got := vc.Subscribed(); len(got) != 1 || got[0] != wire.GroupVoice("ptt", harbour, "+") {
			t.Errorf("after the switch the copy holds %v", got)
		}
		r.sleep(time.Minute + 10*time.Second)
		if runs, running := vc.state(); runs != 1 || running != 0 || len(vc.Subscribed()) != 0 || r.status().VoiceCopy {
			t.Fatalf("two minutes after the floor: %d runs, %d running, subscribed %v", runs, running, vc.Subscribed())
		}
		// This handset's own talk opens it when it ends, ready for the
		// answer: while it talks, the copy would bring only its own voice.
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted, Group: harbour})
		if runs, running := vc.state(); runs != 1 || running != 0 {
			t.Errorf("talking: %d runs, %d running", runs, running)
		}
		r.release(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorIdle, Group: harbour, TimeMs: time.Now().UnixMilli()})
		if runs, running := vc.state(); runs != 2 || running != 1 {
			t.Errorf("after this handset's talk: %d runs, %d running", runs, running)
		}
	})
}

// A copy that makes the voice queue (a link too narrow for two) closes
// at once, and stays closed when the floor is taken again.
func TestVoiceCopyBacksOffWhenVoiceQueues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vc := &fakeCopy{Link: ptttest.NewLink()}
		r := start(t, func(_ *rig, _ *ptt.Options, p *ptt.Parts) { p.VoiceCopy = vc })
		r.arbiter(wire.Floor{Type: wire.FloorTaken, Speaker: "other", TimeMs: time.Now().UnixMilli()})
		// Each packet 10 ms later than the one before: a queue growing
		// by a sixth of real time.
		pkts := timedBurst(t, 0xc0b2, 50, time.Now())
		closedAt := -1
		for i, p := range pkts {
			r.link.Deliver(wire.GroupVoice("ptt", patrol, "other"), p)
			time.Sleep(70 * time.Millisecond)
			synctest.Wait()
			if _, running := vc.state(); running == 0 && closedAt < 0 {
				closedAt = i
			}
		}
		// 100 ms of queue after 10 packets, and up to a second to see it.
		if closedAt < 10 || closedAt > 30 {
			t.Errorf("the copy closed after packet %d, want between 10 and 30", closedAt)
		}
		if s := r.status(); s.VoiceCopyBackOffs != 1 || s.VoiceCopy {
			t.Errorf("status %+v", s)
		}
		r.arbiter(wire.Floor{Type: wire.FloorIdle, TimeMs: time.Now().UnixMilli()})
		r.arbiter(wire.Floor{Type: wire.FloorTaken, Speaker: "other", TimeMs: time.Now().UnixMilli()})
		if runs, running := vc.state(); runs != 1 || running != 0 {
			t.Errorf("floor taken again in the back-off: %d runs, %d running", runs, running)
		}
		r.arbiter(wire.Floor{Type: wire.FloorIdle, TimeMs: time.Now().UnixMilli()})
		r.sleep(11 * time.Minute)
		r.arbiter(wire.Floor{Type: wire.FloorTaken, Speaker: "other", TimeMs: time.Now().UnixMilli()})
		if runs, running := vc.state(); runs != 2 || running != 1 {
			t.Errorf("floor taken after the back-off: %d runs, %d running", runs, running)
		}
	})
}

// With the UDP path up — also while it is in doubt and the broker's copy
// stands in — there is no second broker connection; when the path goes
// down in mid-talk, the copy opens.
func TestVoiceCopyOnlyWithoutUDP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vc := &fakeCopy{Link: ptttest.NewLink()}
		m := &fakeMedia{up: true, doubt: true, changed: make(chan struct{})}
		r := start(t, func(_ *rig, _ *ptt.Options, p *ptt.Parts) { p.VoiceCopy, p.Media = vc, m })
		r.arbiter(wire.Floor{Type: wire.FloorTaken, Speaker: "other", TimeMs: time.Now().UnixMilli()})
		if runs, _ := vc.state(); runs != 0 || len(r.link.Subscribed()) < 2 {
			t.Fatalf("UDP in doubt: %d runs of the copy, the broker holds %v", runs, r.link.Subscribed())
		}
		m.set(func(m *fakeMedia) { m.up = false })
		r.settle()
		if _, running := vc.state(); running != 1 {
			t.Errorf("UDP down while the floor is taken: %d copies running", running)
		}
		m.set(func(m *fakeMedia) { m.up, m.doubt = true, false })
		r.settle()
		if _, running := vc.state(); running != 0 || len(vc.Subscribed()) != 0 {
			t.Errorf("UDP back: %d copies running, subscribed %v", running, vc.Subscribed())
		}
	})
}

// Where the platform does not offer the copy (its capabilities do not
// say voice_copy), the floor taken opens none; once offered, the next
// floor does.
func TestVoiceCopyOnlyWhenOffered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vc := &fakeCopy{Link: ptttest.NewLink()}
		var offered atomic.Bool
		r := start(t, func(_ *rig, _ *ptt.Options, p *ptt.Parts) { p.VoiceCopy, p.VoiceCopyOffered = vc, offered.Load })
		r.arbiter(wire.Floor{Type: wire.FloorTaken, Speaker: "other", TimeMs: time.Now().UnixMilli()})
		if runs, _ := vc.state(); runs != 0 {
			t.Fatalf("not offered: %d runs", runs)
		}
		r.arbiter(wire.Floor{Type: wire.FloorIdle, TimeMs: time.Now().UnixMilli()})
		offered.Store(true)
		r.arbiter(wire.Floor{Type: wire.FloorTaken, Speaker: "other", TimeMs: time.Now().UnixMilli()})
		if _, running := vc.state(); running != 1 {
			t.Errorf("offered: %d running", running)
		}
	})
}
