package health

import "time"

// The handset's warnings, each with the part that reports it. Names are
// an interface (status --json, STATUS=, scripts, docs/status.md).
var (
	// GPSAbsent: the receiver's serial device cannot be opened, or was
	// lost. Reported by gps.Source (OnState).
	GPSAbsent = &Warnable{Name: "gps-device-absent", TimeToVisible: 10 * time.Second,
		Hint: "plug the receiver in; check gps.device (ls -l /dev/serial/by-id/) and that the service user is in group dialout"}
	// GPSNoFix: no valid fix for gps.FixMaxAge. Reported by the agent,
	// which sees every fix on its way to the track reporter. Short, so
	// the user hears "GPS fix lost" soon after it is.
	GPSNoFix = &Warnable{Name: "gps-no-fix", TimeToVisible: 3 * time.Second, DependsOn: []*Warnable{GPSAbsent},
		Hint: "sky view and antenna; a cold start takes up to a few minutes (pttagent gps watch shows the satellites)"}
	// UplinkDown: not connected to any broker. Reported by the agent from
	// the MQTT client's state changes.
	UplinkDown = &Warnable{Name: "uplink-down", TimeToVisible: 5 * time.Second,
		Hint: "network, DNS, mqtt.brokers, TLS and the MQTT password: see the uplink's last error"}
	// QueueBehind: more than QueueBacklog points wait for the broker.
	// Reported by the agent from the queue's length.
	QueueBehind = &Warnable{Name: "queue-backlog", TimeToVisible: 5 * time.Minute,
		Hint: "a long or slow outage; nothing is lost, the points wait on disk"}
	// QueueWriteFailed: a track point could not be stored. Reported by
	// the agent from the track reporter's last error.
	QueueWriteFailed = &Warnable{Name: "queue-write-failed",
		Hint: "disk full or state_dir not writable (df, ls -ld state_dir)"}
	// PlatformSyncFailing: fetching the member's settings and groups from
	// the platform fails; the handset runs on its last known state. Since
	// says since when. Reported by the platform client the agent wraps.
	PlatformSyncFailing = &Warnable{Name: "platform-sync-failing", TimeToVisible: time.Minute,
		Hint: "platform.base_url, the network, platform_password in the secrets file; the handset keeps its last known settings"}
	// SoundAbsent: the sound card cannot be opened; push-to-talk waits
	// for it and retries. Reported by push-to-talk.
	SoundAbsent = &Warnable{Name: "sound-card-absent",
		Hint: "check audio.capture_device and audio.playback_device (aplay -L, arecord -L); push-to-talk retries every 10 s"}
	// SoundFailing: the microphone or speaker failed while in use;
	// push-to-talk restarts it. Reported by push-to-talk, cleared once the
	// device works again.
	SoundFailing = &Warnable{Name: "sound-card-failing",
		Hint: "the sound card failed in use (USB cable, driver): see the journal; push-to-talk restarts it"}
	// BatteryLow: the battery is at or below board.low_battery and not
	// charging. Reported by push-to-talk, which reads the battery.
	BatteryLow = &Warnable{Name: "battery-low", Hint: "charge the handset"}
)

// Conditions other parts will report; declared here so that their names
// and delays are settled in one place.
var (
	// TokenRefused: the platform refuses the handset's credentials (a
	// wapi token revoked, a corp password changed). For the platform
	// clients (uplink/httpapi), on an authentication error.
	TokenRefused = &Warnable{Name: "platform-credentials-refused",
		Hint: "the platform refuses this handset's password or token: check the secrets file against the platform"}
	// QueueCorrupt: the track queue on disk could not be read and was set
	// aside. For uplink/queue, when it opens.
	QueueCorrupt = &Warnable{Name: "queue-corrupt",
		Hint: "the track queue in state_dir was damaged and set aside; points in it may be lost"}
	// Deprovisioned: the platform took the handset out of service (member
	// deleted or expired, terminal taken back or in repair, user not
	// activated, disabled, stunned or killed); the detail says which.
	// Reported by the agent from the platform sync's model; cleared when
	// the platform gives the handset back.
	Deprovisioned = &Warnable{Name: "deprovisioned",
		Hint: "the platform's operator took this handset out of service; it comes back by itself when the platform re-enables it (or re-provision it)"}
)

// QueueBacklog is how many waiting points make QueueBehind hold.
const QueueBacklog = 1000
