package agent

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/agent/platformsync"
	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/agent/track"
	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink"
	"github.com/pttagent/pttagent/uplink/alert"
	"github.com/pttagent/pttagent/uplink/dial"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/httpapi/corp"
	"github.com/pttagent/pttagent/uplink/httpapi/wapi"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/queue"
	"github.com/pttagent/pttagent/uplink/radio"
	"github.com/pttagent/pttagent/wire"
)

// Assemble builds the agent a validated config describes: every part
// from its section of the file, then New wires them. It opens nothing
// that a missing device could hold up (the sound card and the serial
// port are opened by their parts' Run, and retried); it fails only on
// what no retry would cure (a TLS file that cannot be read).
func Assemble(cfg *config.Config, log *slog.Logger, version string) (*Agent, error) {
	topics := wire.Topics{Prefix: cfg.MQTT.TopicPrefix, Account: cfg.Device.Account}
	p := Parts{Version: version, Account: cfg.Device.Account, Name: cfg.Device.Name, Logger: log,
		Health: health.New(log), Brokers: cfg.MQTT.Brokers, Dialect: cfg.Platform.Dialect, caps: &capsFollowers{}}
	// Every link reports its traffic here, so that what can wait rides on
	// a wake-up of the radio that happens anyway.
	rad := &radio.Radio{}
	p.rad = rad
	var err error
	// The active group goes out with the device's presence, for the
	// platform's "who listens to this group" (platform.Roster).
	activeGroup := func() int64 {
		if p.Sync == nil {
			return 0
		}
		return p.Sync.Active()
	}
	if p.MQTT, err = newMQTT(cfg, topics, rad, log, version, activeGroup); err != nil {
		return nil, err
	}
	p.GPS = &gps.Source{Device: cfg.GPS.Device, Baud: cfg.GPS.Baud, SilenceTimeout: cfg.GPS.SilenceTimeout.D(),
		Logger: log.With("part", "gps")}
	if m := &cfg.GPS.Modem; m.Type != "" {
		p.GPS.Switch = &gps.Modem{Port: m.Control, Commands: m.Commands(), Timeout: m.Timeout.D()}
	}
	p.Tracks = &track.Reporter{Options: trackOptions(cfg.Tracks), Logger: log.With("part", "tracks")}
	p.OpenQueue = func() (*queue.Queue, error) {
		if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
			return nil, fmt.Errorf("state_dir: %w (create it or fix its owner)", err)
		}
		return queue.Open(filepath.Join(cfg.StateDir, "tracks.db"), cfg.Tracks.Queue.MaxPoints)
	}
	p.Sender = &uplink.TrackSender{MQTT: p.MQTT, Topic: topics.Track(),
		BatchPoints: cfg.Tracks.Queue.BatchPoints, BatchBytes: cfg.Tracks.Queue.BatchBytes,
		MaxInflight: cfg.Tracks.Queue.MaxInflight, AckTimeout: cfg.MQTT.AckTimeout.D(),
		Hold:  uplink.Hold{Delay: cfg.Tracks.Queue.SendDelay.D(), ParkedDelay: cfg.Tracks.Queue.ParkedSendDelay.D()},
		Radio: rad, PingDue: p.MQTT.KeepAliveDue, Encode: trackEncoding(cfg.Tracks.Encoding, p.caps, log),
		Logger: log.With("part", "uplink")}
	var plat *platformClients
	if p.Sync, plat, err = newSync(cfg, topics, p.MQTT, rad, log); err != nil {
		return nil, err
	}
	p.TrackSettings = track.Settings{LocShare: cfg.Tracks.LocShare, Track: cfg.Tracks.Track}
	if p.Sync != nil {
		// The platform's last known settings, loaded from disk, rule
		// from the start.
		if m := p.Sync.Model(); m != nil && m.Self.HasSettings {
			p.TrackSettings = track.Settings{LocShare: m.Self.LocShare, Track: m.Self.Track}
		}
	}
	if cfg.Audio.UDP && p.Sync != nil {
		// Voice over UDP when the platform offers a relay; its sessions
		// are asked for and keyed over the broker connection.
		p.Media = newMedia(cfg, topics, p.MQTT, func() *ptt.PTT { return p.PTT }, log)
	}
	// Emergency alerts wait on disk for the platform whatever else runs
	// (a missing sound card included), from the last run too.
	if p.Alerts, err = alert.Open(filepath.Join(cfg.StateDir, "emergency"), p.MQTT, topics, log.With("part", "emergency")); err != nil {
		return nil, err
	}
	if p.PTT, err = newPTT(cfg, p, plat, log); err != nil {
		return nil, err
	}
	p.caps.subscribe(p.MQTT, topics.Prefix)
	return New(p), nil
}

