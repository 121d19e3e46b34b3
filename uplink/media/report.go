package media

import "time"

// Report is what the relay measured while this handset talked.
type Report struct {
	Time time.Time `json:"time"`
	// UpLoss is the share (0–1) of this handset's packets the relay did
	// not get in the last interval, UpJitterMs their interarrival jitter.
	UpLoss     float64 `json:"up_loss"`
	UpJitterMs float64 `json:"up_jitter_ms"`
	// UpQueueMs is how much later than at their quickest in this burst
	// its packets reach the relay now: voice queueing behind itself.
	UpQueueMs float64 `json:"up_queue_ms"`
	// DownLoss and DownJitterMs are the worst listener's over UDP, of
	// the Listeners that reported since the relay's last report (each
	// listener report reaches the talker once; 0 Listeners: no news).
	DownLoss     float64 `json:"down_loss"`
	DownJitterMs float64 `json:"down_jitter_ms"`
	// DownQueueMs is the worst listener's queueing delay: voice that
	// outgrew a listener's downlink waits there.
	DownQueueMs float64 `json:"down_queue_ms"`
	Listeners   int     `json:"listeners"`
}

// QueueMs is the worse of the two queueing delays.
func (r Report) QueueMs() float64 { return max(r.UpQueueMs, r.DownQueueMs) }

// Loss is the worse of the uplink's and the listeners' loss.
func (r Report) Loss() float64 { return max(r.UpLoss, r.DownLoss) }

// JitterMs is the worse of the two jitters.
func (r Report) JitterMs() float64 { return max(r.UpJitterMs, r.DownJitterMs) }

// Stats describe the media path for status.
type Stats struct {
	Path         string  `json:"path"` // "udp" or "mqtt": where voice goes now
	Up           bool    `json:"up"`   // UDP delivers: the MQTT voice subscription is not needed
	Relay        string  `json:"relay,omitempty"`
	SSRC         uint32  `json:"ssrc,omitempty"`
	Sessions     uint64  `json:"sessions"` // sessions received from the platform
	SessionError string  `json:"session_error,omitempty"`
	Downs        uint64  `json:"downs"` // times UDP went down
	Sent         uint64  `json:"sent"`  // voice packets
	SentBytes    uint64  `json:"sent_bytes"`
	SendErrors   uint64  `json:"send_errors"`
	Received     uint64  `json:"received"` // voice packets
	RecvBytes    uint64  `json:"received_bytes"`
	Lost         int64   `json:"lost"` // voice packets the relay sent that never came
	Late         uint64  `json:"late"` // came after a later one
	AuthFailures uint64  `json:"auth_failures"`
	Replayed     uint64  `json:"replayed"`
	Malformed    uint64  `json:"malformed"`
	Foreign      uint64  `json:"foreign"` // from an address that is not the relay's
	Probes       uint64  `json:"probes"`  // keep-alives sent
	Echoes       uint64  `json:"echoes"`
	RTTMs        float64 `json:"rtt_ms,omitempty"`     // of the last echo
	RTTVarMs     float64 `json:"rtt_var_ms,omitempty"` // how much it varies (RoundTrip)
	Listening    int64   `json:"listening,omitempty"`
	Report       *Report `json:"report,omitempty"`
}
