// Command pttsim is the platform simulator: the corp and wapi APIs of the
// seeds over HTTP, events over MQTT, and a store of the tracks handsets
// publish. A lab and test tool; see internal/pttsim and docs/pttsim.md.
//
//	pttsim -http 127.0.0.1:8088 -embed-broker 127.0.0.1:1883 -device demo-0001 -password demo
//	pttsim -http 127.0.0.1:8088 -embed-broker 127.0.0.1:1883 -world bench.yaml
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/uplink/dial"
)

func main() {
	if err := run(); err != nil {
		log.Fatal("pttsim: ", err)
	}
}

func run() error {
	var (
		httpAddr   = flag.String("http", "127.0.0.1:8088", "serve the platform APIs on `host:port`")
		broker     = flag.String("broker", "", "MQTT broker `URL` to use (tcp://host:port)")
		embed      = flag.String("embed-broker", "", "start an in-process MQTT broker on `host:port` (when -broker is empty)")
		prefix     = flag.String("prefix", "ptt", "MQTT topic prefix (the agents' mqtt.topic_prefix)")
		events     = flag.String("events", "corp", "event dialect: corp or wapi; none: only forwarded webhooks reach devices")
		hookToken  = flag.String("webhook-token", "", "the `token` header of the platform's webhooks: served at /webhook/wapi/… for posts that carry it, and sent with -emergency-webhook's reports")
		state      = flag.String("state", "", "keep the world in this JSON `file` across restarts")
		files      = flag.String("files", "", "keep uploaded files in this `dir` (default: a temporary one)")
		tokenTTL   = flag.Duration("token-ttl", 24*time.Hour, "access token lifetime")
		refreshTTL = flag.Duration("refresh-ttl", 30*24*time.Hour, "refresh token lifetime")
		worldFile  = flag.String("world", "", "create the members, groups and memberships of this YAML `file` at start (those missing; docs/pttsim.md)")
		device     = flag.String("device", "", "create this device `account` at start (if missing)")
		password   = flag.String("password", "", "the device's password (plain text; clients send its MD5)")
		track      = flag.Int("track", 1, "the -device's track setting: 0 off, 1 high, 2 medium, 3 low, else seconds")
		group      = flag.String("group", "Demo group", "put the -device in a group of this `name`")
		admin      = flag.String("admin", "admin", "operator account created at start (if missing), for the management endpoints")
		adminPw    = flag.String("admin-password", "admin", "the operator's password")
		mediaAddr  = flag.String("media", "", "run the UDP media relay (voice over SRTP) on `host:port`; empty: voice over MQTT only")
		mediaPub   = flag.String("media-public", "", "the relay `host:port` handed to devices (default: the -media address)")
		mediaTTL   = flag.Duration("media-ttl", pttsim.DefaultMediaTTL, "media session lifetime (devices renew at 80 %)")
		share      = flag.String("share", "", "take tracks through the shared subscription $share/`GROUP`/…: simulators with the same group split the ingest (with -nats: the NATS queue group)")
		natsURL    = flag.String("nats", "", "take tracks on NATS' own protocol from this `URL` (nats://host:4222) of the broker's cluster, in the -share queue group (NATS serves no $share to MQTT)")
		verbose    = flag.Bool("v", false, "log debug messages (every event published)")
		brokerUser = flag.String("broker-user", "", "log in to -broker as `user` (deploy/mosquitto: platform)")
		brokerPwF  = flag.String("broker-password-file", "", "the -broker-user's password, in this `file`")
		brokerCA   = flag.String("broker-ca", "", "trust this CA `file` for an mqtts:// -broker")
		dynsec     = flag.Bool("dynsec", false, "keep the broker's per-member read rights as the plugin's admin (deploy/mosquitto/mosquitto-dynsec.conf)")
		noCopy     = flag.Bool("no-voice-copy", false, "do not offer the handsets a second, listen-only voice connection (voice_copy in the capabilities; docs/protocol.md \"Voice copy\")")
		sosHook    = flag.String("emergency-webhook", "", "POST every device's emergency alert and cancel to this `URL` as a seed 003 §3.1 event report")
		trackVers  = flag.String("track-versions", "1,2", "the track batch `versions` the platform says it reads (retained on ptt/platform/caps); 1: play a platform that reads JSON only")
	)
	flag.Parse()
	if *share != "" {
		if err := pttsim.CheckShareName(*share); err != nil {
			return err
		}
	}
	var versions []int
	for _, f := range strings.Split(*trackVers, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 || v > 2 {
			return fmt.Errorf("-track-versions %q: a comma-separated list of 1 and 2", *trackVers)
		}
		versions = append(versions, v)
	}
	var wf *pttsim.WorldFile
	if *worldFile != "" {
		// Checked before anything starts: a typo is an error with its line,
		// not half a bench.
		var err error
		if wf, err = pttsim.LoadWorld(*worldFile); err != nil {
			return err
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var brokerPw string
	if *brokerPwF != "" {
		b, err := os.ReadFile(*brokerPwF)
		if err != nil {
			return err
		}
		brokerPw = strings.TrimSpace(string(b))
	}
	var brokerTLS *tls.Config
	if *brokerCA != "" {
		var err error
		if brokerTLS, err = dial.LoadTLS(*brokerCA, "", "", "", false); err != nil {
			return err
		}
	}
	if *files != "" {
		// A bench names a directory to keep the recordings in; it need not
		// exist yet.
		if err := os.MkdirAll(*files, 0o755); err != nil {
			return fmt.Errorf("-files: %w", err)
		}
	}
	s, err := pttsim.New(pttsim.Options{Prefix: *prefix, Broker: *broker, EmbedBroker: *embed, Events: *events,
		TokenTTL: *tokenTTL, RefreshTTL: *refreshTTL, StateFile: *state, FileDir: *files,
		MediaAddr: *mediaAddr, MediaPublic: *mediaPub, MediaTTL: *mediaTTL, TrackShare: *share, NATS: *natsURL, Logger: logger,
		BrokerUsername: *brokerUser, BrokerPassword: brokerPw, BrokerTLS: brokerTLS, Dynsec: *dynsec, NoVoiceCopy: *noCopy,
		EmergencyWebhook: *sosHook, WebhookToken: *hookToken, TrackVersions: versions})
	if err != nil {
		return err
	}
	// The world first: an operator it names is the -admin when the names
	// agree.
	if wf != nil {
		rep, err := s.ApplyWorld(wf)
		if err != nil {
			return err
		}
		if *dynsec {
			for _, m := range wf.Members {
				if m.Password != "" {
					s.SetBrokerPassword(m.Account, m.Password)
				}
			}
		}
		logger.Info("world loaded", "file", *worldFile, "created", len(rep.Created), "kept", len(rep.Kept), "groups", len(rep.Groups))
		for _, g := range rep.Groups {
			logger.Info("group", "id", g.ID, "name", g.Name, "members", len(g.Members), "burst_mode", g.BurstMode, "talk_time", g.TalkTime)
		}
	}
	var adminID int64
	if m, ok := s.MemberByNum(*admin); ok {
		adminID = m.ID
	} else if *admin != "" {
		m, err := s.AddMember(pttsim.MemberSpec{Num: *admin, Name: "Operator", Password: *adminPw, Type: pttsim.TypeOwner})
		if err != nil {
			return err
		}
		adminID = m.ID
	}
	if *device != "" {
		if *dynsec && *password != "" {
			s.SetBrokerPassword(*device, *password)
		}
		if _, ok := s.MemberByNum(*device); !ok {
			m, err := s.AddMember(pttsim.MemberSpec{Num: *device, Name: *device, Password: *password, Type: pttsim.TypeDevice,
				LocShare: 1, Track: *track})
			if err != nil {
				return err
			}
			if *group != "" {
				g, err := s.CreateGroup(pttsim.GroupSpec{Name: *group, Creator: adminID, Members: []int64{adminID, m.ID}})
				if err != nil {
					return err
				}
				logger.Info("created", "device", m.Num, "member_id", m.ID, "group", g.Name, "group_id", g.ID)
			}
		}
	}
	l, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return err
	}
	for _, m := range s.Members() {
		logger.Info("member", "id", m.ID, "account", m.Num, "name", m.Name, "type", m.Type,
			"tts", m.TTS, "loc_share", m.LocShare, "track", m.Track)
	}
	logger.Info("pttsim serving", "http", "http://"+l.Addr().String(), "corp", "/v1/corp/web/…", "wapi", "/wapi/…",
		"console", "http://"+l.Addr().String()+"/console")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Run(ctx, l); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}
