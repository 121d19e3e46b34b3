// Package config is the one file a technician writes to provision a handset:
// the Config struct with every default in one place (Default), a loader that
// remembers the line of every key, and a validator whose errors name the file,
// the line and the key and say what would be valid.
package config

import (
	"time"
)

// DefaultPath is where the packaged service looks for its config file.
const DefaultPath = "/etc/pttagent/agent.yaml"

// Config is the whole agent configuration. Field docs are the reference;
// docs/config.md repeats them for technicians, and a test checks that every
// key appears there.
type Config struct {
	// Device identifies this handset.
	Device Device `yaml:"device"`
	// SecretsFile holds passwords (see Secrets). It must not be readable by
	// group or others: the agent refuses to start otherwise. Optional.
	SecretsFile string `yaml:"secrets_file"`
	// StateDir keeps the track queue and the last known platform state
	// across reboots. Created if missing.
	StateDir string `yaml:"state_dir"`
	// RuntimeDir holds the status socket. Created if missing.
	RuntimeDir string `yaml:"runtime_dir"`
	// StatusGroup is the group whose members may ask the running agent
	// for its status (read-only); only the service's user and root may
	// press keys or read its files. "" leaves the status socket to the
	// service's own group.
	StatusGroup string `yaml:"status_group"`
	Log         Log    `yaml:"log"`
	GPS         GPS    `yaml:"gps"`
	MQTT        MQTT   `yaml:"mqtt"`
	Tracks      Tracks `yaml:"tracks"`
	Audio       Audio  `yaml:"audio"`
	Board       Board  `yaml:"board"`
	Floor       Floor  `yaml:"floor"`
	TTS         TTS    `yaml:"tts"`
	// Recordings are the talk bursts kept and uploaded to the platform.
	Recordings Recordings `yaml:"recordings"`
	// Messages: missed messages caught up, notices kept (messages.go).
	Messages Messages `yaml:"messages"`
	// Platform is the management platform the member's settings and
	// groups come from (docs/protocol.md, "Platform sync").
	Platform Platform `yaml:"platform"`
	// Emergency is what the SOS key does.
	Emergency Emergency `yaml:"emergency"`

	// Secrets is read from SecretsFile, never from the main file.
	Secrets Secrets `yaml:"-"`
	// Path is the file the config was loaded from ("" for Default()).
	Path string `yaml:"-"`
}

type Device struct {
	// Account is the device account on the platform; it is also the MQTT
	// client id and the device's topic segment. Letters, digits, '.', '_' and
	// '-', at most 64. Required.
	Account string `yaml:"account"`
	// Name is shown in logs and status only.
	Name string `yaml:"name"`
}

type Log struct {
	// Level is the least severe level logged: debug, info, warn or error.
	Level string `yaml:"level"`
}

type GPS struct {
	// Device is the serial device of the GNSS receiver, e.g. /dev/ttyUSB0 or
	// a /dev/serial/by-id/... link (survives re-enumeration), or
	// gpsd://host[:port][/device] to read gpsd instead. Required.
	Device string `yaml:"device"`
	// Baud is the serial speed: 4800, 9600, 19200, 38400, 57600, 115200,
	// 230400, 460800 or 921600.
	Baud int `yaml:"baud"`
	// SilenceTimeout reopens the device when no byte arrived for this long.
	SilenceTimeout Duration `yaml:"silence_timeout"`
	// Modem is a GNSS inside the cellular module (gps.go).
	Modem GPSModem `yaml:"modem"`
}

type MQTT struct {
	// Brokers are tried in order: mqtts://host:8883 (TLS, verified),
	// tcp://host:1883 (plaintext; only to loopback unless allow_plaintext).
	// Schemes: mqtts, ssl, tls, tcp, mqtt, ws, wss. At least one.
	Brokers []string `yaml:"brokers"`
	// Username for the broker; empty means device.account. The password is
	// mqtt_password in the secrets file.
	Username string `yaml:"username"`
	// TopicPrefix is the first topic level of everything the agent
	// publishes or subscribes to (docs/protocol.md).
	TopicPrefix string `yaml:"topic_prefix"`
	// KeepAlive is the MQTT keep-alive; it bounds how long a dead link goes
	// unnoticed. Track messages keep the link alive in place of pings:
	// held points go before a ping would be due.
	KeepAlive Duration `yaml:"keepalive"`
	// ConnectTimeout bounds one connection attempt.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// ReconnectMin and ReconnectMax bound the exponential backoff (with
	// jitter) between connection attempts.
	ReconnectMin Duration `yaml:"reconnect_min"`
	ReconnectMax Duration `yaml:"reconnect_max"`
	// AckTimeout is how long the track sender waits for the next
	// acknowledgement before it shrinks its window (a batch is sent again
	// only when the link was lost, or after three timeouts without any
	// acknowledgement: see uplink.TrackSender).
	AckTimeout Duration `yaml:"ack_timeout"`
	// AllowPlaintext permits tcp:// or ws:// to a host that is not loopback.
	// Passwords and positions then cross the network unencrypted.
	AllowPlaintext bool `yaml:"allow_plaintext"`
	TLS            TLS  `yaml:"tls"`
}

