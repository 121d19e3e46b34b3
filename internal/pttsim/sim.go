// Package pttsim is, the platform simulator: a lab and test tool that
// speaks the corp web API and the wapi API of ../shared/seeds over HTTP,
// publishes the matching events over MQTT when an operator changes
// something, and stores the tracks that handsets publish so that
// location-get-track, getLatestCoords and trackPlayback return them.
//
// It is not part of the agent; the agent never imports it.
package pttsim

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/wire"
)

// Options configure a simulator.
type Options struct {
	// Prefix is the MQTT topic prefix (the agents' mqtt.topic_prefix).
	Prefix string
	// Broker is the MQTT broker URL to use; empty with EmbedBroker set
	// starts one in-process on EmbedBroker (host:port).
	Broker      string
	EmbedBroker string
	// BrokerUsername, BrokerPassword and BrokerTLS log in to Broker
	// (deploy/mosquitto: the username "platform", over TLS).
	BrokerUsername, BrokerPassword string
	BrokerTLS                      *tls.Config
	// Dynsec keeps the broker's per-member read rights as membership
	// changes, as the admin of mosquitto's dynamic security plugin
	// (dynsec.go; deploy/mosquitto/mosquitto-dynsec.conf).
	Dynsec bool
	// NoVoiceCopy leaves voice_copy out of the capabilities: the broker
	// does not take the devices' voice logins (wire.VoiceLogin). With
	// Dynsec they are made beside the devices' own. With the NATS ingest
	// it is never offered: every MQTT connect there is a replicated
	// JetStream session (docs/fleet.md).
	NoVoiceCopy bool
	// Events chooses the event dialect: "corp" (default) or "wapi"; "none"
	// publishes no event for an operator's change (a platform whose only
	// news is its webhooks, forwarded by WebhookToken).
	Events string
	// WebhookToken is the token shared with the platform's integrations:
	// the wapi webhooks pttsim receives carry it (webhooks.go; empty: none
	// is served), and the emergency reports it posts carry it in their
	// token header.
	WebhookToken string
	// TokenTTL and RefreshTTL are the lifetimes of access and refresh
	// tokens (the seed: 86400 s; tests use seconds).
	TokenTTL, RefreshTTL time.Duration
	// StateFile, if set, keeps the world across restarts (JSON).
	StateFile string
	// FileDir keeps uploaded files; empty: a temporary directory.
	FileDir string
	// PublicURL is the base of URLs handed out (uploads); empty: from the
	// request's Host.
	PublicURL string
	// MaxTrackPoints caps the points kept per device.
	MaxTrackPoints int
	// TrackVersions are the track batch versions the simulator says it
	// decodes, in its retained capabilities (wire.PlatformCaps); nil: 1
	// and 2. []int{1} plays a platform that reads JSON only (it still
	// decodes both).
	TrackVersions []int
	// MediaAddr, when set, runs the UDP media relay there (host:port;
	// port 0 picks one): voice over SRTP beside MQTT. Empty: devices are
	// told there is none and keep their voice on MQTT.
	MediaAddr string
	// MediaPublic is the relay address handed to devices (host:port);
	// empty: the bound MediaAddr.
	MediaPublic string
	// MediaTTL is a media session's lifetime (default DefaultMediaTTL).
	MediaTTL time.Duration
	// TrackShare, when set, takes tracks through a shared subscription of
	// this group name, so that several simulators split the ingest
	// (ingest.go); with NATS (a nats:// URL of the broker's cluster), in
	// that queue group on NATS' own protocol (ingest_nats.go).
	TrackShare string
	NATS       string
	Logger     *slog.Logger
	Now        func() time.Time

	// EmergencyWebhook, when set, gets every device's emergency alert and
	// cancel as a seed 003 §3.1 event report (HTTP POST, retried until it
	// answers 2xx), with WebhookToken in the token header.
	EmergencyWebhook string
}

// Sim is a running simulator.
type Sim struct {
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	w        *world
	sessions map[string]*session // access token → session
	refresh  map[string]*session // refresh token → session
	dirty    bool
	stats    Stats

	pubMu sync.Mutex
	pub   func(topic string, payload []byte) // nil until MQTT is up
	mq    *mqtt.Client

	fl         *floorHost
	recordSeen map[recordKey]bool
	media      atomic.Pointer[mediaRelay] // nil: no UDP relay

	dynOnce sync.Once
	dyn     *dynsec
	x       ext // presence, terminals, notices, webhooks (s.mu)

	em *emergencyDesk

	con consoleHub // what the web console keeps (console_state.go)
}

type session struct {
	uid      int64
	token    string
	refresh  string
	expires  time.Time
	rexpires time.Time
}

