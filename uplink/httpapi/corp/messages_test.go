package corp_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pttagent/pttagent/platform"
)

// The seed's history answer (message-get-group-history-message), every
// type it shows, newest first.
const seedHistory = `{"errcode":0,"errmsg":"请求成功","data":{"messages":[
{"msg_id":173614424,"user_id":1253539,"created":1736405058,"type":7,"content":null},
{"msg_id":173614422,"user_id":1253539,"created":1736404932,"type":4,"content":{"image":"https://x/PDF.png","file_url":"https://x/1.pdf","file_size":138265,"file_name":"d1.pdf"}},
{"msg_id":173614419,"user_id":1253539,"created":1736217716,"type":6,"content":{"image":"https://x/1.jpg","latitude":22.673783,"longitude":114.065043,"name":"宝能大厦宝能科技园","address":"深圳市龙华区龙华街道"}},
{"msg_id":173614418,"user_id":1253539,"created":1736146058,"type":0,"content":"124245454"},
{"msg_id":173614416,"user_id":1253539,"created":1736145940,"type":3,"content":{"url":"http://weilacorp.oss-cn-shenzhen.aliyuncs.com/media/cg/81000291/202616/a/1253539_1736145940_8?duration=8","duration":8}},
{"msg_id":173614414,"user_id":1253540,"created":1736144180,"type":1,"content":{"image":"https://x/2.jpg"}},
{"msg_id":173614412,"user_id":1253540,"created":1736144128,"type":3,"content":{"url":"http://x/a?duration=2","duration":"2"}}
],"users":[{"user_id":1253539,"user_num":"70014117","name":"ent69472549","avatar":"http://favicon.weila.hk/default/user.png"},
{"user_id":1253540,"user_num":"70014118","name":"","avatar":""}]}}`

const seedGroupMembers = `{"errcode":0,"errmsg":"请求成功","data":{"members":[
{"user_id":1253497,"user_num":"70014622","sex":0,"name":"清湖-企业主","avatar":"","dept_id":0,"country_code":"86","phone":"18926020729","type":255,"tts":1,"loc_share":0,"track":0,"state":0,"created":1732263378,"online":0,"dept_name":""},
{"user_id":1253500,"user_num":"70012637","sex":0,"name":"技术-王五","avatar":"","dept_id":2,"country_code":"86","phone":"13800005555","type":0,"tts":0,"loc_share":1,"track":0,"state":0,"created":1732264968,"online":1,"dept_name":"技术部"},
{"user_id":1253501,"user_num":"70012638","sex":0,"name":"x","avatar":"","dept_id":2,"country_code":"86","phone":"","type":0,"tts":0,"loc_share":1,"track":0,"state":0,"created":1732264968,"online":"1","dept_name":"技术部"}]}}`

// The history reads as the seed shows it: text and voice with their
// content, the other types by type alone, senders named from the users
// list (by number when it has no name), in the platform's order.
func TestGroupHistoryFromTheSeed(t *testing.T) {
	var asked map[string]int64
	c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/corp/web/login-by-name":
			io.WriteString(w, seedLogin)
		case "/v1/corp/web/message-get-group-history-message":
			b, _ := io.ReadAll(r.Body)
			json.Unmarshal(b, &asked)
			io.WriteString(w, seedHistory)
		case "/v1/corp/web/group-member-getall":
			io.WriteString(w, seedGroupMembers)
		default:
			t.Errorf("asked %s", r.URL.Path)
		}
	})
	msgs, err := c.GroupHistory(t.Context(), 81000291, 20)
	if err != nil {
		t.Fatal(err)
	}
	if asked["group_id"] != 81000291 || asked["msg_count"] != 20 || asked["msg_id"] != 0 {
		t.Errorf("asked %v", asked)
	}
	var types []int
	for _, m := range msgs {
		types = append(types, m.Type)
	}
	if !slices.Equal(types, []int{7, 4, 6, 0, 3, 1, 3}) {
		t.Fatalf("types %v", types)
	}
	if m := msgs[3]; m.Text != "124245454" || m.ID != 173614418 || m.From != 1253539 || m.FromName != "ent69472549" ||
		!m.Created.Equal(time.Unix(1736146058, 0)) || m.Group != 81000291 {
		t.Errorf("text %+v", m)
	}
	if m := msgs[4]; m.VoiceURL != "http://weilacorp.oss-cn-shenzhen.aliyuncs.com/media/cg/81000291/202616/a/1253539_1736145940_8?duration=8" ||
		m.VoiceDuration != 8*time.Second {
		t.Errorf("voice %+v", m)
	}
	if m := msgs[6]; m.VoiceDuration != 2*time.Second || m.FromName != "70014118" {
		t.Errorf("voice with a string duration, sender without a name: %+v", m)
	}
	if m := msgs[0]; m.Text != "" || m.VoiceURL != "" {
		t.Errorf("a recalled message %+v", m)
	}
	if msgs, _ := c.GroupHistory(t.Context(), 81000291, 2); len(msgs) != 2 {
		t.Errorf("count 2: %d messages", len(msgs))
	}
	p, err := c.Online(t.Context(), 81000738, nil)
	if err != nil || !slices.Equal(p.Online, []int64{1253500, 1253501}) || p.InGroupKnown {
		t.Errorf("online %+v %v", p, err)
	}
	if p, _ := c.Online(t.Context(), 81000738, []int64{1253501}); !slices.Equal(p.Online, []int64{1253501}) {
		t.Errorf("online of the members asked: %+v", p)
	}
	var _ platform.History = c
}

// Whatever the platform answers to a history read, GroupHistory returns
// messages with an id, the group asked, at most the count asked — or an
// error; it never panics.
func FuzzGroupHistory(f *testing.F) {
	f.Add([]byte(seedHistory))
	f.Add([]byte(`{"errcode":0,"data":{"messages":[{"msg_id":1,"type":3,"content":{"url":5,"duration":-1}}]}}`))
	f.Add([]byte(`{"errcode":0,"data":{"messages":[{"msg_id":"2","type":"0","content":{"a":1}}],"users":null}}`))
	var body atomic.Value
	c := newClient(f, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/corp/web/login-by-name" {
			io.WriteString(w, seedLogin)
			return
		}
		w.Write(body.Load().([]byte))
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		body.Store(b)
		msgs, err := c.GroupHistory(t.Context(), 81000291, 5)
		if err != nil {
			return
		}
		if len(msgs) > 5 {
			t.Fatalf("%d messages", len(msgs))
		}
		for _, m := range msgs {
			if m.ID <= 0 || m.Group != 81000291 || m.VoiceDuration < 0 {
				t.Fatalf("%+v", m)
			}
		}
	})
}
