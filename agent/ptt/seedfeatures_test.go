package ptt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/agent/ptt/ptttest"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/ogg"
	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/wire"
)

// The seed features a handset user meets (issue 10 items 4–8, issue 13
// item 5), on fakes: texts cut before they are spoken, notices, missed
// messages, the platform taking the handset out of service, who is
// online.

// logBuffer keeps push-to-talk's log for a test.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

func withLog(l *logBuffer) func(*rig, *ptt.Options, *ptt.Parts) {
	return func(_ *rig, o *ptt.Options, _ *ptt.Parts) { o.Logger = slog.New(slog.NewTextHandler(l, nil)) }
}

func textMessage(id, group int64, from, text string) wire.Event {
	var m wire.GroupMessage
	m.Group.ID = group
	m.User.Name = from
	m.Message.MsgID, m.Message.Created = id, time.Now().Unix()
	m.Message.Content, _ = json.Marshal(text)
	b, _ := json.Marshal(m)
	return wire.Event{MsgID: id + 1, MsgType: wire.EventGroupMessage, Content: b}
}

// A 120 KB text message is read cut to MaxSpokenText characters, and the
// prompt says it was cut; the log keeps a few hundred bytes of it. (Before
// the bound the whole text went to espeak-ng and into the log.)
func TestLongTextIsCutAndSaidSo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log logBuffer
		r := start(t, withLog(&log))
		huge := strings.Repeat("Gate three is open and the harbour road is closed. ", 120<<10/51)
		r.p.OnEvent(textMessage(1, patrol, "Dispatch", huge))
		r.settle()
		said := r.voice.Said()
		if len(said) != 1 {
			t.Fatalf("said %d prompts", len(said))
		}
		if n := len([]rune(said[0])); n > ptt.DefaultMaxSpokenText+60 || !strings.HasSuffix(said[0], ". Message truncated") ||
			!strings.HasPrefix(said[0], "Message from Dispatch. Gate three is open") {
			t.Errorf("said %d characters: %.80q … %.40q", n, said[0], said[0][max(0, len(said[0])-40):])
		}
		for _, l := range log.lines() {
			if len(l) > 1024 {
				t.Errorf("a log line of %d bytes: %.100s…", len(l), l)
			}
		}
		if s := r.status(); s.TextsCut != 1 || s.TextMessages != 1 {
			t.Errorf("status: %d texts cut, %d messages", s.TextsCut, s.TextMessages)
		}
		// A short message is read whole, without the remark.
		r.p.OnEvent(textMessage(3, patrol, "Dispatch", "Gate three is open"))
		r.settle()
		if said := r.voice.Said(); said[len(said)-1] != "Message from Dispatch. Gate three is open" {
			t.Errorf("said %q", said[len(said)-1])
		}
	})
}

func noticeEvent(id int64, title, content string) wire.Event {
	b, _ := json.Marshal(wire.Notice{ID: id, Time: time.Now().Unix(), From: wire.NoticeFrom{ID: 9, Name: "Dispatch"},
		Title: title, Content: content, Accessory: []wire.NoticeAttachment{{Name: "map.pdf", URL: "https://p/files/map.pdf"}}})
	return wire.Event{MsgID: 100 + id, MsgType: wire.EventNotice, Content: b}
}

