package ptt

import (
	"github.com/pttagent/pttagent/audio"
)

// Status is push-to-talk for `pttagent status`; its JSON field names are
// part of that interface.
type Status struct {
	// AudioError says why the sound card is not in use ("" when it is).
	AudioError      string  `json:"audio_error,omitempty"`
	Floor           string  `json:"floor"` // idle, pending-request, has-permission, queued, pending-release
	ActiveGroup     int64   `json:"active_group,omitempty"`
	ActiveGroupName string  `json:"active_group_name,omitempty"`
	Speaker         string  `json:"speaker,omitempty"` // who has the floor in the active group
	QueuePosition   int     `json:"queue_position,omitempty"`
	TalkLimitS      float64 `json:"talk_limit_s,omitempty"` // while talking
	LastCause       string  `json:"last_cause,omitempty"`   // of the last deny or revoke
	Receiving       bool    `json:"receiving"`
	Playing         bool    `json:"playing"` // the speaker plays (or is about to) voice, a prompt or a tone
	TTS             bool    `json:"tts"`
	Volume          int     `json:"volume"` // speaker level, 1–10
	// Transport is the voice path in use: "udp" (the media relay) or
	// "mqtt" (the broker).
	Transport string `json:"transport"`
	// VoiceCopy: a second broker connection carries a copy of the voice
	// (over MQTT, around talk); VoiceCopies counts its openings, and
	// VoiceCopyBackOffs the times it closed because voice queued.
	VoiceCopy         bool   `json:"voice_copy"`
	VoiceCopies       uint64 `json:"voice_copies,omitempty"`
	VoiceCopyBackOffs uint64 `json:"voice_copy_back_offs,omitempty"`
	// Bitrate is the encoder's, when the link adaptation changed it.
	Bitrate int `json:"bitrate,omitempty"`

	Requests    uint64 `json:"requests"`     // floor requests sent
	Grants      uint64 `json:"grants"`       //
	Denies      uint64 `json:"denies"`       // by the platform, or no answer
	LocalDenies uint64 `json:"local_denies"` // refused on the handset (state, rights, no group)
	Revokes     uint64 `json:"revokes"`      //
	Queued      uint64 `json:"queued"`       // requests that were queued

	// LastGrantMs: PTT pressed → floor granted (the grant tone), last burst.
	LastGrantMs float64 `json:"last_grant_ms,omitempty"`
	// LastAccessMs: PTT pressed → first voice packet sent, last burst.
	LastAccessMs float64 `json:"last_access_ms,omitempty"`
	// LastMouthToEarMs: the first frame of the last burst heard, from its
	// capture on the speaker's handset to this speaker (clocks permitting).
	LastMouthToEarMs float64 `json:"last_mouth_to_ear_ms,omitempty"`

	BurstsSent    uint64 `json:"bursts_sent"`
	FramesSent    uint64 `json:"frames_sent"`
	PacketsSent   uint64 `json:"packets_sent"`
	BurstsHeard   uint64 `json:"bursts_heard"`
	VoiceReceived uint64 `json:"voice_received"` // packets handed to the jitter buffer
	VoiceIgnored  uint64 `json:"voice_ignored"`  // packets of another group, our own, or while talking
	VoiceBad      uint64 `json:"voice_bad"`      // malformed packets
	FloorBad      uint64 `json:"floor_bad"`      // malformed floor messages
	TextMessages  uint64 `json:"text_messages"`
	// TextsCut counts texts (messages, notices, names) cut to the
	// spoken bound.
	TextsCut uint64 `json:"texts_cut,omitempty"`
	// Withdrawn says why the platform took the handset out of service
	// (member deleted, terminal in repair, user stunned, …); "" in service.
	Withdrawn       string         `json:"withdrawn,omitempty"`
	NoticesReceived uint64         `json:"notices_received"`
	Notices         []NoticeStatus `json:"notices,omitempty"` // the last few, oldest first
	Missed          MissedStatus   `json:"missed"`
	Online          *OnlineStatus  `json:"online,omitempty"` // who is online in the active group
	Prompts         uint64         `json:"prompts"`
	// PromptsPending counts prompts and clips queued or being rendered,
	// not yet on the speaker.
	PromptsPending int `json:"prompts_pending,omitempty"`
	// PromptsDropped counts prompts and tones not played: their queue was full.
	PromptsDropped uint64 `json:"prompts_dropped"`

	// Emergency is this handset's alert while it stands (the SOS key).
	Emergency *EmergencyStatus `json:"emergency,omitempty"`
	// EmergencyCall: the active group's speaker talks in an emergency;
	// EmergencyCalls counts those heard.
	EmergencyCall  bool   `json:"emergency_call,omitempty"`
	EmergencyCalls uint64 `json:"emergency_calls"`

	Jitter     *audio.JitterStats `json:"jitter,omitempty"`
	Capture    *audio.DeviceStats `json:"capture,omitempty"`
	Playback   *audio.DeviceStats `json:"playback,omitempty"`
	Battery    *BatteryStatus     `json:"battery,omitempty"`
	Recordings *RecordingsStatus  `json:"recordings,omitempty"`
}

// BatteryStatus is the last battery reading.
type BatteryStatus struct {
	Percent  int    `json:"percent"` // -1: unknown
	Charging bool   `json:"charging"`
	Status   string `json:"status,omitempty"`
}

// RecordingsStatus is the recording queue.
type RecordingsStatus struct {
	Queued    int    `json:"queued"` // waiting for upload or report
	Bytes     int64  `json:"bytes"`
	Recorded  uint64 `json:"recorded"`
	Uploaded  uint64 `json:"uploaded"`
	Reported  uint64 `json:"reported"`
	Dropped   uint64 `json:"dropped"` // the queue was full
	Recovered uint64 `json:"recovered"`
	Failures  uint64 `json:"failures"`
	LastError string `json:"last_error,omitempty"`
}

// Status takes a snapshot; safe at any time, also before Run.
func (p *PTT) Status() Status {
	p.mu.Lock()
	s, snd, q := p.st, p.snd, p.recs
	p.mu.Unlock()
	if snd != nil {
		if snd.dev.Stats != nil {
			c, pl := snd.dev.Stats()
			s.Capture, s.Playback = &c, &pl
		}
		j := snd.out.VoiceStats()
		s.Jitter = &j
		s.PromptsDropped += snd.out.Dropped()
		s.Playing = snd.out.Playing()
		if snd.prompter != nil {
			s.PromptsPending = snd.prompter.Pending()
		}
	}
	if q != nil {
		r := q.Stats()
		s.Recordings = &RecordingsStatus{Queued: r.Queued, Bytes: r.Bytes, Recorded: r.Recorded, Uploaded: r.Uploaded,
			Reported: r.Reported, Dropped: r.Dropped, Recovered: r.Recovered, Failures: r.Failures, LastError: r.LastError}
	}
	return s
}

// setStatus changes the status under its lock; the voice handlers count
// through it too (the closures capture nothing: no allocation).
func (p *PTT) setStatus(f func(*Status)) {
	p.mu.Lock()
	f(&p.st)
	p.mu.Unlock()
}