// brokerLogin is what every connection of the device to its broker
// shares: the brokers, TLS from the config's files, the login
// (mqtt.username, else the account) and the timing.
func brokerLogin(cfg *config.Config) (mqtt.Options, error) {
	tlsConf, err := dial.LoadTLS(cfg.MQTT.TLS.CAFile, cfg.MQTT.TLS.CertFile, cfg.MQTT.TLS.KeyFile,
		cfg.MQTT.TLS.ServerName, cfg.MQTT.TLS.InsecureSkipVerify)
	if err != nil {
		return mqtt.Options{}, err
	}
	return mqtt.Options{
		Brokers: cfg.MQTT.Brokers, Username: cmp.Or(cfg.MQTT.Username, cfg.Device.Account), Password: cfg.Secrets.MQTTPassword,
		TLS: tlsConf, KeepAlive: cfg.MQTT.KeepAlive.D(), ConnectTimeout: cfg.MQTT.ConnectTimeout.D(),
		ReconnectMin: cfg.MQTT.ReconnectMin.D(), ReconnectMax: cfg.MQTT.ReconnectMax.D(),
	}, nil
}

// newMQTT is the broker connection: the device's login, its client id
// and retained presence.
func newMQTT(cfg *config.Config, topics wire.Topics, rad *radio.Radio, log *slog.Logger, version string, group func() int64) (*mqtt.Client, error) {
	o, err := brokerLogin(cfg)
	if err != nil {
		return nil, err
	}
	o.ClientID = cfg.Device.Account
	o.StatusTopic = topics.Status()
	o.Online = func() []byte {
		return wire.Presence{State: "online", Time: time.Now().Unix(), Version: version, Group: group()}.Encode()
	}
	o.OfflineWill = wire.Presence{State: "offline"}.Encode()
	o.Offline = func() []byte {
		return wire.Presence{State: "offline", Time: time.Now().Unix(), Reason: "shutdown"}.Encode()
	}
	o.Radio, o.Logger = rad, log.With("part", "mqtt")
	return mqtt.New(o), nil
}

// trackEncoding is the encoder of tracks.encoding; for auto it follows
// the platform's retained capabilities.
func trackEncoding(name string, caps *capsFollowers, log *slog.Logger) func([]byte, []wire.Point) []byte {
	switch name {
	case "cbor":
		return wire.AppendTrackBatchCBOR
	case "auto":
		e := &uplink.AutoEncoding{Logger: log.With("part", "uplink")}
		caps.add(e.OnCaps)
		return e.Encode
	}
	return wire.AppendTrackBatch
}

// trackOptions are the reporter's options from the config file's tracks
// section.
func trackOptions(t config.Tracks) track.Options {
	c := t.Corner
	return track.Options{
		Periods:     track.Periods{High: t.Periods.High.D(), Medium: t.Periods.Medium.D(), Low: t.Periods.Low.D()},
		MinDistance: t.MinDistance,
		Heartbeat:   t.Heartbeat.D(),
		Corner: track.CornerPeg{Enabled: c.Enabled, MinSpeed: c.MinSpeed, MinTurn: c.MinTurn, TurnSlope: c.TurnSlope,
			MinInterval: c.MinInterval.D()},
	}
}

