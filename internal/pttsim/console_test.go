package pttsim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	paho "github.com/eclipse/paho.mqtt.golang"
	"gopkg.in/hraban/opus.v2"

	"github.com/pttagent/pttagent/audio/ogg"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// consoleBench is a simulator with two handsets in one group, and an
// MQTT client that speaks for them as their agents would: presence,
// tracks, floor requests, recording reports.
type consoleBench struct {
	*simtest.Sim
	files string
	group int64
	mq    paho.Client
}

func startConsoleBench(t *testing.T) *consoleBench {
	t.Helper()
	embed := fmt.Sprintf("127.0.0.1:%d", mqtttest.FreePort(t))
	files := t.TempDir()
	s := simtest.Start(t, pttsim.Options{EmbedBroker: embed, FileDir: files})
	wf, err := pttsim.ParseWorld("bench.yaml", []byte(`
members:
  - {account: op, type: owner, password: op}
  - {account: unit-a, name: "Unit A", password: pw}
  - {account: unit-b, name: "Unit B", password: pw}
groups:
  - {name: Patrol, members: [op, unit-a, unit-b]}
`))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.ApplyWorld(wf)
	if err != nil {
		t.Fatal(err)
	}
	mq := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + embed).SetClientID("handsets"))
	if tok := mq.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt: %v", tok.Error())
	}
	t.Cleanup(func() { mq.Disconnect(50) })
	return &consoleBench{Sim: s, files: files, group: rep.Groups[0].ID, mq: mq}
}

