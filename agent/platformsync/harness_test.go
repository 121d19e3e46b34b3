package platformsync_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pttagent/pttagent/agent/platformsync"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/httpapi/corp"
	"github.com/pttagent/pttagent/uplink/httpapi/wapi"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// lab is a real broker, the simulator, an operator, and one device in
// one group ("Patrol", with the operator) and not in another ("Other").
type lab struct {
	broker        *mqtttest.Broker
	sim           *simtest.Sim
	op            *simtest.Operator
	dev, admin    pttsim.Member
	patrol, other pttsim.Group
}

const devAccount, devPassword = "dev-1", "s3cret"

func newLab(t *testing.T, o pttsim.Options) *lab {
	t.Helper()
	l := &lab{broker: mqtttest.Start(t, mqtttest.Options{})}
	o.Broker = l.broker.URL()
	l.sim = simtest.Start(t, o)
	var err error
	if l.admin, err = l.sim.AddMember(pttsim.MemberSpec{Num: "admin", Name: "Operator", Password: "admin", Type: pttsim.TypeOwner}); err != nil {
		t.Fatal(err)
	}
	if l.dev, err = l.sim.AddMember(pttsim.MemberSpec{Num: devAccount, Name: "Patrol 1", Password: devPassword, Type: pttsim.TypeDevice,
		LocShare: 1, Track: 1}); err != nil {
		t.Fatal(err)
	}
	if l.patrol, err = l.sim.CreateGroup(pttsim.GroupSpec{Name: "Patrol", Creator: l.admin.ID, Members: []int64{l.admin.ID, l.dev.ID}}); err != nil {
		t.Fatal(err)
	}
	if l.other, err = l.sim.CreateGroup(pttsim.GroupSpec{Name: "Other", Creator: l.admin.ID, Members: []int64{l.admin.ID}}); err != nil {
		t.Fatal(err)
	}
	l.op = l.sim.Login(t, "admin", "admin")
	return l
}

type hsOptions struct {
	dialect string // corp (default) or wapi
	// wapiLogin logs a wapi handset in with POST /wapi/user/login;
	// otherwise it uses a token the simulator issues, as an operator would.
	wapiLogin bool
	events    bool
	poll      time.Duration
	// fullRefresh is the engine's FullRefresh; 0: an hour, so that only
	// the first fetch is full unless a test asks.
	fullRefresh time.Duration
	stateDir    string
	baseURL     string        // default: the simulator
	timeout     time.Duration // per request
	onChange    func(old, new *platform.Model)
	onEvent     func(ev wire.Event) bool
}

// handset is the agent's sync side: its own MQTT connection, a platform
// client and the engine, as agent.New wires them.
type handset struct {
	e      *platformsync.Engine
	corp   *corp.Client
	wapi   *wapi.Client
	stop   func()
	topics wire.Topics
}

func quiet() *slog.Logger {
	if os.Getenv("SYNC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startHandset(t *testing.T, l *lab, o hsOptions) *handset {
	t.Helper()
	if o.dialect == "" {
		o.dialect = "corp"
	}
	if o.poll == 0 {
		o.poll = time.Hour
	}
	if o.stateDir == "" {
		o.stateDir = t.TempDir()
	}
	if o.baseURL == "" {
		o.baseURL = l.sim.URL
	}
	if o.timeout == 0 {
		o.timeout = 5 * time.Second
	}
	log := quiet()
	h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: o.baseURL, Timeout: o.timeout, Attempts: 2, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h.BackoffMin, h.BackoffMax = 50*time.Millisecond, 200*time.Millisecond
	hs := &handset{topics: wire.Topics{Prefix: "ptt", Account: devAccount}}
	var client platform.Client
	if o.dialect == "wapi" {
		hs.wapi = &wapi.Client{HTTP: h, Account: devAccount, Login: o.wapiLogin, Password: corp.HashPassword(devPassword), Logger: log}
		if !o.wapiLogin {
			if hs.wapi.Token, err = l.sim.IssueToken(devAccount); err != nil {
				t.Fatal(err)
			}
		}
		client = hs.wapi
	} else {
		hs.corp = &corp.Client{HTTP: h, Account: devAccount, Password: corp.HashPassword(devPassword), Method: corp.LoginByName, Logger: log}
		client = hs.corp
	}
	mq := mqtt.New(mqtt.Options{Brokers: []string{l.broker.URL()}, ClientID: devAccount, KeepAlive: 10 * time.Second,
		ConnectTimeout: 3 * time.Second, ReconnectMin: 100 * time.Millisecond, ReconnectMax: 500 * time.Millisecond, Logger: log})
	hs.e = &platformsync.Engine{Client: client, Dialect: o.dialect, Account: devAccount, StatePath: filepath.Join(o.stateDir, "platform.json"),
		Poll: o.poll, FullRefresh: o.fullRefresh, MQTT: mq, Logger: log, OnChange: o.onChange, OnEvent: o.onEvent}
	if o.events {
		hs.e.EventTopic = hs.topics.Event()
	}
	hs.e.Load() // as agent.New does: the persisted model before anything runs
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { mq.Run(ctx); done <- struct{}{} }()
	go func() { hs.e.Run(ctx); done <- struct{}{} }()
	stopped := false
	hs.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			<-done
		}
	}
	t.Cleanup(hs.stop)
	if o.events {
		waitFor(t, 10*time.Second, "the handset's MQTT connection", func() bool { up, _ := mq.State(); return up })
	}
	return hs
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitModel waits until the engine's model satisfies cond.
func (hs *handset) waitModel(t *testing.T, d time.Duration, what string, cond func(m *platform.Model) bool) *platform.Model {
	t.Helper()
	var m *platform.Model
	waitFor(t, d, what, func() bool {
		m = hs.e.Model()
		return m != nil && cond(m)
	})
	return m
}

// synced waits for the first successful fetch.
func (hs *handset) synced(t *testing.T) *platform.Model {
	t.Helper()
	return hs.waitModel(t, 10*time.Second, "the first sync", func(m *platform.Model) bool { return !hs.e.Stats().LastSync.IsZero() })
}

// eventsLive waits until the handset's event subscription is in place, by
// sending harmless events (a group that is not the handset's) until one
// arrives.
func (hs *handset) eventsLive(t *testing.T, l *lab) {
	t.Helper()
	id := int64(9_000_000_000)
	waitFor(t, 10*time.Second, "the event subscription", func() bool {
		if hs.e.Stats().Events > 0 {
			return true
		}
		id++
		ev := wire.Event{MsgID: id, MsgType: wire.EventGroupChange, Timestamp: time.Now().Unix(),
			Content: []byte(`{"group":{"id":1,"name":"probe","member_version":1}}`)}
		l.sim.Republish(devAccount, ev.Encode())
		time.Sleep(20 * time.Millisecond)
		return hs.e.Stats().Events > 0
	})
}

// idle waits until no fetch runs or is queued: the last attempt has its
// answer and nothing moved for 400 ms (so not with a short poll). A probe
// of eventsLive makes a wapi handset fetch (every wapi event does), and so
// may the reconnect that follows the first sync; a test that changes the
// platform and then expects nothing to happen without an event or a
// webhook must not have that fetch still under way (on a loaded machine
// it read the change).
func (hs *handset) idle(t *testing.T) {
	t.Helper()
	waitFor(t, 10*time.Second, "the handset's fetches to end", func() bool {
		before := hs.e.Stats()
		time.Sleep(400 * time.Millisecond)
		after := hs.e.Stats()
		return before == after && !after.LastSync.Before(after.LastAttempt)
	})
}

func md5hex(s string) string { return corp.HashPassword(s) }
