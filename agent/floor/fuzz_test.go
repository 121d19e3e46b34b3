package floor

import (
	"math"
	"testing"
	"time"
)

// fuzzInput turns 4 bytes into an input, choosing among values that matter
// relative to the state (the request in flight, the next, the previous, none;
// this group, another, none) and hostile ones (negative, overflowing, capped
// talk times; negative positions), so that sequences reach every phase.
func fuzzInput(b []byte, s State) Input {
	in := Input{Kind: InputKind(b[0]%10 + 1), Speaker: "h2"}
	in.Group = [...]int64{0, s.Group, s.Group + 1, 7}[b[1]%4]
	in.Req = [...]uint32{0, s.Req, s.Req - 1, s.Req + 1, math.MaxUint32}[b[2]%5]
	in.TalkTime = [...]time.Duration{0, -time.Second, 1 << 62, math.MinInt64, 30 * time.Second, 2 * time.Second, MaxTalkTime + 1}[b[3]%7]
	in.Timer = Timer(b[3]%3 + 1)
	in.Position = int(int8(b[3]))
	in.Cause = "taken"
	return in
}

// The floor machine under any sequence of keys, platform messages and
// timers: it never panics, the microphone is open exactly while it has
// permission (and opened only by a grant that answers the request in
// flight), at most one request is pending at a time, every request has a
// new number, and a talk time is always within 0 … MaxTalkTime, with a
// timer to end it whenever the config sets a default.
func FuzzStep(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 1, 3, 1, 1, 4})             // press, grant
	f.Add([]byte{1, 0, 1, 0, 0, 3, 1, 0, 3})             // press, grant without req
	f.Add([]byte{0, 0, 1, 1, 1, 3, 1, 1, 2, 1, 1, 1, 0}) // press, grant with an overflowed talk time
	f.Add([]byte{2, 0, 1, 1, 1, 5, 1, 1, 4, 3, 1, 1, 5, 2, 1, 1, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		c := [...]Config{cfg, {ResponseTimeout: resp}, {DefaultTalkTime: time.Second, Warning: 5 * time.Second, ResponseTimeout: resp}}[b[0]%3]
		b = b[1:]
		var s State
		open := false
		for ; len(b) >= 4; b = b[4:] {
			in := fuzzInput(b, s)
			next, acts := Step(s, in, c)
			requests := 0
			limitTimer := false
			for _, a := range acts {
				switch a.Kind {
				case StartCapture:
					if open {
						t.Fatalf("%+v on %+v: capture started twice", in, s)
					}
					open = true
				case StopCapture:
					open = false
				case SendRequest:
					requests++
					if s.Phase != Idle && s.Phase != PendingRelease {
						t.Fatalf("%+v on %+v: a second request while one is %v", in, s, s.Phase)
					}
					if a.Req <= s.Req || a.Req != next.Req || next.Phase != PendingRequest {
						t.Fatalf("%+v on %+v: request %d, next %+v", in, s, a.Req, next)
					}
				case StartTimer:
					if a.After < 0 {
						t.Fatalf("%+v on %+v: timer %v for %v", in, s, a.Timer, a.After)
					}
					limitTimer = limitTimer || (a.Timer == TimerLimit && a.After == next.TalkLimit)
				}
			}
			if requests > 1 {
				t.Fatalf("%+v on %+v: %d requests", in, s, requests)
			}
			if open != (next.Phase == HasPermission) {
				t.Fatalf("%+v on %+v: capture open=%v in %v", in, s, open, next.Phase)
			}
			if next.Phase == HasPermission && s.Phase != HasPermission {
				if in.Kind != Granted || in.Req != s.Req || in.Group != s.Group || (s.Phase != PendingRequest && s.Phase != Queued) {
					t.Fatalf("%+v on %+v: permission without a grant for the request in flight", in, s)
				}
				if c.DefaultTalkTime > 0 && (next.TalkLimit <= 0 || !limitTimer) {
					t.Fatalf("%+v on %+v: talking without a limit: %+v %+v", in, s, next, acts)
				}
			}
			if next.TalkLimit < 0 || next.TalkLimit > MaxTalkTime || next.Position < 0 || next.Phase > PendingRelease {
				t.Fatalf("%+v on %+v: %+v", in, s, next)
			}
			s = next
		}
	})
}
