package floor

import (
	"reflect"
	"testing"
	"time"
)

var cfg = Config{DefaultTalkTime: 60 * time.Second, Warning: 5 * time.Second, ResponseTimeout: 3 * time.Second}

// Shorthands for the table.
func send(g int64, req uint32) Action { return Action{Kind: SendRequest, Group: g, Req: req} }
func rel(g int64, req uint32) Action  { return Action{Kind: SendRelease, Group: g, Req: req} }
func tone(t Tone) Action              { return Action{Kind: PlayTone, Tone: t} }
func start(t Timer, d time.Duration, req uint32) Action {
	return Action{Kind: StartTimer, Timer: t, After: d, Req: req}
}
func stop(t Timer) Action { return Action{Kind: StopTimer, Timer: t} }

var (
	capOn  = Action{Kind: StartCapture}
	capOff = Action{Kind: StopCapture}
	resp   = 3 * time.Second
)

func TestStep(t *testing.T) {
	idle := State{Group: 7, Req: 4}
	pending := State{Phase: PendingRequest, Group: 7, Req: 5, KeyDown: true}
	talking := State{Phase: HasPermission, Group: 7, Req: 5, KeyDown: true, TalkLimit: 60 * time.Second}
	queued := State{Phase: Queued, Group: 7, Req: 5, KeyDown: true, Position: 2}
	releasing := State{Phase: PendingRelease, Group: 7, Req: 5}
	stopTalk := []Action{capOff, stop(TimerWarning), stop(TimerLimit)}
	cat := func(parts ...[]Action) []Action {
		var out []Action
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	for _, tc := range []struct {
		name string
		from State
		in   Input
		cfg  *Config
		want State
		acts []Action
	}{
		// idle
		{"idle press requests", idle, Input{Kind: KeyPress, Group: 9},
			nil, State{Phase: PendingRequest, Group: 9, Req: 5, KeyDown: true},
			[]Action{send(9, 5), start(TimerResponse, resp, 5)}},
		{"idle press without a group is denied locally", idle, Input{Kind: KeyPress},
			nil, State{Group: 7, Req: 4, KeyDown: true, Cause: "no-group"}, []Action{tone(ToneDeny)}},
		{"idle release is nothing", State{Group: 7, Req: 4, KeyDown: true}, Input{Kind: KeyRelease},
			nil, idle, nil},
		{"idle unwanted grant is handed back", idle, Input{Kind: Granted, Group: 7, Req: 4},
			nil, idle, []Action{rel(7, 4)}},
		{"idle taken remembers the speaker", idle, Input{Kind: Taken, Group: 7, Speaker: "h2"},
			nil, State{Group: 7, Req: 4, Speaker: "h2"}, nil},
		{"idle taken in another group is ignored", idle, Input{Kind: Taken, Group: 8, Speaker: "h2"},
			nil, idle, nil},
		{"idle floor idle after a speaker ends with a tone", State{Group: 7, Req: 4, Speaker: "h2"}, Input{Kind: FloorIdle, Group: 7},
			nil, idle, []Action{tone(ToneEnd)}},
		{"idle floor idle without a speaker is silent", idle, Input{Kind: FloorIdle, Group: 7},
			nil, idle, nil},
		{"idle revoke is ignored", idle, Input{Kind: Revoked, Group: 7, Cause: "preempted"}, nil, idle, nil},
		{"idle stray timer is ignored", idle, Input{Kind: TimerFired, Timer: TimerLimit, Req: 4}, nil, idle, nil},

		// pending request
		{"pending grant opens the microphone with the platform's limit", pending, Input{Kind: Granted, Group: 7, Req: 5, TalkTime: 30 * time.Second},
			nil, State{Phase: HasPermission, Group: 7, Req: 5, KeyDown: true, TalkLimit: 30 * time.Second},
			[]Action{stop(TimerResponse), tone(ToneGrant), capOn, start(TimerWarning, 25*time.Second, 5), start(TimerLimit, 30*time.Second, 5)}},
		{"pending grant without a limit uses the default", pending, Input{Kind: Granted, Group: 7, Req: 5},
			nil, State{Phase: HasPermission, Group: 7, Req: 5, KeyDown: true, TalkLimit: 60 * time.Second},
			[]Action{stop(TimerResponse), tone(ToneGrant), capOn, start(TimerWarning, 55*time.Second, 5), start(TimerLimit, 60*time.Second, 5)}},
		{"pending grant unlimited when no default", pending, Input{Kind: Granted, Group: 7, Req: 5},
			&Config{ResponseTimeout: resp}, State{Phase: HasPermission, Group: 7, Req: 5, KeyDown: true},
			[]Action{stop(TimerResponse), tone(ToneGrant), capOn}},
		{"pending short limit has no warning", pending, Input{Kind: Granted, Group: 7, Req: 5, TalkTime: 3 * time.Second},
			nil, State{Phase: HasPermission, Group: 7, Req: 5, KeyDown: true, TalkLimit: 3 * time.Second},
			[]Action{stop(TimerResponse), tone(ToneGrant), capOn, start(TimerLimit, 3*time.Second, 5)}},
		{"pending stale grant is ignored", pending, Input{Kind: Granted, Group: 7, Req: 4}, nil, pending, nil},
		// Issue 13, item 6: a grant that names no request (or another one)
		// once opened the microphone while a request was pending.
		{"pending grant without req is ignored", pending, Input{Kind: Granted, Group: 7}, nil, pending, nil},
		{"pending grant for a later request is ignored", pending, Input{Kind: Granted, Group: 7, Req: 6}, nil, pending, nil},
		{"pending grant without group is ignored", pending, Input{Kind: Granted, Req: 5}, nil, pending, nil},
		{"pending deny without req is ignored", pending, Input{Kind: Denied, Group: 7, Cause: "taken"}, nil, pending, nil},
		{"pending queued without req is ignored", pending, Input{Kind: QueuedMsg, Group: 7, Position: 1}, nil, pending, nil},
		// Issue 13, item 6: talk_time 9223372037 s overflowed into a negative
		// limit, and no timer ended the burst.
		{"pending grant with a negative limit uses the default", pending, Input{Kind: Granted, Group: 7, Req: 5, TalkTime: -time.Second},
			nil, State{Phase: HasPermission, Group: 7, Req: 5, KeyDown: true, TalkLimit: 60 * time.Second},
			[]Action{stop(TimerResponse), tone(ToneGrant), capOn, start(TimerWarning, 55*time.Second, 5), start(TimerLimit, 60*time.Second, 5)}},
		{"pending grant beyond the cap is capped", pending, Input{Kind: Granted, Group: 7, Req: 5, TalkTime: 1 << 62},
			nil, State{Phase: HasPermission, Group: 7, Req: 5, KeyDown: true, TalkLimit: MaxTalkTime},
			[]Action{stop(TimerResponse), tone(ToneGrant), capOn, start(TimerWarning, MaxTalkTime-5*time.Second, 5), start(TimerLimit, MaxTalkTime, 5)}},
		{"pending grant for another group is ignored", pending, Input{Kind: Granted, Group: 8, Req: 5}, nil, pending, nil},
		{"pending deny", pending, Input{Kind: Denied, Group: 7, Req: 5, Cause: "taken"},
			nil, State{Group: 7, Req: 5, KeyDown: true, Cause: "taken"}, []Action{stop(TimerResponse), tone(ToneDeny)}},
		{"pending queued", pending, Input{Kind: QueuedMsg, Group: 7, Req: 5, Position: 1},
			nil, State{Phase: Queued, Group: 7, Req: 5, KeyDown: true, Position: 1}, []Action{stop(TimerResponse), tone(ToneQueued)}},
		{"pending key up releases", pending, Input{Kind: KeyRelease},
			nil, State{Phase: PendingRelease, Group: 7, Req: 5}, []Action{rel(7, 5), start(TimerResponse, resp, 5)}},
		{"pending repeated press is one request", pending, Input{Kind: KeyPress, Group: 7}, nil, pending, nil},
		{"pending timeout gives up and releases", pending, Input{Kind: TimerFired, Timer: TimerResponse, Req: 5},
			nil, State{Group: 7, Req: 5, KeyDown: true, Cause: "timeout"}, []Action{stop(TimerResponse), tone(ToneDeny), rel(7, 5)}},
		{"pending stale timeout is ignored", pending, Input{Kind: TimerFired, Timer: TimerResponse, Req: 4}, nil, pending, nil},
		{"pending cancel", pending, Input{Kind: Cancel},
			nil, State{Group: 7, Req: 5, KeyDown: true}, []Action{stop(TimerResponse), rel(7, 5)}},

		// queued
		{"queued grant", queued, Input{Kind: Granted, Group: 7, Req: 5, TalkTime: 10 * time.Second},
			nil, State{Phase: HasPermission, Group: 7, Req: 5, KeyDown: true, TalkLimit: 10 * time.Second},
			[]Action{stop(TimerResponse), tone(ToneGrant), capOn, start(TimerWarning, 5*time.Second, 5), start(TimerLimit, 10*time.Second, 5)}},
		{"queued grant without req is ignored", queued, Input{Kind: Granted, Group: 7}, nil, queued, nil},
		{"queued grant for another request is ignored", queued, Input{Kind: Granted, Group: 7, Req: 4}, nil, queued, nil},
		{"queued moves up silently", queued, Input{Kind: QueuedMsg, Group: 7, Req: 5, Position: 1},
			nil, State{Phase: Queued, Group: 7, Req: 5, KeyDown: true, Position: 1}, nil},
		{"queued key up leaves the queue", queued, Input{Kind: KeyRelease},
			nil, State{Group: 7, Req: 5}, []Action{stop(TimerResponse), rel(7, 5)}},
		{"queued deny", queued, Input{Kind: Denied, Group: 7, Req: 5, Cause: "muted"},
			nil, State{Group: 7, Req: 5, KeyDown: true, Cause: "muted"}, []Action{stop(TimerResponse), tone(ToneDeny)}},
		{"queued sees who talks", queued, Input{Kind: Taken, Group: 7, Speaker: "h3"},
			nil, State{Phase: Queued, Group: 7, Req: 5, KeyDown: true, Position: 2, Speaker: "h3"}, nil},

		// has permission
		{"talking key up stops and releases", talking, Input{Kind: KeyRelease},
			nil, State{Phase: PendingRelease, Group: 7, Req: 5},
			cat(stopTalk, []Action{rel(7, 5), start(TimerResponse, resp, 5)})},
		{"talking revoke", talking, Input{Kind: Revoked, Group: 7, Cause: "preempted"},
			nil, State{Phase: PendingRelease, Group: 7, Req: 5, KeyDown: true, Cause: "preempted"},
			cat(stopTalk, []Action{tone(ToneRevoke), rel(7, 5), start(TimerResponse, resp, 5)})},
		{"talking revoke of an earlier burst is ignored", talking, Input{Kind: Revoked, Group: 7, Req: 4, Cause: "preempted"}, nil, talking, nil},
		{"talking revoke of another group is ignored", talking, Input{Kind: Revoked, Group: 8, Cause: "preempted"}, nil, talking, nil},
		{"talking warning", talking, Input{Kind: TimerFired, Timer: TimerWarning, Req: 5}, nil, talking, []Action{tone(ToneWarning)}},
		{"talking limit ends the burst", talking, Input{Kind: TimerFired, Timer: TimerLimit, Req: 5},
			nil, State{Phase: PendingRelease, Group: 7, Req: 5, KeyDown: true, Cause: "talk-time"},
			cat(stopTalk, []Action{tone(ToneEnd), rel(7, 5), start(TimerResponse, resp, 5)})},
		{"talking stale limit is ignored", talking, Input{Kind: TimerFired, Timer: TimerLimit, Req: 4}, nil, talking, nil},
		{"talking duplicate grant is ignored", talking, Input{Kind: Granted, Group: 7, Req: 5}, nil, talking, nil},
		{"talking deny is ignored", talking, Input{Kind: Denied, Group: 7, Req: 5, Cause: "taken"}, nil, talking, nil},
		{"talking cancel", talking, Input{Kind: Cancel},
			nil, State{Group: 7, Req: 5, KeyDown: true}, cat(stopTalk, []Action{rel(7, 5)})},

		// pending release
		{"releasing idle completes", releasing, Input{Kind: FloorIdle, Group: 7}, nil, State{Group: 7, Req: 5}, []Action{stop(TimerResponse)}},
		{"releasing next speaker completes", releasing, Input{Kind: Taken, Group: 7, Speaker: "h2"},
			nil, State{Group: 7, Req: 5, Speaker: "h2"}, []Action{stop(TimerResponse)}},
		{"releasing timeout completes", releasing, Input{Kind: TimerFired, Timer: TimerResponse, Req: 5}, nil, State{Group: 7, Req: 5}, []Action{stop(TimerResponse)}},
		{"releasing press again requests anew", releasing, Input{Kind: KeyPress, Group: 7},
			nil, State{Phase: PendingRequest, Group: 7, Req: 6, KeyDown: true},
			[]Action{stop(TimerResponse), send(7, 6), start(TimerResponse, resp, 6)}},
		{"releasing late grant is ignored", releasing, Input{Kind: Granted, Group: 7, Req: 5}, nil, releasing, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				c = *tc.cfg
			}
			got, acts := Step(tc.from, tc.in, c)
			if got != tc.want {
				t.Errorf("state\n got %+v\nwant %+v", got, tc.want)
			}
			if !reflect.DeepEqual(acts, tc.acts) {
				t.Errorf("actions\n got %+v\nwant %+v", acts, tc.acts)
			}
		})
	}
}