// A notice is read when tts is on, announced by the notice tone when it
// is off, and the last ones show in status.
func TestNotices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t, func(_ *rig, o *ptt.Options, _ *ptt.Parts) { o.Notices = 2 })
		if !r.p.OnEvent(noticeEvent(1, "Storm warning", "All units return to base by six")) {
			t.Fatal("push-to-talk did not take the notice")
		}
		if r.p.OnEvent(wire.Event{MsgID: 5, MsgType: wire.EventNotice, Content: json.RawMessage(`{"from":{"id":1}}`)}) != true {
			t.Error("a notice without title or content is push-to-talk's to drop")
		}
		r.settle()
		if said := r.voice.Said(); !slices.Equal(said, []string{"Notice from Dispatch. Storm warning. All units return to base by six"}) {
			t.Errorf("said %q", said)
		}
		m := testModel()
		m.Self.TTS = false
		r.models.Set(m)
		r.settle()
		r.p.OnEvent(noticeEvent(2, "Road closed", "Use the ring road"))
		r.p.OnEvent(noticeEvent(3, "Road open", "The harbour road is open again"))
		r.sleep(2 * time.Second)
		if said := r.voice.Said(); len(said) != 1 {
			t.Errorf("tts off, yet said %q", said[1:])
		}
		if !r.played(tone(t, audio.ToneNotice)) {
			t.Error("tts off: no notice tone")
		}
		s := r.status()
		if s.NoticesReceived != 3 || len(s.Notices) != 2 || s.Notices[0].Title != "Road closed" || s.Notices[1].Title != "Road open" ||
			s.Notices[1].From != "Dispatch" || !slices.Equal(s.Notices[1].Attachments, []string{"map.pdf"}) {
			t.Errorf("status notices: %d received, %+v", s.NoticesReceived, s.Notices)
		}
	})
}

// withdrawn is testModel with the member's state and terminal changed.
func withdrawn(state platform.State, device platform.DeviceState) *platform.Model {
	m := testModel()
	m.Self.State, m.Self.Device = state, device
	return m
}

// A handset the platform takes out of service says why, refuses the PTT
// key without asking, leaves a floor it holds, stops listening — and
// comes back by itself when the platform gives it back.
func TestOutOfServiceAndBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := start(t)
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted})
		if r.status().Floor != "has-permission" {
			t.Fatalf("floor %s", r.status().Floor)
		}
		r.models.Set(withdrawn(platform.StateEnabled, platform.DeviceRepair))
		r.settle()
		s := r.status()
		if s.Floor != "idle" || !strings.Contains(s.Withdrawn, "repair") {
			t.Errorf("in repair while talking: floor %s, withdrawn %q", s.Floor, s.Withdrawn)
		}
		r.release(board.PTT)
		requests := len(r.floorUp())
		r.tap(board.PTT)
		if n := len(r.floorUp()); n != requests || r.status().LocalDenies == 0 {
			t.Errorf("a press out of service sent %d floor messages", n-requests)
		}
		if r.link.Deliver(wire.GroupVoice("ptt", patrol, "other"), []byte("x")); r.status().VoiceReceived != 0 {
			t.Error("voice played out of service")
		}
		for _, c := range []struct {
			state platform.State
			want  string
		}{
			{platform.StateStunned, "stunned"}, {platform.StateKilled, "killed"}, {platform.StateDisabled, "disabled"},
			{platform.StateDeleted, "deleted"},
		} {
			r.models.Set(withdrawn(c.state, ""))
			r.settle()
			if s := r.status(); !strings.Contains(s.Withdrawn, c.want) {
				t.Errorf("state %s: withdrawn %q", c.state, s.Withdrawn)
			}
		}
		r.models.Set(testModel())
		r.settle()
		said := r.voice.Said()
		want := []string{"This handset is out of service: the terminal was sent to repair",
			"This handset is out of service: the user was stunned", "This handset is out of service: the user was killed",
			"This handset is out of service: the user was disabled", "This handset is out of service: the member was deleted",
			"This handset is back in service"}
		if !slices.Equal(said, want) {
			t.Errorf("said %q\nwant %q", said, want)
		}
		if r.status().Withdrawn != "" {
			t.Error("back in service, status still says withdrawn")
		}
		r.press(board.PTT)
		if n := len(r.floorUp()); n != requests+1 {
			t.Error("back in service, a press asks for no floor")
		}
		r.release(board.PTT)
	})
}

// history is a platform history on fakes, with one voice recording.
type history struct {
	*ptttest.History
	clip []byte // an Ogg Opus file of one second of tone
}

func newHistory(t *testing.T) *history {
	return &history{History: ptttest.NewHistory(), clip: oggTone(t, time.Second)}
}