// Stats count what the simulator did, for tests.
type Stats struct {
	Logins, Refreshes, RefreshRefused, TokenRefused int
	EventsPublished, EventsDropped                  int
	TrackPoints, TrackDuplicates, TrackBad          int
	TrackMissing                                    int // seqs skipped and not come since: points the handsets lost
	TrackLate                                       int // points that came after newer ones and filled a gap
	Records, RecordDuplicates, RecordsBad           int
}

// New builds a simulator, loading StateFile when it exists.
func New(o Options) (*Sim, error) {
	if o.Prefix == "" {
		o.Prefix = "ptt"
	}
	if o.Events == "" {
		o.Events = "corp"
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 24 * time.Hour
	}
	if o.RefreshTTL == 0 {
		o.RefreshTTL = 30 * 24 * time.Hour
	}
	if o.MaxTrackPoints == 0 {
		o.MaxTrackPoints = 100_000
	}
	if o.MediaTTL != 0 && (o.MediaTTL < time.Minute || o.MediaTTL > 7*24*time.Hour) {
		return nil, fmt.Errorf("media session lifetime %v: want 1 min – 7 days (what devices accept)", o.MediaTTL)
	}
	if o.Dynsec && o.Broker == "" {
		return nil, errors.New("dynamic security needs an external mosquitto (Broker), not the embedded broker")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Sim{o: o, log: o.Logger, sessions: map[string]*session{}, refresh: map[string]*session{}, w: newWorld(o.Now()),
		fl: newFloorHost(), recordSeen: map[recordKey]bool{}, em: newEmergencyDesk(o.EmergencyWebhook, o.WebhookToken)}
	if o.StateFile != "" {
		data, err := os.ReadFile(o.StateFile)
		switch {
		case err == nil:
			w := newWorld(o.Now())
			if err := json.Unmarshal(data, w); err != nil {
				return nil, fmt.Errorf("pttsim state %s: %w", o.StateFile, err)
			}
			s.w = w
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("pttsim state: %w", err)
		}
	}
	if s.o.FileDir == "" {
		d, err := os.MkdirTemp("", "pttsim-files-")
		if err != nil {
			return nil, err
		}
		s.o.FileDir = d
	}
	return s, nil
}

func (s *Sim) now() time.Time { return s.o.Now() }

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Stats returns a snapshot.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Run connects to (or embeds) the broker, collects tracks, publishes
// events, and serves HTTP on l until ctx is cancelled.
func (s *Sim) Run(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(l) }()
	defer srv.Close()

	if s.o.MediaAddr != "" {
		r, err := s.listenMedia()
		if err != nil {
			return err
		}
		s.media.Store(r)
		mctx, stopMedia := context.WithCancel(ctx)
		defer stopMedia()
		go r.run(mctx)
		s.log.Info("media relay listening", "udp", r.conn.LocalAddr().String(), "public", r.public)
	}

	broker := s.o.Broker
	if broker == "" && s.o.EmbedBroker != "" {
		stop, err := embedBroker(s.o.EmbedBroker, s.log.With("part", "broker"))
		if err != nil {
			return err
		}
		defer stop()
		broker = "tcp://" + s.o.EmbedBroker
	}
	if broker != "" {
		mq := mqtt.New(mqtt.Options{Brokers: []string{broker}, ClientID: "pttsim-" + newToken()[:8],
			Username: s.o.BrokerUsername, Password: s.o.BrokerPassword, TLS: s.o.BrokerTLS,
			KeepAlive: 30 * time.Second, ConnectTimeout: 5 * time.Second,
			// A point the handset had acknowledged, on its way here when the
			// connection dropped, comes again at the reconnect (a NATS node
			// drops publishers while its cluster elects leaders).
			KeepSession:  true,
			ReconnectMin: 200 * time.Millisecond, ReconnectMax: 5 * time.Second, Logger: s.log.With("part", "mqtt"),
			// What it reads, retained for every device, again at every
			// connect (a broker restarted without persistence forgot it).
			StatusTopic: wire.PlatformCapsTopic(s.o.Prefix),
			Online: func() []byte {
				return wire.PlatformCaps{V: 1, TrackVersions: s.trackVersions(), VoiceCopy: s.offersVoiceCopy(), Time: s.now().Unix()}.Encode()
			}})
		if f := s.trackFilter(); f != "" {
			mq.Subscribe(f, 1, s.onTrack)
		} else {
			go func() { errc <- s.natsIngest(ctx) }()
		}
		mq.Subscribe(wire.AllFloorUp(s.o.Prefix), 1, s.onFloor)
		mq.Subscribe(wire.AllVoice(s.o.Prefix), 0, s.onVoice)
		mq.Subscribe(wire.AllRecords(s.o.Prefix), 1, s.onRecord)
		mq.SubscribeRetained(wire.AllStatus(s.o.Prefix), 1, s.onStatus)
		mq.Subscribe(wire.AllMedia(s.o.Prefix), 1, s.onMediaRequest)
		mq.Subscribe(wire.AllEmergency(s.o.Prefix), 1, s.onEmergency)
		s.pubMu.Lock()
		s.mq = mq
		s.pub = func(topic string, payload []byte) { mq.Publish(topic, 1, false, payload) }
		s.pubMu.Unlock()
		go func() { errc <- mq.Run(ctx) }()
		if s.o.Dynsec {
			go s.runDynsec(ctx, mq)
		}
	}
	s.refreshFloor()
	floorCtx, stopFloor := context.WithCancel(ctx)
	defer stopFloor()
	go s.runFloor(floorCtx)
	go s.runWebhook(floorCtx)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.save()
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				s.save()
				return nil
			}
			return err
		case <-tick.C:
			s.save()
		}
	}
}

