package wire

import (
	"encoding/json"
	"testing"
)

// A group text message comes from whoever made the platform send it: any
// content decodes or fails, never panics, and what decodes keeps its group
// and text through an encode and decode.
func FuzzDecodeGroupMessage(f *testing.F) {
	f.Add([]byte(`{"group":{"id":80000528,"name":"Patrol"},"message":{"msg_id":1,"user_id":2,"created":3,"type":0,"content":"hello"},"user":{"user_id":2,"user_num":"h1","name":"A"}}`))
	f.Add([]byte(`{"group":{"id":1},"message":{"type":3,"content":{"url":"http://x/y.amr","duration":3}}}`))
	f.Add([]byte(`{"group":{"id":1},"message":{"type":0,"content":"\u001b[2J\ud800"}}`))
	f.Add([]byte(`{"group":{"id":-1}}`))
	f.Add([]byte(`{"group":{"id":1},"message":{"type":0,"content":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeGroupMessage(b)
		if err != nil {
			return
		}
		if m.Group.ID <= 0 {
			t.Fatalf("accepted group id %d", m.Group.ID)
		}
		text, isText := m.Text()
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("%+v does not encode: %v", m, err)
		}
		m2, err := DecodeGroupMessage(again)
		if err != nil {
			t.Fatalf("%s does not decode again: %v", again, err)
		}
		if text2, isText2 := m2.Text(); m2.Group != m.Group || text2 != text || isText2 != isText {
			t.Fatalf("%+v became %+v", m, m2)
		}
	})
}

// The retained capabilities come from the broker: whatever it holds
// decodes or is refused, never panics, and a decoded one is sane.
func FuzzDecodePlatformCaps(f *testing.F) {
	f.Add([]byte(`{"v":1,"track_versions":[1,2],"ts":1764547200}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"track_versions":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodePlatformCaps(b)
		if err == nil && (c.V != 1 || len(c.TrackVersions) > 16) {
			t.Fatalf("accepted %+v", c)
		}
	})
}
