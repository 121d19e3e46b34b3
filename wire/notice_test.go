package wire

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNoticeRoundTrip(t *testing.T) {
	n := Notice{ID: 7, Time: 1736146058, From: NoticeFrom{ID: 1253539, Name: "Dispatch"}, Title: "Storm warning",
		Content: "All units return to base by 18:00", Accessory: []NoticeAttachment{{Name: "map.pdf", URL: "https://p/files/map.pdf"}}}
	b, _ := json.Marshal(n)
	got, err := DecodeNotice(b)
	if err != nil || got.Title != n.Title || got.Accessory[0] != n.Accessory[0] || got.From != n.From {
		t.Fatalf("%+v %v", got, err)
	}
	for _, s := range []string{`{}`, `{"title":""}`, `[]`, `{"title":5}`, `null`} {
		if _, err := DecodeNotice(json.RawMessage(s)); err == nil {
			t.Errorf("%s decoded", s)
		}
	}
}

func TestDecodeWapiIDs(t *testing.T) {
	if ids, err := DecodeWapiIDs(json.RawMessage(`{"id":[1,2]}`)); err != nil || len(ids) != 2 {
		t.Errorf("%v %v", ids, err)
	}
	big := `{"id":[` + strings.Repeat("1,", MaxWapiIDs) + `1]}`
	for _, s := range []string{`{}`, `{"id":[]}`, `{"id":["x"]}`, big} {
		if _, err := DecodeWapiIDs(json.RawMessage(s)); err == nil {
			t.Errorf("%.40s decoded", s)
		}
	}
}

// Notices and wapi events come over the broker: any content decodes or
// fails, never panics.
func FuzzDecodeNotice(f *testing.F) {
	f.Add([]byte(`{"id":1,"from":{"id":1,"name":"D"},"title":"t","content":"c","accessory":[{"name":"a","url":"u"}]}`))
	f.Add([]byte(`{"id":[1,2]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := DecodeNotice(b); err == nil && n.Title == "" && n.Content == "" {
			t.Fatal("a notice without title or content")
		}
		if ids, err := DecodeWapiIDs(b); err == nil && (len(ids) == 0 || len(ids) > MaxWapiIDs) {
			t.Fatalf("%d ids", len(ids))
		}
	})
}