// offersVoiceCopy: the capabilities' voice_copy.
func (s *Sim) offersVoiceCopy() bool { return !s.o.NoVoiceCopy && s.o.NATS == "" }

func (s *Sim) trackVersions() []int {
	if s.o.TrackVersions != nil {
		return s.o.TrackVersions
	}
	return []int{1, 2}
}

// Connected reports whether the simulator's MQTT link is up.
func (s *Sim) Connected() bool {
	s.pubMu.Lock()
	mq := s.mq
	s.pubMu.Unlock()
	if mq == nil {
		return false
	}
	up, _ := mq.State()
	return up
}

// save writes the world when it changed (StateFile only).
func (s *Sim) save() {
	if s.o.StateFile == "" {
		return
	}
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return
	}
	data, err := json.Marshal(s.w)
	s.dirty = false
	s.mu.Unlock()
	if err != nil {
		s.log.Error("pttsim state", "err", err)
		return
	}
	tmp := s.o.StateFile + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err == nil {
		err = os.Rename(tmp, s.o.StateFile)
	}
	if err != nil {
		s.log.Error("pttsim state", "file", s.o.StateFile, "err", err)
	}
}

// change runs f on the world under the lock and publishes the events it
// returns, after unlocking.
func (s *Sim) change(f func(w *world, now time.Time) ([]outEvent, error)) error {
	s.mu.Lock()
	evs, err := f(s.w, s.now())
	if err == nil {
		s.dirty = true
	}
	s.mu.Unlock()
	for _, e := range evs {
		s.publish(e)
	}
	if err == nil {
		s.refreshFloor()
		s.kickDynsec()
	}
	return err
}

// outEvent is an event for some accounts.
type outEvent struct {
	to      []string
	msgType string
	content any
	wapiIDs []int64 // the wapi event's {"id":[…]}
	wapi    string  // the wapi msg_type for the same change
}

func (s *Sim) publish(e outEvent) {
	s.pubMu.Lock()
	pub := s.pub
	s.pubMu.Unlock()
	ev := wire.Event{MsgType: e.msgType, Timestamp: s.now().Unix(), Transfer: true}
	content := e.content
	if s.o.Events == "wapi" {
		ev.MsgType, content = e.wapi, map[string][]int64{"id": e.wapiIDs}
	}
	if ev.MsgType == "" || s.o.Events == "none" {
		return
	}
	b, err := json.Marshal(content)
	if err != nil {
		s.log.Error("pttsim event", "err", err)
		return
	}
	ev.Content = b
	s.mu.Lock()
	s.w.NextMsg++
	ev.MsgID = s.w.NextMsg
	if pub == nil {
		s.stats.EventsDropped++
	} else {
		s.stats.EventsPublished += len(e.to)
	}
	s.mu.Unlock()
	if pub == nil {
		return
	}
	payload := ev.Encode()
	for _, acct := range e.to {
		pub(wire.EventTopic(s.o.Prefix, acct), payload)
		s.log.Debug("event published", "to", acct, "msg_type", ev.MsgType, "msg_id", ev.MsgID)
	}
}

// Republish sends an event payload again as it was (tests: duplicates).
func (s *Sim) Republish(account string, payload []byte) {
	s.pubMu.Lock()
	pub := s.pub
	s.pubMu.Unlock()
	if pub != nil {
		pub(wire.EventTopic(s.o.Prefix, account), payload)
	}
}

// FilePath is where an uploaded file is kept.
func (s *Sim) filePath(name string) string { return filepath.Join(s.o.FileDir, filepath.Base(name)) }