// oggTone is d of tone as a recording (made outside any bubble: it only
// encodes).
func oggTone(t *testing.T, d time.Duration) []byte {
	t.Helper()
	enc, err := audio.NewEncoder(audio.EncoderConfig{Bitrate: 20000, Complexity: 5})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := newOggWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	pcm := sine(d)
	buf := make([]byte, wire.MaxOpusFrame)
	for i := 0; i+audio.FrameSamples <= len(pcm); i += audio.FrameSamples {
		n, err := enc.Encode(pcm[i:i+audio.FrameSamples], buf)
		if err != nil {
			t.Fatal(err)
		}
		w.WritePacket(buf[:n], 960)
	}
	w.Close()
	return b.Bytes()
}

func (h *history) text(id, group, from int64, name, text string, created time.Time) {
	h.Add(platform.Message{ID: id, Group: group, From: from, FromName: name, Created: created, Type: platform.MessageText, Text: text})
}

func (h *history) voice(id, group, from int64, name string, created time.Time) {
	url := "/files/" + name + ".opus"
	h.AddFile(url, h.clip)
	h.Add(platform.Message{ID: id, Group: group, From: from, FromName: name, Created: created, Type: platform.MessageVoice,
		VoiceURL: url, VoiceDuration: time.Second})
}

func withHistory(h *history, dir string, count int) func(*rig, *ptt.Options, *ptt.Parts) {
	return func(_ *rig, o *ptt.Options, p *ptt.Parts) {
		p.History = h
		o.StateDir = dir
		o.Missed = ptt.Missed{Count: count, MaxAge: 24 * time.Hour, Voice: true}
	}
}

// Messages sent while the handset was offline are caught up when the link
// is back: the newest few, oldest first, texts read and voice played,
// each with its sender and age; its own and other types are left out.
// Nothing is caught up twice, across a restart either.
func TestMissedMessagesAfterReconnect(t *testing.T) {
	h := newHistory(t)
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		r := start(t, withHistory(h, dir, 3))
		if said := r.voice.Said(); len(said) != 0 {
			t.Fatalf("a first start caught up %q: nothing was missed before the handset knew its groups", said)
		}
		r.link.SetUp(false)
		r.settle()
		time.Sleep(10 * time.Minute)
		now := time.Now()
		h.text(11, patrol, 5, "Dispatch", "Too old to be among the newest three", now.Add(-6*time.Minute))
		h.text(12, patrol, 5, "Dispatch", "Gate three is open", now.Add(-5*time.Minute))
		h.text(13, patrol, 1, "Me", "my own", now.Add(-4*time.Minute))
		h.Add(platform.Message{ID: 14, Group: patrol, From: 5, Created: now.Add(-4 * time.Minute), Type: 1}) // an image
		h.voice(15, patrol, 6, "Unit 6", now.Add(-3*time.Minute))
		h.text(16, patrol, 5, "Dispatch", "Ferry late", now.Add(-2*time.Minute))
		h.text(17, harbour, 5, "Dispatch", "for the other group", now.Add(-2*time.Minute))
		r.link.SetUp(true)
		r.settle()
		want := []string{"3 missed messages in Patrol", "From Dispatch, 5 minutes ago. Gate three is open",
			"Voice message from Unit 6, 3 minutes ago", "<clip 16000 samples>", "From Dispatch, 2 minutes ago. Ferry late"}
		if said := r.voice.Said(); !slices.Equal(said, want) {
			t.Errorf("said %q\nwant %q", said, want)
		}
		if clips := r.voice.Clips(); len(clips) != 1 || !heardTone(clips[0]) {
			t.Error("the missed voice message is not the recording")
		}
		if m := r.status().Missed; m.Texts != 2 || m.Voice != 1 || m.CatchUps != 2 {
			t.Errorf("status %+v", m)
		}
		// Reconnecting again brings nothing new; a restart neither.
		r.link.SetUp(false)
		r.settle()
		r.link.SetUp(true)
		r.settle()
		r.stop()
		r2 := start(t, withHistory(h, dir, 3))
		if said := r.voice.Said(); len(said) != len(want) || len(r2.voice.Said()) != 0 {
			t.Errorf("caught up again: %q, after the restart %q", said[len(want):], r2.voice.Said())
		}
		// What came while it was off is caught up once.
		r2.stop()
		time.Sleep(time.Minute)
		h.text(18, patrol, 5, "Dispatch", "While you were off", time.Now().Add(-30*time.Second))
		r3 := start(t, withHistory(h, dir, 3))
		if said := r3.voice.Said(); !slices.Equal(said, []string{"One missed message in Patrol", "From Dispatch, just now. While you were off"}) {
			t.Errorf("after a restart: said %q", said)
		}
	})
}