func (b *consoleBench) publish(t *testing.T, topic string, retained bool, payload []byte) {
	t.Helper()
	if tok := b.mq.Publish(topic, 1, retained, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func (b *consoleBench) online(t *testing.T, acct string) {
	b.publish(t, wire.Topics{Prefix: "ptt", Account: acct}.Status(), true,
		wire.Presence{State: "online", Time: time.Now().Unix(), Version: "test"}.Encode())
}

// drive publishes n points of a straight drive north-east from lat, lon.
func (b *consoleBench) drive(t *testing.T, acct string, lat, lon float64, n int) {
	t.Helper()
	pts := make([]wire.Point, n)
	now := time.Now().Unix() - int64(n)*5
	for i := range pts {
		pts[i] = wire.Point{Seq: uint64(i + 1), Created: now + int64(i)*5, Latitude: lat + float64(i)*0.0004,
			Longitude: lon + float64(i)*0.0006, Speed: 36, Altitude: math.NaN(), Bearing: math.NaN(), HDOP: 1, Sats: 9, Mode: 3}
	}
	b.publish(t, wire.Topics{Prefix: "ptt", Account: acct}.Track(), false, wire.AppendTrackBatch(nil, pts))
	wait.For(t, 5*time.Second, acct+"'s points stored", func() bool { return len(b.Tracks(acct)) == n })
}

func (b *consoleBench) floor(t *testing.T, acct string, typ wire.FloorType, req uint32) {
	b.publish(t, wire.Topics{Prefix: "ptt", Account: acct}.FloorUp(), false,
		wire.Floor{V: 1, Type: typ, Group: b.group, Req: req}.Encode())
}

// record stores a talk burst as a handset does: a standard Ogg Opus file
// where file-upload puts it, then the report on the device's record topic.
func (b *consoleBench) record(t *testing.T, acct string, seconds int) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d_1.opus", acct, time.Now().UnixMilli())
	f, err := os.Create(filepath.Join(b.files, name))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := opus.NewEncoder(16000, 1, opus.AppVoIP)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ogg.NewWriter(f, ogg.Options{Serial: 7})
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 320)
	pkt := make([]byte, 400)
	for i := 0; i < seconds*50; i++ {
		for j := range pcm {
			pcm[j] = int16(8000 * math.Sin(2*math.Pi*440*float64(i*320+j)/16000))
		}
		n, err := enc.Encode(pcm, pkt)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(pkt[:n], 960); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	url := b.URL + "/files/" + name
	b.publish(t, wire.Topics{Prefix: "ptt", Account: acct}.Record(), false, wire.RecordReport{V: 1, Group: b.group, GroupName: "Patrol",
		Burst: 1, BeginMs: time.Now().UnixMilli() - int64(seconds)*1000, DurationMs: int64(seconds) * 1000, URL: url}.Encode())
	wait.For(t, 5*time.Second, "the recording stored", func() bool { return len(b.AudioRecords()) > 0 })
	return url
}

// The state behind the page: presence, active group, floor per device
// and per group, tracks, recordings with paths a remote browser can reach.
func TestConsoleState(t *testing.T) {
	b := startConsoleBench(t)
	st := b.ConsoleState()
	if len(st.Devices) != 2 || st.Devices[0].Presence != "unknown" || st.Devices[0].ActiveGroup != b.group {
		t.Fatalf("before any news: %+v (want two devices, presence unknown, active group their only one)", st.Devices)
	}
	b.online(t, "unit-a")
	b.drive(t, "unit-a", 48.137, 11.575, 5)
	b.floor(t, "unit-a", wire.FloorRequest, 1)
	wait.For(t, 5*time.Second, "unit-a online and talking", func() bool {
		st = b.ConsoleState()
		return st.Devices[0].Presence == "online" && st.Devices[0].Floor == "talking"
	})
	a, bb, g := st.Devices[0], st.Devices[1], st.Groups[0]
	if a.Account != "unit-a" || a.Points != 5 || a.Last == nil || math.Abs(a.Last.Lat-48.1386) > 1e-6 || a.Version != "test" {
		t.Errorf("unit-a: %+v %+v", a, a.Last)
	}
	if bb.Floor != "listening" || bb.Presence != "unknown" {
		t.Errorf("unit-b: floor %s presence %s, want listening (unit-a holds its group) and unknown", bb.Floor, bb.Presence)
	}
	if g.Holder != "unit-a" || strings.Join(g.Members, ",") != "op,unit-a,unit-b" {
		t.Errorf("group: %+v", g)
	}
	b.floor(t, "unit-b", wire.FloorRequest, 1)
	wait.For(t, 5*time.Second, "unit-b queued", func() bool {
		st = b.ConsoleState()
		return st.Devices[1].Floor == "queued" && len(st.Groups[0].Queue) == 1
	})
	if got := b.ConsoleTrack("unit-a", 3); len(got) != 3 || got[2].Lat != a.Last.Lat {
		t.Errorf("the last 3 points: %+v", got)
	}
	b.record(t, "unit-a", 1)
	st = b.ConsoleState()
	if len(st.Recordings) != 1 || !strings.HasPrefix(st.Recordings[0].URL, "/files/unit-a_") {
		t.Errorf("recordings %+v, want one at /files/… (the path, not the handset's view of the host)", st.Recordings)
	}
	// A device in two groups: its active group is the one its presence
	// names (agents that say it), else the one it last asked the floor of.
	ub, _ := b.MemberByNum("unit-b")
	g2, err := b.CreateGroup(pttsim.GroupSpec{Name: "Second", Members: []int64{ub.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if st := b.ConsoleState(); st.Devices[1].ActiveGroup != b.group {
		t.Errorf("unit-b asked the floor of %d: active group %d", b.group, st.Devices[1].ActiveGroup)
	}
	b.publish(t, wire.Topics{Prefix: "ptt", Account: "unit-b"}.Status(), true,
		[]byte(fmt.Sprintf(`{"state":"online","ts":1,"version":"test","group":%d}`, g2.ID)))
	wait.For(t, 5*time.Second, "unit-b's active group from its presence", func() bool {
		return b.ConsoleState().Devices[1].ActiveGroup == g2.ID
	})
	// Presence: the last will says offline; a cleared retained status
	// leaves nothing known.
	b.publish(t, wire.Topics{Prefix: "ptt", Account: "unit-a"}.Status(), true, wire.Presence{State: "offline"}.Encode())
	wait.For(t, 5*time.Second, "unit-a offline", func() bool { return b.ConsoleState().Devices[0].Presence == "offline" })
	b.publish(t, wire.Topics{Prefix: "ptt", Account: "unit-a"}.Status(), true, nil)
	wait.For(t, 5*time.Second, "unit-a's presence unknown", func() bool { return b.ConsoleState().Devices[0].Presence == "unknown" })
	// The page's own endpoints.
	for _, path := range []string{"/console/", "/console/console.js", "/console/console.css", "/console/api/state", "/console/api/track/unit-a"} {
		resp, err := http.Get(b.URL + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", path, err, resp)
			continue
		}
		resp.Body.Close()
	}
}

// chromium finds Debian's chromium (.ci/packages).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed (run .ci/deps)")
	return ""
}

// The console in a real headless Chromium, as an operator sees it: the
// devices and a track drawn, the floor changing live (pushed, no reload),
// a recording that plays, and an emergency alert a feature registers.
func TestConsoleInBrowser(t *testing.T) {
	exe := chromium(t)
	b := startConsoleBench(t)
	b.online(t, "unit-a")
	b.online(t, "unit-b")
	b.drive(t, "unit-a", 48.137, 11.575, 8)
	b.drive(t, "unit-b", 48.139, 11.571, 3)
	b.record(t, "unit-a", 2)
	t.Cleanup(pttsim.RegisterConsoleFeed("emergency", "Emergency alerts", func(*pttsim.Sim) []pttsim.ConsoleItem {
		return []pttsim.ConsoleItem{{Time: time.Now().UnixMilli(), Account: "unit-b", Title: "SOS", Text: "man down", Alert: true, Active: true}}
	}))

	// As root Chromium refuses to run without --no-sandbox; a fresh
	// profile and no background networking keep it off the internet.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Headless, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("mute-audio", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer cancel()
	t0 := time.Now()
	if err := chromedp.Do(bctx); err != nil { // the browser starts, on a context without a deadline
		t.Fatalf("starting %s: %v", exe, err)
	}
	t.Logf("chromium started in %v", time.Since(t0).Round(time.Millisecond))
	// Each step gets 20 s: a page that does not show what it should fails
	// with the step's name and the page as it was.
	step := func(what string) (context.Context, func()) {
		return context.WithTimeout(bctx, 20*time.Second)
	}
	fail := func(what string, err error) {
		t.Helper()
		html, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v\npage:\n%s", what, err, html)
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := step(what)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			fail(what, err)
		}
	}
	text := func(what, sel string) string {
		t.Helper()
		ctx, cancel := step(what)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			fail(what, err)
		}
		return v
	}
	attr := func(what, sel, name string) string {
		t.Helper()
		ctx, cancel := step(what)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
		if err != nil {
			fail(what, err)
		}
		return v.Value
	}
	eval := func(what, js string, out any) {
		t.Helper()
		ctx, cancel := step(what)
		defer cancel()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](js, chromedp.EvalAwaitPromise))
		if err == nil {
			err = json.Unmarshal(raw, out)
		}
		if err != nil {
			fail(what, err)
		}
	}
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	ready := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitReady(chromedp.CSS(sel)) }

	start := time.Now()
	do("the page loads with the devices", chromedp.Navigate(b.URL+"/console"),
		visible(`#devices tr[data-account="unit-a"] .presence.online`),
		visible(`#devices tr[data-account="unit-b"] .presence.online`),
		visible(`#link[data-state="live"]`))
	if name := text("the device's name", `#devices tr[data-account="unit-a"] .name`); name != "Unit A" {
		t.Errorf("unit-a shown as %q", name)
	}

	// Tracks: a polyline per device with every point, and where each is.
	do("unit-a's track drawn", ready(`#tracks polyline[data-account="unit-a"]`))
	points := attr("unit-a's track", `#tracks polyline[data-account="unit-a"]`, "points")
	xy := strings.Fields(points)
	if len(xy) != 8 {
		t.Fatalf("unit-a's polyline has %d points, want 8: %q", len(xy), points)
	}
	var x0, y0, x7, y7 float64
	fmt.Sscanf(xy[0], "%f,%f", &x0, &y0)
	fmt.Sscanf(xy[7], "%f,%f", &x7, &y7)
	if !(x7 > x0 && y7 < y0) {
		t.Errorf("a drive north-east drawn from %v,%v to %v,%v: want right and up", x0, y0, x7, y7)
	}
	var marks int
	eval("position marks", `document.querySelectorAll('#marks circle.pos').length`, &marks)
	if marks != 2 {
		t.Errorf("%d position marks, want 2", marks)
	}

	// The floor, live: the page changes without a reload when unit-a
	// takes the floor and when it lets go.
	taken := time.Now()
	b.floor(t, "unit-a", wire.FloorRequest, 1)
	gsel := fmt.Sprintf(`.group[data-group="%d"]`, b.group)
	do("the floor taken, live", visible(gsel+` .floor[data-holder="unit-a"]`),
		visible(`#devices tr[data-account="unit-a"] .badge.talking`),
		visible(`#devices tr[data-account="unit-b"] .badge.listening`))
	seen := time.Since(taken)
	if h := text("who talks", gsel+" .floor .holder"); h != "Unit A" {
		t.Errorf("the floor's holder shown as %q", h)
	}
	b.floor(t, "unit-a", wire.FloorRelease, 1)
	do("the floor idle again", visible(gsel+` .floor[data-holder=""]`),
		visible(`#devices tr[data-account="unit-b"] .badge.idle`))
	var navigations int
	eval("no reload", `performance.getEntriesByType("navigation").length`, &navigations)
	if navigations != 1 {
		t.Errorf("%d navigations: the page reloaded instead of updating", navigations)
	}

	// The recording: Chromium fetches the Ogg Opus file, knows its length
	// and plays it.
	var media struct {
		CanPlay  string  `json:"canPlay"`
		Duration float64 `json:"duration"`
		Played   float64 `json:"played"`
		Error    string  `json:"error"`
	}
	eval("the recording plays", `(async () => {
		const a = document.querySelector('#recordings audio');
		if (!a) return {error: "no audio element"};
		const canPlay = a.canPlayType('audio/ogg; codecs="opus"');
		if (a.readyState < 1) await new Promise((ok, fail) => { a.onloadedmetadata = ok; a.onerror = () => fail(new Error("media error " + (a.error && a.error.code))); });
		try { await a.play(); } catch (e) { return {canPlay, duration: a.duration, error: String(e)}; }
		// Played: its clock moves (however slowly the machine is going).
		await new Promise((ok) => { const moved = () => { if (a.currentTime > 0) ok(); }; a.addEventListener("timeupdate", moved); moved(); });
		return {canPlay, duration: a.duration, played: a.currentTime};
	})()`, &media)
	if media.Error != "" || media.CanPlay == "" || math.Abs(media.Duration-2) > 0.1 || media.Played <= 0 {
		t.Errorf("the recording in the browser: %+v; want it playable, 2 s long, played", media)
	}

	// A feed registered by a feature: its panel, and an active alert in the
	// banner and on the map, at the device's last position.
	do("the alert", visible(`#alerts`), ready(`#marks circle.alert`), ready(`section[data-feed="emergency"] li.alert`))
	if banner := text("the alert banner", `#alerts`); !strings.Contains(banner, "SOS") || !strings.Contains(banner, "Unit B") {
		t.Errorf("alert banner %q, want SOS and Unit B", banner)
	}
	// PTTSIM_CONSOLE_SCREENSHOT=FILE.png keeps a picture of the page.
	if out := os.Getenv("PTTSIM_CONSOLE_SCREENSHOT"); out != "" {
		do("the viewport", chromedp.EmulateViewport(1400, 900))
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(out, png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
	t.Logf("console: loaded and checked in %v; a floor change reached the page in %v; recording %+v",
		time.Since(start).Round(time.Millisecond), seen.Round(time.Millisecond), media)
}

// The stream sends the state at once and again on a change, not
// otherwise.
func TestConsoleEvents(t *testing.T) {
	b := startConsoleBench(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.URL+"/console/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan pttsim.ConsoleState, 10)
	go func() {
		buf := make([]byte, 1<<20)
		var pending string
		for {
			n, err := resp.Body.Read(buf)
			pending += string(buf[:n])
			for {
				i := strings.Index(pending, "\n\n")
				if i < 0 {
					break
				}
				msg := pending[:i]
				pending = pending[i+2:]
				if data, ok := strings.CutPrefix(msg, "event: state\ndata: "); ok {
					var st pttsim.ConsoleState
					if json.Unmarshal([]byte(data), &st) == nil {
						events <- st
					}
				}
			}
			if err != nil {
				close(events)
				return
			}
		}
	}()
	first := <-events
	if len(first.Devices) != 2 {
		t.Fatalf("first event: %+v", first)
	}
	select {
	case st := <-events:
		t.Fatalf("an event without a change: %+v", st)
	case <-time.After(600 * time.Millisecond): // three looks at the state
	}
	b.floor(t, "unit-b", wire.FloorRequest, 1)
	select {
	case st := <-events:
		if st.Groups[0].Holder != "unit-b" {
			t.Errorf("after the request: holder %q", st.Groups[0].Holder)
		}
	case <-ctx.Done():
		t.Fatal("no event after the floor changed")
	}
}

// What one look at a large bench costs: /console/events takes one every
// 200 ms per open page. 200 devices with 1000 points each, 20 groups of
// 30, 100 recordings, a full floor log.
func BenchmarkConsoleState(b *testing.B) {
	s, err := pttsim.New(pttsim.Options{FileDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	var spec strings.Builder
	spec.WriteString("members:\n  - {account: op, type: owner, password: op}\n")
	for i := range 200 {
		fmt.Fprintf(&spec, "  - {account: d%03d, password: pw}\n", i)
	}
	spec.WriteString("groups:\n")
	for g := range 20 {
		fmt.Fprintf(&spec, "  - name: G%d\n    members: [op", g)
		for i := range 30 {
			fmt.Fprintf(&spec, ", d%03d", (g*10+i)%200)
		}
		spec.WriteString("]\n")
	}
	wf, err := pttsim.ParseWorld("bench.yaml", []byte(spec.String()))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.ApplyWorld(wf); err != nil {
		b.Fatal(err)
	}
	for _, m := range s.Members() {
		pts := make([]wire.Point, 1000)
		for i := range pts {
			pts[i] = wire.Point{Seq: uint64(i + 1), Created: int64(i), Latitude: 48, Longitude: 11, Speed: math.NaN()}
		}
		s.StoreTrackForTest(m.Num, pts)
	}
	for i := range 100 {
		s.AppendAudioRecord(pttsim.AudioRecord{Account: "d001", BeginTime: int64(i), FileURL: "http://x/files/a.opus"})
	}
	b.Run("state", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if st := s.ConsoleState(); len(st.Devices) != 200 {
				b.Fatal(len(st.Devices))
			}
		}
	})
	// What the event stream does each 200 ms: look, encode, compare.
	b.Run("state+json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(s.ConsoleState()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