type TLS struct {
	// CAFile is a PEM bundle of the CAs that may sign the broker's
	// certificate; empty means the system's CAs.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and key (PEM), both or
	// neither. The key file must not be readable by group or others.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the broker's certificate.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any broker certificate. Only for a bench:
	// anyone on the path can then read and change the traffic.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

type Tracks struct {
	// LocShare is the member's loc_share until the platform says otherwise:
	// false sends no positions at all.
	LocShare bool `yaml:"loc_share"`
	// Track is the member's track setting until the platform says
	// otherwise: 0 off, 1 high, 2 medium, 3 low (periods below), 4 reserved,
	// any other value a period in seconds.
	Track int `yaml:"track"`
	// Periods are the reporting periods of track 1, 2 and 3.
	Periods Periods `yaml:"periods"`
	// MinDistance (metres, 0 = off): a periodic point is skipped when the
	// handset moved less than this since the last point sent.
	MinDistance float64 `yaml:"min_distance"`
	// Heartbeat (0 = off): when no point was queued for this long, queue
	// the last valid fix again (marked as heartbeat, with its age) so that
	// a parked handset still shows signs of life.
	Heartbeat Duration     `yaml:"heartbeat"`
	Corner    CornerPeg    `yaml:"corner_pegging"`
	Queue     QueueOptions `yaml:"queue"`
	// Encoding of track messages: auto (cbor once the platform's retained
	// capabilities say it reads version 2, json until then), json
	// (version 1) or cbor (version 2, compact binary; the platform must
	// decode it: docs/protocol.md).
	Encoding string `yaml:"encoding"`
}

type Periods struct {
	High   Duration `yaml:"high"`
	Medium Duration `yaml:"medium"`
	Low    Duration `yaml:"low"`
}

// CornerPeg is APRS SmartBeaconing's corner pegging: a point as soon as the
// heading has turned by more than MinTurn + TurnSlope/speed(km/h) degrees.
type CornerPeg struct {
	Enabled bool `yaml:"enabled"`
	// MinSpeed (km/h): below it headings are noise and never trigger.
	MinSpeed float64 `yaml:"min_speed"`
	// MinTurn (degrees) is the turn threshold at high speed.
	MinTurn float64 `yaml:"min_turn"`
	// TurnSlope (degrees·km/h) raises the threshold at low speed.
	TurnSlope float64 `yaml:"turn_slope"`
	// MinInterval is the least time between two corner points.
	MinInterval Duration `yaml:"min_interval"`
}

type QueueOptions struct {
	// MaxPoints caps the on-disk queue; when full the oldest point is
	// dropped (and counted) to make room.
	MaxPoints int `yaml:"max_points"`
	// BatchPoints and BatchBytes bound one MQTT message of points.
	BatchPoints int `yaml:"batch_points"`
	BatchBytes  int `yaml:"batch_bytes"`
	// MaxInflight is how many batches may await the broker's
	// acknowledgement at once.
	MaxInflight int `yaml:"max_inflight"`
	// SendDelay is how long a point, already on disk, may wait for the
	// next one to share its MQTT message, when the next is due within
	// that time (a short period). 0 sends each point at once.
	SendDelay Duration `yaml:"send_delay"`
	// ParkedSendDelay is how long points may wait while the handset is
	// parked (no movement beyond its fixes' accuracy); they go sooner in
	// place of a keep-alive ping, or when the radio is awake anyway. 0:
	// as SendDelay.
	ParkedSendDelay Duration `yaml:"parked_send_delay"`
}

// Platform selects and reaches the management platform.
type Platform struct {
	// Dialect is the platform's API: none (settings come from this file
	// only), corp (/v1/corp/web, seed 000) or wapi (/wapi, seed 003).
	Dialect string `yaml:"dialect"`
	// BaseURL is the platform's address, e.g. https://platform.example.com.
	// https is verified; http only to loopback unless allow_plaintext.
	BaseURL string `yaml:"base_url"`
	// AllowPlaintext permits http:// to a host that is not loopback: the
	// password hash and the access token then cross the network in clear.
	AllowPlaintext bool `yaml:"allow_plaintext"`
	// CAFile is a PEM bundle of the CAs that may sign the platform's
	// certificate; empty means the system's CAs.
	CAFile string `yaml:"ca_file"`
	// Account is the login account; empty means device.account.
	Account string `yaml:"account"`
	// Login is the corp login call: name (login-by-name) or account
	// (login, which takes an account or a phone number).
	Login string `yaml:"login"`
	// Poll is the period of the fallback sync with events off.
	Poll Duration `yaml:"poll"`
	// PollWithEvents is the period of the fallback sync with events on
	// (events bring changes; the poll only catches one the platform failed
	// to send). It waits for the radio's next wake-up, up to
	// mqtt.keepalive.
	PollWithEvents Duration `yaml:"poll_with_events"`
	// FullRefresh is how often a sync reads everything, trusting none of
	// the platform's version counters (jittered ±10 %, done by the next
	// poll after it is due); the first sync after start always does.
	FullRefresh Duration `yaml:"full_refresh"`
	// WapiLogin is how a wapi handset gets its token: token
	// (platform_token from the secrets file; seed 003 has no login call)
	// or user-login (POST /wapi/user/login with platform_password, which
	// pttsim serves and seed 003 does not document).
	WapiLogin string `yaml:"wapi_login"`
	// RequestTimeout bounds one HTTP request to the platform.
	RequestTimeout Duration `yaml:"request_timeout"`
	// Events subscribes to the platform's pushed events over MQTT.
	Events bool `yaml:"events"`
}

// Default returns the configuration every loaded file starts from.
func Default() Config {
	c := Config{
		StateDir:   "/var/lib/pttagent",
		RuntimeDir: "/run/pttagent",
		// Created by the package; the agent keeps its own group when it
		// does not exist (a bench, a test).
		StatusGroup: "pttagent-status",
		Log:         Log{Level: "info"},
		GPS: GPS{
			Baud:           9600,
			SilenceTimeout: Duration(5 * time.Second),
			// gps.DefaultModemTimeout: modules answer GNSS commands within
			// a second or two, a busy one in several.
			Modem: GPSModem{Timeout: Duration(5 * time.Second)},
		},
		MQTT: MQTT{
			TopicPrefix: "ptt",
			// Five minutes, not the customary 30 s: a ping is a radio
			// wake-up, and a parked handset's track messages, held to
			// share one, replace the pings (docs/config.md).
			KeepAlive:      Duration(5 * time.Minute),
			ConnectTimeout: Duration(15 * time.Second),
			ReconnectMin:   Duration(1 * time.Second),
			ReconnectMax:   Duration(2 * time.Minute),
			AckTimeout:     Duration(30 * time.Second),
		},
		Tracks: Tracks{
			LocShare: true,
			Track:    1,
			// The seed's track sample of a track:1 device is spaced 60 s:
			// "high" is what the platform already shows operators.
			Periods: Periods{
				High:   Duration(60 * time.Second),
				Medium: Duration(180 * time.Second),
				Low:    Duration(600 * time.Second),
			},
			Corner: CornerPeg{
				MinSpeed: 5,
				MinTurn:  28,
				// SmartBeaconing's customary 255 deg·mph, in km/h.
				TurnSlope:   410,
				MinInterval: Duration(15 * time.Second),
			},
			Queue: QueueOptions{
				MaxPoints:   100_000,
				BatchPoints: 50,
				BatchBytes:  4096,
				MaxInflight: 4,
				// Pairs of points at a 10 s period: the 232 bytes of
				// TCP/IP, TLS and MQTT around every message are paid
				// once for two.
				SendDelay: Duration(15 * time.Second),
				// One message per keep-alive period while parked.
				ParkedSendDelay: Duration(5 * time.Minute),
			},
			Encoding: "auto",
		},
		Platform: Platform{
			Dialect: "none",
			Login:   "name",
			Poll:    Duration(2 * time.Minute),
			// Events bring changes; this poll only catches one the
			// platform failed to send. Each costs ~9 kB (a full read, as
			// full_refresh is shorter): hourly was half of a parked
			// handset's 0.4 MB a day.
			PollWithEvents: Duration(2 * time.Hour),
			FullRefresh:    Duration(time.Hour),
			WapiLogin:      "token",
			RequestTimeout: Duration(15 * time.Second),
			Events:         true,
		},
	}
	pttDefaults(&c)
	messagesDefaults(&c)
	emergencyDefaults(&c)
	return c
}
