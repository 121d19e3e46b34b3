package platform

import (
	"context"
	"time"
)

// Message is one entry of a group's history (corp
// message-get-group-history-message), as the handset catches up with
// what it missed.
type Message struct {
	ID    int64 `json:"id"`
	Group int64 `json:"group"`
	// From is the sender's member id; FromName its name (or user number)
	// as the history's users list gives it.
	From     int64     `json:"from"`
	FromName string    `json:"from_name,omitempty"`
	Created  time.Time `json:"created"`
	Type     int       `json:"type"` // MessageText, MessageVoice, or another of the seed's types
	// Text of a text message.
	Text string `json:"text,omitempty"`
	// VoiceURL and VoiceDuration of a voice message ({"url","duration"}).
	VoiceURL      string        `json:"voice_url,omitempty"`
	VoiceDuration time.Duration `json:"voice_duration,omitempty"`
}

// The seed's message types the handset plays: 0 text, 3 voice. (1 image,
// 2 video, 4 file, 6 location, 7 recalled, 255 unsupported are left to
// the platform's other clients.)
const (
	MessageText  = 0
	MessageVoice = 3
)

// History reads a group's messages, for catching up after the handset
// was offline or listening to another group.
type History interface {
	// GroupHistory returns up to count of the group's newest messages,
	// newest first, as the platform keeps them.
	GroupHistory(ctx context.Context, group int64, count int) ([]Message, error)
	// FetchFile reads a file the platform serves (a voice message's URL):
	// only from the platform's own address, at most max bytes.
	FetchFile(ctx context.Context, url string, max int64) ([]byte, error)
}

// Presence is who of a group's members is online now.
type Presence struct {
	Online []int64 // member ids online
	// InGroup are those online with this group as their active one
	// (wapi group/cgt/inThisGroupUids); InGroupKnown is false where the
	// platform cannot say (corp).
	InGroup      []int64
	InGroupKnown bool
}

// Roster asks the platform who is online.
type Roster interface {
	// Online says which of members (of group) are online.
	Online(ctx context.Context, group int64, members []int64) (Presence, error)
}
