package wapi

import (
	"context"
	"net/http"

	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/httpapi"
)

var _ platform.Roster = (*Client)(nil)

// Online implements platform.Roster with the seed's two presence calls:
// pttUser/isOnline {gid, uids} (online, in the group or not) and
// group/cgt/inThisGroupUids (online and in the group: listening to it).
func (c *Client) Online(ctx context.Context, group int64, members []int64) (platform.Presence, error) {
	body := map[string]any{"gid": group, "uids": members}
	var online, in []httpapi.Int
	if err := c.call(ctx, http.MethodPost, "/wapi/pttUser/isOnline", nil, body, &online); err != nil {
		return platform.Presence{}, err
	}
	if err := c.call(ctx, http.MethodPost, "/wapi/group/cgt/inThisGroupUids", nil, body, &in); err != nil {
		return platform.Presence{}, err
	}
	p := platform.Presence{Online: ids(online, members), InGroup: ids(in, members), InGroupKnown: true}
	return p, nil
}

// ids keeps the answer's ids that were asked about, once each: a
// platform's answer names no one else.
func ids(got []httpapi.Int, asked []int64) []int64 {
	want := map[int64]bool{}
	for _, id := range asked {
		want[id] = true
	}
	out := []int64{}
	for _, v := range got {
		if id := int64(v); want[id] {
			out = append(out, id)
			delete(want, id)
		}
	}
	return out
}
