// Package agent runs the handset daemon: it wires the GPS source, the track
// reporter, the on-disk queue and the MQTT uplink together under one
// errgroup, and watches their health. Each part is a Run(ctx) component;
// cancelling the context is the only way to stop it.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/agent/platformsync"
	"github.com/pttagent/pttagent/agent/track"
	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/uplink"
	"github.com/pttagent/pttagent/uplink/dial"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/queue"
	"github.com/pttagent/pttagent/wire"
)

// Agent is one running handset daemon.
type Agent struct {
	cfg     *config.Config
	log     *slog.Logger
	version string

	topics   wire.Topics
	gps      *gps.Source
	reporter *track.Reporter
	mqtt     *mqtt.Client
	health   *health.Tracker
	sync     *platformsync.Engine // nil without a platform
	ptt      *pushToTalk

	mu     sync.Mutex
	queue  *queue.Queue
	sender *uplink.TrackSender
	start  time.Time

	onWatch func(now time.Time, s Status) // see OnWatch
}

// New prepares an agent from a validated config; Run starts it.
func New(cfg *config.Config, log *slog.Logger, version string) (*Agent, error) {
	a := &Agent{cfg: cfg, log: log, version: version,
		topics: wire.Topics{Prefix: cfg.MQTT.TopicPrefix, Account: cfg.Device.Account}}
	tlsConf, err := dial.LoadTLS(cfg.MQTT.TLS.CAFile, cfg.MQTT.TLS.CertFile, cfg.MQTT.TLS.KeyFile,
		cfg.MQTT.TLS.ServerName, cfg.MQTT.TLS.InsecureSkipVerify)
	if err != nil {
		return nil, err
	}
	user := cfg.MQTT.Username
	if user == "" {
		user = cfg.Device.Account
	}
	a.mqtt = mqtt.New(mqtt.Options{
		Brokers: cfg.MQTT.Brokers, ClientID: cfg.Device.Account, Username: user, Password: cfg.Secrets.MQTTPassword,
		TLS: tlsConf, KeepAlive: cfg.MQTT.KeepAlive.D(), ConnectTimeout: cfg.MQTT.ConnectTimeout.D(),
		ReconnectMin: cfg.MQTT.ReconnectMin.D(), ReconnectMax: cfg.MQTT.ReconnectMax.D(),
		StatusTopic: a.topics.Status(),
		Online: func() []byte {
			return wire.Presence{State: "online", Time: time.Now().Unix(), Version: version}.Encode()
		},
		OfflineWill: wire.Presence{State: "offline"}.Encode(),
		Offline: func() []byte {
			return wire.Presence{State: "offline", Time: time.Now().Unix(), Reason: "shutdown"}.Encode()
		},
		Logger: log.With("part", "mqtt"),
	})
	a.gps = &gps.Source{Device: cfg.GPS.Device, Baud: cfg.GPS.Baud, SilenceTimeout: cfg.GPS.SilenceTimeout.D(),
		Logger: log.With("part", "gps")}
	a.reporter = &track.Reporter{Options: trackOptions(cfg.Tracks), Logger: log.With("part", "tracks")}
	a.health = health.New(map[string]time.Duration{
		health.GPSAbsent:   10 * time.Second,
		health.GPSNoFix:    60 * time.Second,
		health.UplinkDown:  30 * time.Second,
		health.QueueBehind: 5 * time.Minute,
		health.DiskFull:    0,
	})
	if a.sync, err = a.newSync(cfg); err != nil {
		return nil, err
	}
	if a.ptt, err = newPTT(a); err != nil {
		return nil, err
	}
	return a, nil
}

// Reporter is the track reporter, for the platform sync to Apply settings.
func (a *Agent) Reporter() *track.Reporter { return a.reporter }

// MQTT is the broker connection, for parts that subscribe or publish.
func (a *Agent) MQTT() *mqtt.Client { return a.mqtt }