// A whole burst: press, grant, warning, limit, idle — and the microphone is
// never left open.
func TestBurstSequence(t *testing.T) {
	var s State
	open := false
	feed := func(in Input) {
		var acts []Action
		s, acts = Step(s, in, cfg)
		for _, a := range acts {
			switch a.Kind {
			case StartCapture:
				if open {
					t.Fatal("capture started twice")
				}
				open = true
			case StopCapture:
				open = false
			}
		}
	}
	feed(Input{Kind: KeyPress, Group: 3})
	feed(Input{Kind: Granted, Group: 3, Req: 1, TalkTime: 20 * time.Second})
	if !open || s.Phase != HasPermission {
		t.Fatalf("after grant: %+v open=%v", s, open)
	}
	feed(Input{Kind: TimerFired, Timer: TimerLimit, Req: 1})
	feed(Input{Kind: FloorIdle, Group: 3})
	feed(Input{Kind: KeyRelease})
	if open || s.Phase != Idle || s.Cause != "talk-time" {
		t.Fatalf("end: %+v open=%v", s, open)
	}
}

func TestStrings(t *testing.T) {
	if PendingRelease.String() != "pending-release" || Phase(9).String() != "phase(9)" || ToneWarning.String() != "warning" {
		t.Fatal("names")
	}
}
