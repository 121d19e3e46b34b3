package corp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/httpapi"
)

// The corp calls push-to-talk uses beside the sync: a group's history
// (missed messages), its files (voice messages), and who is online.

var (
	_ platform.History = (*Client)(nil)
	_ platform.Roster  = (*Client)(nil)
)

// HistoryMessage is an entry of message-get-group-history-message, as the
// seed shows it: content is a string for text (type 0), {"url","duration"}
// for voice (type 3), other objects for the other types, or null.
type HistoryMessage struct {
	MsgID   httpapi.Int     `json:"msg_id"`
	UserID  httpapi.Int     `json:"user_id"`
	Created httpapi.Int     `json:"created"`
	Type    httpapi.Int     `json:"type"`
	Content json.RawMessage `json:"content"`
}

// HistoryUser is an entry of the history's users list.
type HistoryUser struct {
	UserID  httpapi.Int `json:"user_id"`
	UserNum httpapi.Str `json:"user_num"`
	Name    string      `json:"name"`
	Avatar  string      `json:"avatar"`
}

// MaxHistory is the most messages one history call asks for.
const MaxHistory = 100

// GroupHistory implements platform.History with
// message-get-group-history-message {group_id, msg_id: 0, msg_count}: the
// newest messages, newest first. A message whose content does not match
// its type is kept with its type and no content (the handset skips it).
func (c *Client) GroupHistory(ctx context.Context, group int64, count int) ([]platform.Message, error) {
	const op = "/v1/corp/web/message-get-group-history-message"
	count = max(1, min(count, MaxHistory))
	var d struct {
		Messages []HistoryMessage `json:"messages"`
		Users    []HistoryUser    `json:"users"`
	}
	if err := c.call(ctx, op, map[string]int64{"group_id": group, "msg_id": 0, "msg_count": int64(count)}, &d); err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, u := range d.Users {
		name := u.Name
		if name == "" {
			name = string(u.UserNum)
		}
		names[int64(u.UserID)] = name
	}
	out := make([]platform.Message, 0, min(len(d.Messages), count))
	for _, hm := range d.Messages {
		if len(out) == count {
			break
		}
		if hm.MsgID <= 0 {
			return nil, &httpapi.Malformed{Op: op, Err: fmt.Errorf("msg_id %d", hm.MsgID)}
		}
		m := platform.Message{ID: int64(hm.MsgID), Group: group, From: int64(hm.UserID), FromName: names[int64(hm.UserID)],
			Created: time.Unix(int64(hm.Created), 0), Type: int(hm.Type)}
		switch m.Type {
		case platform.MessageText:
			if json.Unmarshal(hm.Content, &m.Text) != nil {
				m.Text = ""
			}
		case platform.MessageVoice:
			var v struct {
				URL      string        `json:"url"`
				Duration httpapi.Float `json:"duration"`
			}
			if json.Unmarshal(hm.Content, &v) == nil && v.URL != "" && v.Duration >= 0 && v.Duration < 24*3600 {
				m.VoiceURL, m.VoiceDuration = v.URL, time.Duration(float64(v.Duration)*float64(time.Second))
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// FetchFile implements platform.History: a file of the platform's own
// address (voice messages), without the access token.
func (c *Client) FetchFile(ctx context.Context, url string, limit int64) ([]byte, error) {
	return c.HTTP.Fetch(ctx, url, limit)
}

// Online implements platform.Roster with group-member-getall, whose
// members carry "online" (0/1). Corp cannot say which group a member
// listens to.
func (c *Client) Online(ctx context.Context, group int64, members []int64) (platform.Presence, error) {
	var gm struct {
		Members []GroupMember `json:"members"`
	}
	if err := c.call(ctx, "/v1/corp/web/group-member-getall", map[string]int64{"group_id": group}, &gm); err != nil {
		return platform.Presence{}, err
	}
	want := map[int64]bool{}
	for _, id := range members {
		want[id] = true
	}
	p := platform.Presence{Online: []int64{}}
	for _, m := range gm.Members {
		id := int64(m.UserID)
		if m.Online != nil && *m.Online != 0 && (len(members) == 0 || want[id]) {
			p.Online = append(p.Online, id)
		}
	}
	return p, nil
}

// errNotListed is the cause of a GoneError: the address list does not
// list the member this client is logged in as.
var errNotListed = errors.New("the address list no longer lists this member")

// notListed is the error of an address list without this member. The
// platform answers for the member's session but does not list it:
// deleted — when the list lists anyone (an empty one is a broken answer),
// and twice in a row (the sync retries a failure within seconds): one
// answer alone must not take a handset out of service. Then the session
// is dropped, so that the next fetch logs in again — as a member created
// again, if it was.
func (c *Client) notListed(al *AddressList, uid, org int64) error {
	err := fmt.Errorf("%w (member %d, %s, org %d)", errNotListed, uid, c.Account, org)
	const op = "/v1/corp/web/get-address-list"
	listed := len(al.Members)
	for _, d := range al.Depts {
		listed += len(d.Members)
	}
	if listed == 0 {
		return &httpapi.Malformed{Op: op, Err: errors.New("an address list without members")}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unlisted++
	if c.unlisted < 2 {
		return fmt.Errorf("platform %s: %w; asking again before believing it", op, err)
	}
	c.token, c.refresh, c.unlisted = "", "", 0
	return &platform.GoneError{State: platform.StateDeleted, Op: op, Err: err}
}