// Run runs until ctx is cancelled or a part fails for good. Points in the
// queue stay on disk for the next start.
func (a *Agent) Run(ctx context.Context) error {
	if err := os.MkdirAll(a.cfg.StateDir, 0o750); err != nil {
		return fmt.Errorf("state_dir: %w (create it or fix its owner)", err)
	}
	q, err := queue.Open(filepath.Join(a.cfg.StateDir, "tracks.db"), a.cfg.Tracks.Queue.MaxPoints)
	if err != nil {
		return err
	}
	defer q.Close()
	a.reporter.Queue = q
	sender := &uplink.TrackSender{Queue: q, MQTT: a.mqtt, Topic: a.topics.Track(),
		BatchPoints: a.cfg.Tracks.Queue.BatchPoints, BatchBytes: a.cfg.Tracks.Queue.BatchBytes,
		MaxInflight: a.cfg.Tracks.Queue.MaxInflight, AckTimeout: a.cfg.MQTT.AckTimeout.D(),
		Logger: a.log.With("part", "uplink")}
	a.mu.Lock()
	a.queue, a.sender, a.start = q, sender, time.Now()
	a.mu.Unlock()

	st := q.Stats()
	a.log.Info("pttagent starting", "version", a.version, "device", a.cfg.Device.Account,
		"queued_points", st.Len, "next_seq", st.LastSeq+1, "gps", a.cfg.GPS.Device, "brokers", a.cfg.MQTT.Brokers)

	fixes := make(chan gps.Fix, 4)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.mqtt.Run(ctx) })
	g.Go(func() error { return sender.Run(ctx) })
	g.Go(func() error { return a.gps.Run(ctx, fixes) })
	g.Go(func() error {
		return a.reporter.Run(ctx, a.initialTrackSettings(), fixes)
	})
	if a.sync != nil {
		g.Go(func() error { return a.sync.Run(ctx) })
	}
	g.Go(func() error { return a.ptt.Run(ctx) })
	g.Go(func() error { return a.watch(ctx) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	st = q.Stats()
	a.log.Info("pttagent stopped", "queued_points", st.Len, "last_seq", st.LastSeq)
	return err
}

// watch updates health once a second and logs warnings as they appear and
// clear.
func (a *Agent) watch(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-t.C:
			s := a.Status()
			a.checkHealth(now, s)
			if a.onWatch != nil {
				s.Warnings = a.warnings()
				a.onWatch(now, s)
			}
		}
	}
}

// OnWatch has f called from the watch loop once a second, after the health
// check, with a fresh status. systemd's READY=1, WATCHDOG=1 and STATUS=
// hang on it, so a stalled loop (a part holding its lock forever) stops the
// pings and the watchdog restarts the agent. f must not block. Call it
// before Run.
func (a *Agent) OnWatch(f func(now time.Time, s Status)) { a.onWatch = f }

func (a *Agent) checkHealth(now time.Time, s Status) {
	set := func(name string, holds bool, detail string) {
		if a.health.Set(name, holds, detail, now) {
			if holds {
				a.log.Warn("health warning", "warning", name, "detail", detail)
			} else {
				a.log.Info("health warning cleared", "warning", name)
			}
		}
	}
	set(health.GPSAbsent, !s.GPS.Connected, "cannot open "+a.cfg.GPS.Device)
	// A receiver without sky still completes a cycle every second; only a
	// recent valid one counts.
	set(health.GPSNoFix, s.GPS.Connected && (!s.GPS.Valid || s.GPS.LastFixAge < 0 || s.GPS.LastFixAge > 10), "no valid fix from the receiver")
	set(health.UplinkDown, !s.Uplink.Connected, s.Uplink.LastError)
	set(health.QueueBehind, s.Tracks.Queued > 1000, fmt.Sprintf("%d points waiting", s.Tracks.Queued))
	set(health.DiskFull, s.Tracks.LastError != "", s.Tracks.LastError)
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