// heardTone reports whether a decoded clip is the tone recorded (Opus
// keeps it close; the codec's delay shifts it a little).
func heardTone(clip []int16) bool {
	want := sine(time.Second)
	best := 0.0
	for lag := 0; lag < 400; lag++ {
		var xy, xx, yy float64
		for i := 2000; i < 14000; i++ {
			x, y := float64(want[i]), float64(clip[i+lag])
			xy, xx, yy = xy+x*y, xx+x*x, yy+y*y
		}
		if c := xy / (1 + sqrt(xx*yy)); c > best {
			best = c
		}
	}
	return best > 0.9
}

// Messages of a group the handset was not listening to are caught up
// when the user switches to it; live messages read are not brought again,
// nor is voice heard live.
func TestMissedMessagesOfAnotherGroupAndLiveOnes(t *testing.T) {
	h := newHistory(t)
	synctest.Test(t, func(t *testing.T) {
		r := start(t, withHistory(h, t.TempDir(), 5))
		time.Sleep(time.Minute)
		// Live in Patrol: a text read, and a burst heard (floor taken, idle).
		h.text(20, patrol, 5, "Dispatch", "Live text", time.Now())
		r.p.OnEvent(textMessage(20, patrol, "Dispatch", "Live text"))
		r.settle()
		time.Sleep(5 * time.Second)
		h.voice(21, patrol, 6, "Unit 6", time.Now())
		r.arbiter(wire.Floor{Type: wire.FloorTaken, Speaker: "u6", TimeMs: time.Now().UnixMilli()})
		time.Sleep(3 * time.Second)
		r.arbiter(wire.Floor{Type: wire.FloorIdle, TimeMs: time.Now().UnixMilli()})
		// Meanwhile in Harbour.
		h.text(22, harbour, 5, "Dispatch", "Harbour closes at six", time.Now().Add(-time.Second))
		r.tap(board.GroupUp)
		r.settle()
		want := []string{"Message from Dispatch. Live text", "Harbour", "One missed message in Harbour",
			"From Dispatch, just now. Harbour closes at six"}
		if said := r.voice.Said(); !slices.Equal(said, want) {
			t.Errorf("said %q\nwant %q", said, want)
		}
		// Back to Patrol: the live text and the burst were heard.
		r.tap(board.GroupDown)
		r.settle()
		if said := r.voice.Said(); !slices.Equal(said[len(want):], []string{"Patrol"}) {
			t.Errorf("back in Patrol: said %q", said[len(want):])
		}
		// A text read live is not brought again either.
		time.Sleep(5 * time.Second)
		h.text(25, patrol, 5, "Dispatch", "Second live text", time.Now())
		r.p.OnEvent(textMessage(25, patrol, "Dispatch", "Second live text"))
		r.settle()
		r.tap(board.GroupUp)
		r.tap(board.GroupDown)
		r.settle()
		if said := r.voice.Said(); !slices.Equal(said[len(want)+1:], []string{"Message from Dispatch. Second live text", "Harbour", "Patrol"}) {
			t.Errorf("after a live text: said %q", said[len(want)+1:])
		}
	})
}

// A platform that cannot answer is asked again while the group is
// listened to; nothing is lost meanwhile.
func TestMissedMessagesRetried(t *testing.T) {
	h := newHistory(t)
	synctest.Test(t, func(t *testing.T) {
		r := start(t, withHistory(h, t.TempDir(), 3))
		r.link.SetUp(false)
		r.settle()
		time.Sleep(time.Minute)
		h.text(30, patrol, 5, "Dispatch", "During the outage", time.Now())
		h.Fail(errPlatformDown)
		time.Sleep(time.Second)
		r.link.SetUp(true)
		r.settle()
		if m := r.status().Missed; m.Failures != 1 || m.LastError == "" {
			t.Errorf("status %+v", m)
		}
		h.Fail(nil)
		r.sleep(15 * time.Second)
		if said := r.voice.Said(); !slices.Equal(said, []string{"One missed message in Patrol", "From Dispatch, just now. During the outage"}) {
			t.Errorf("said %q", said)
		}
	})
}

