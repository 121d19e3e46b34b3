// Command pttsim is the platform simulator: the corp and wapi APIs of the
// seeds over HTTP, events over MQTT, and a store of the tracks handsets
// publish. A lab and test tool; see internal/pttsim and docs/pttsim.md.
//
//	pttsim -http 127.0.0.1:8088 -embed-broker 127.0.0.1:1883 -device demo-0001 -password demo
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
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
		events     = flag.String("events", "corp", "event dialect: corp or wapi")
		state      = flag.String("state", "", "keep the world in this JSON `file` across restarts")
		files      = flag.String("files", "", "keep uploaded files in this `dir` (default: a temporary one)")
		tokenTTL   = flag.Duration("token-ttl", 24*time.Hour, "access token lifetime")
		refreshTTL = flag.Duration("refresh-ttl", 30*24*time.Hour, "refresh token lifetime")
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
	)
	flag.Parse()
	if *share != "" {
		if err := pttsim.CheckShareName(*share); err != nil {
			return err
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	s, err := pttsim.New(pttsim.Options{Prefix: *prefix, Broker: *broker, EmbedBroker: *embed, Events: *events,
		TokenTTL: *tokenTTL, RefreshTTL: *refreshTTL, StateFile: *state, FileDir: *files,
		MediaAddr: *mediaAddr, MediaPublic: *mediaPub, MediaTTL: *mediaTTL, TrackShare: *share, NATS: *natsURL, Logger: logger})
	if err != nil {
		return err
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
	logger.Info("pttsim serving", "http", "http://"+l.Addr().String(), "corp", "/v1/corp/web/…", "wapi", "/wapi/…")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Run(ctx, l); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}