// platformClients are the platform's HTTP clients: the dialect's, for
// the sync, and the corp one (the same for a corp platform) that uploads
// recordings, when there is a password to log in with.
type platformClients struct {
	account string
	corp    *corp.Client // nil: no uploads, no missed messages
	roster  platform.Roster
	// closeIdle closes the platform connection right after a sync: the
	// TLS session resumes at the next one (uplink/httpapi).
	closeIdle func()
}

// newSync builds the platform sync for cfg, or nil with platform.dialect
// none. It loads the persisted model at once, so the reporter starts with
// the platform's last known settings, not the file's.
func newSync(cfg *config.Config, topics wire.Topics, mq *mqtt.Client, rad *radio.Radio, log *slog.Logger) (*platformsync.Engine, *platformClients, error) {
	p := cfg.Platform
	if p.Dialect == "none" || p.Dialect == "" {
		return nil, nil, nil
	}
	log = log.With("part", "platform")
	client, pc, err := newPlatformClient(cfg, rad, log)
	if err != nil {
		return nil, nil, err
	}
	poll := p.Poll.D()
	if p.Events {
		poll = p.PollWithEvents.D()
	}
	client = radioClient{Client: client, radio: rad, maxWait: cfg.MQTT.KeepAlive.D(), closeIdle: pc.closeIdle,
		voiceMax: voiceWait, linkUp: func() bool { up, _ := mq.State(); return up }}
	e := &platformsync.Engine{Client: client, Dialect: p.Dialect, Account: pc.account,
		StatePath: filepath.Join(cfg.StateDir, "platform.json"), Poll: poll, GonePoll: p.Poll.D(),
		FullRefresh: p.FullRefresh.D(), MQTT: mq, Logger: log}
	if p.Events {
		e.EventTopic = topics.Event()
	}
	e.Load()
	return e, pc, nil
}

// PlatformClient is the client the agent's sync logs in and fetches
// with, built the same way, for `pttagent doctor`; nil with
// platform.dialect none.
func PlatformClient(cfg *config.Config, log *slog.Logger) (platform.Client, error) {
	if d := cfg.Platform.Dialect; d == "none" || d == "" {
		return nil, nil
	}
	c, _, err := newPlatformClient(cfg, nil, log)
	return c, err
}

// newPlatformClient is the dialect's client, and the corp one that
// uploads recordings.
func newPlatformClient(cfg *config.Config, rad *radio.Radio, log *slog.Logger) (platform.Client, *platformClients, error) {
	p := cfg.Platform
	h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: p.BaseURL, Timeout: p.RequestTimeout.D(), CAFile: p.CAFile,
		Radio: rad, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	pc := &platformClients{account: p.Account}
	if pc.account == "" {
		pc.account = cfg.Device.Account
	}
	// The MD5 the platforms' login takes, from platform_password or as
	// given (platform_password_md5).
	pw := cfg.Secrets.PlatformPasswordHash()
	var client platform.Client
	switch p.Dialect {
	case "corp":
		c := &corp.Client{HTTP: h, Account: pc.account, Password: pw, Method: p.Login, Logger: log}
		client, pc.roster = c, c
		if pw != "" {
			pc.corp = c
		}
	case "wapi":
		w := &wapi.Client{HTTP: h, Account: pc.account, Password: pw, Token: cfg.Secrets.PlatformToken,
			Login: p.WapiLogin == "user-login", Logger: log}
		client, pc.roster = w, w
		if pw != "" && (cfg.Recordings.Enabled || cfg.Messages.Missed > 0) {
			// The wapi seed has no upload: recordings go through the corp
			// API of the same platform (docs/protocol.md), logged in apart.
			hc, err := httpapi.NewHTTP(httpapi.Options{BaseURL: p.BaseURL, Timeout: p.RequestTimeout.D(), CAFile: p.CAFile,
				Radio: rad, Logger: log})
			if err != nil {
				return nil, nil, err
			}
			pc.corp = &corp.Client{HTTP: hc, Account: pc.account, Password: pw, Logger: log}
		}
	default:
		return nil, nil, fmt.Errorf("platform.dialect %q", p.Dialect)
	}
	pc.closeIdle = h.CloseIdle
	return client, pc, nil
}