// On a switch the handset says the group's name and how many others are
// online; status lists them, and who listens to the group.
func TestGroupSwitchSaysWhoIsOnline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ro := ptttest.NewRoster()
		m := testModel()
		m.Groups[1].Members = []platform.Member{{ID: 1, Name: "Me"}, {ID: 5, Name: "Dispatch"}, {ID: 6, Name: "Unit 6"},
			{ID: 7, Account: "u7"}}
		ro.Set(1, true, harbour)
		ro.Set(5, true, harbour)
		ro.Set(7, true, patrol)
		r := start(t, func(r *rig, _ *ptt.Options, p *ptt.Parts) { p.Roster = ro; r.models.Set(m) })
		r.tap(board.GroupUp)
		r.settle()
		if said := r.voice.Said(); !slices.Equal(said, []string{"Harbour, 2 others online"}) {
			t.Errorf("said %q", said)
		}
		on := r.status().Online
		if on == nil || on.Group != harbour || !slices.Equal(on.Members, []string{"Dispatch", "u7"}) || !slices.Equal(on.Listening, []string{"Dispatch"}) {
			t.Errorf("status online %+v", on)
		}
		// Refreshed while the link is up.
		ro.Set(6, true, harbour)
		r.sleep(3 * time.Minute)
		if on := r.status().Online; len(on.Members) != 3 {
			t.Errorf("after a while: %+v", on)
		}
		// A platform that does not answer: the name alone, at once.
		ro.Fail(errPlatformDown)
		r.tap(board.GroupDown)
		r.tap(board.GroupUp)
		r.settle()
		if said := r.voice.Said(); !slices.Equal(said[1:], []string{"Patrol", "Harbour"}) {
			t.Errorf("without an answer: said %q", said[1:])
		}
	})
}

// While voice flows the handset asks nothing that can wait: the roster's
// refresh falls due mid-burst and goes after it, and the agent hears
// when voice flows (for the platform sync, agent/radio.go).
func TestRosterWaitsForTheVoice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ro := ptttest.NewRoster()
		var mu sync.Mutex
		var flows []bool
		r := start(t, func(r *rig, _ *ptt.Options, p *ptt.Parts) {
			p.Roster = ro
			p.VoiceFlows = func(on bool) { mu.Lock(); flows = append(flows, on); mu.Unlock() }
		})
		r.settle()
		asked := ro.Calls()
		if asked == 0 {
			t.Fatal("no roster asked when the handset began listening")
		}
		// Talk from 1 min 50 s to 2 min 20 s: the refresh is due at 2 min.
		r.sleep(110 * time.Second)
		r.press(board.PTT)
		r.arbiter(wire.Floor{Type: wire.FloorGranted})
		r.sleep(25 * time.Second)
		if n := ro.Calls(); n != asked {
			t.Errorf("roster asked %d times while talking", n-asked)
		}
		r.release(board.PTT)
		r.sleep(10 * time.Second)
		if n := ro.Calls(); n != asked+1 {
			t.Errorf("roster asked %d times after the burst, want 1", n-asked)
		}
		// Hearing a burst: the same.
		r.arbiter(wire.Floor{Type: wire.FloorTaken, Speaker: "other", TimeMs: time.Now().UnixMilli()})
		for _, pkt := range burst(t, 0x5eed, time.Second) {
			r.link.Deliver(wire.GroupVoice("ptt", patrol, "other"), pkt)
			time.Sleep(3 * audio.FrameDuration)
		}
		r.sleep(time.Second)
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(flows, []bool{true, false, true, false}) {
			t.Errorf("VoiceFlows heard %v, want [true false true false]: talk, then a burst heard", flows)
		}
	})
}

var errPlatformDown = errors.New("platform down")

func newOggWriter(w io.Writer) (*ogg.Writer, error) { return ogg.NewWriter(w, ogg.Options{Serial: 1}) }

func sqrt(v float64) float64 { return math.Sqrt(v) }
