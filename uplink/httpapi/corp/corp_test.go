package corp_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/httpapi/corp"
	"github.com/pttagent/pttagent/wire"
)

// The seed's own answers, verbatim where they matter.
const (
	seedLogin = `{"errcode":0,"errmsg":"请求成功","data":{"user":{"id":1253488,"num":"70014762","sex":0,"name":"ent98164680","bind_phone":"13353236455","country_code":"86","avatar":"http://favicon.weila.hk/default/user.png"},"account":{"user_name":"70014762","country_code":"0","password":"27388e8b38d2d7491c4986e3b01a7705"},"org":{"num":100130,"name":"微喇测试","avatar":"x","creator":{"id":1253488,"num":"70014762","sex":0,"name":"ent98164680","avatar":"x"},"created":1731986807,"member_cnt":4,"group_cnt":1,"group_ver":1731989765,"address_ver":1732001188,"device_cnt":0,"device_ver":1},"access_token":"949fbf405308d13736afd3bc43f4b174","expires_in":86400,"refresh_token":"224a637da6f3a01796126ea117daa4e1"}}`
	seedError = `{"errcode": "105", "errmsg": "账号或密码错误"}`
)

func newClient(t testing.TB, h http.HandlerFunc) *corp.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	hc, err := httpapi.NewHTTP(httpapi.Options{BaseURL: srv.URL, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &corp.Client{HTTP: hc, Account: "70014762", Password: corp.HashPassword("123456")}
}

func TestPasswordIsTheSeedsMD5(t *testing.T) {
	// The seed's example requests send e10adc3949ba59abbe56e057f20f883e: MD5("123456").
	if got := corp.HashPassword("123456"); got != "e10adc3949ba59abbe56e057f20f883e" {
		t.Errorf("HashPassword = %s", got)
	}
}

func TestLoginRequestAndStringErrcode(t *testing.T) {
	var body map[string]string
	c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/corp/web/login-by-name" || r.Method != http.MethodPost {
			t.Errorf("%s %s", r.Method, r.URL)
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		io.WriteString(w, seedError)
	})
	_, err := c.Fetch(t.Context(), nil)
	var api *corp.APIError
	if !errors.As(err, &api) || api.Code != 105 || api.Msg != "账号或密码错误" {
		t.Fatalf("err = %v", err)
	}
	if body["user_name"] != "70014762" || body["password"] != "e10adc3949ba59abbe56e057f20f883e" {
		t.Errorf("login body %v", body)
	}
	if strings.Contains(err.Error(), "e10adc") {
		t.Errorf("error shows the password hash: %v", err)
	}
}

// errcode "0" as a string is success; the token goes in ?access-token= and
// never into error messages.
func TestStringZeroErrcodeAndTokenNotInErrors(t *testing.T) {
	c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/corp/web/login-by-name":
			io.WriteString(w, seedLogin)
		case "/v1/corp/web/org-my-org":
			if r.URL.Query().Get("access-token") != "949fbf405308d13736afd3bc43f4b174" {
				t.Errorf("token not sent: %s", r.URL)
			}
			io.WriteString(w, `{"errcode":"0","errmsg":"请求成功","data":{"corp":{"num":"100130","group_ver":"5","address_ver":6}}}`)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	_, err := c.Fetch(t.Context(), nil)
	if err == nil || !strings.Contains(err.Error(), "user-selfinfo") {
		t.Fatalf("want the failure at user-selfinfo after a string-0 org-my-org, got %v", err)
	}
	if strings.Contains(err.Error(), "949fbf") {
		t.Errorf("error shows the access token: %v", err)
	}
}

func base() *platform.Model {
	return &platform.Model{Dialect: "corp", Account: "dev", Self: platform.Self{ID: 10, State: platform.StateEnabled, HasSettings: true, LocShare: true, Track: 1},
		Versions: platform.Versions{Group: 5, Address: 6},
		Groups: []platform.Group{{ID: 100, Name: "A", MemberVersion: 3, My: platform.Permissions{Call: true, Speak: true},
			Members: []platform.Member{{ID: 10}, {ID: 11, Name: "B"}}}}}
}

// addressRecheck: an event changed this member; the next Fetch reads the
// address list again, nothing else.
func addressRecheck(m *platform.Model) bool {
	return m.Versions == platform.Versions{Group: 5, Address: 0} && m.Group(100).MemberVersion == 3
}

// groupRecheck: an event changed group gid; the next Fetch reads the group
// list and that group's members again, not the address list.
func groupRecheck(m *platform.Model, gid int64) bool {
	return m.Versions == platform.Versions{Group: 0, Address: 6} && m.Group(gid).MemberVersion == 0
}

// An applied event is believed until the next poll checks it: everything
// it touched has its versions cleared (issue 13.9: a forged event was
// never repaired), and nothing else.
func TestApplyEvents(t *testing.T) {
	c := &corp.Client{}
	for _, tc := range []struct {
		name, typ, content string
		refetch            bool
		check              func(m *platform.Model) bool
	}{
		{"settings", wire.EventMemberChange, `{"member":{"user_id":10,"tts":1,"loc_share":0,"track":60,"state":0,"type":1}}`, false,
			func(m *platform.Model) bool {
				return m.Self.TTS && !m.Self.LocShare && m.Self.Track == 60 && addressRecheck(m)
			}},
		{"state", wire.EventMemberStateChange, `{"member":{"user_id":10,"state":1}}`, false,
			func(m *platform.Model) bool {
				return m.Self.State == platform.StatePaused && m.Self.LocShare && addressRecheck(m)
			}},
		{"seed group change", wire.EventGroupChange, `{"group":{"avatar":"x","burst_mode":1,"created":1730452310,"creator":1253444,"id":100,"member_version":3,"name":"A2","org_num":100073,"shutup":1,"type":17,"user_count":1}}`, false,
			func(m *platform.Model) bool {
				g := m.Group(100)
				return g.Name == "A2" && g.Muted && !g.My.Speak && g.BurstMode == platform.BurstGrab && groupRecheck(m, 100)
			}},
		{"group change with new members", wire.EventGroupChange, `{"group":{"id":100,"member_version":4,"name":"A"}}`, true,
			func(m *platform.Model) bool { return m.Versions.Group == 0 && m.Group(100).MemberVersion == 0 }},
		{"not our group", wire.EventGroupChange, `{"group":{"id":999,"member_version":4}}`, false,
			func(m *platform.Model) bool {
				return m.Group(999) == nil && len(m.Groups) == 1 && m.Versions.Group == 5
			}},
		{"group delete", wire.EventGroupDelete, `{"group":{"id":100}}`, false,
			func(m *platform.Model) bool { return len(m.Groups) == 0 && m.Versions.Group == 0 }},
		{"someone joins", wire.EventGroupMemberAdd, `{"group":{"id":100,"member_version":4},"members":[{"user_id":12,"name":"C"}]}`, false,
			func(m *platform.Model) bool { return len(m.Group(100).Members) == 3 && groupRecheck(m, 100) }},
		{"we join", wire.EventGroupMemberAdd, `{"group":{"id":200,"member_version":2},"members":[{"user_id":10}]}`, true,
			func(m *platform.Model) bool { return m.Versions.Group == 0 }},
		{"someone leaves", wire.EventGroupMemberDelete, `{"group":{"id":100},"members":[{"user_id":11}]}`, false,
			func(m *platform.Model) bool { return len(m.Group(100).Members) == 1 && groupRecheck(m, 100) }},
		{"we leave", wire.EventGroupMemberDelete, `{"group":{"id":100},"members":[{"user_id":10}]}`, false,
			func(m *platform.Model) bool { return len(m.Groups) == 0 && m.Versions.Group == 0 }},
		{"our in-group priority", wire.EventGroupMemberChange, `{"group":{"id":100},"members":[{"user_id":10,"prority":2,"tts":1,"loc_share":1}]}`, false,
			func(m *platform.Model) bool { return m.Group(100).My.Priority == 2 && groupRecheck(m, 100) }},
		{"another member renamed", wire.EventMemberChange, `{"member":{"user_id":11,"name":"B2"}}`, false,
			func(m *platform.Model) bool { return m.Group(100).Members[1].Name == "B2" && groupRecheck(m, 100) }},
		{"another member deleted", wire.EventMemberDelete, `{"member":{"user_id":11}}`, false,
			func(m *platform.Model) bool { return len(m.Group(100).Members) == 1 && groupRecheck(m, 100) }},
		{"a stranger deleted", wire.EventMemberDelete, `{"member":{"user_id":99}}`, false,
			func(m *platform.Model) bool {
				return m.Versions == platform.Versions{Group: 5, Address: 6} && m.Group(100).MemberVersion == 3
			}},
		{"unknown type", "corp-new-thing", `{}`, true, func(m *platform.Model) bool { return m.Versions == platform.Versions{} }},
		{"bad content", wire.EventMemberChange, `{"member":{"user_id":"x"}}`, true, func(m *platform.Model) bool { return m.Self.Track == 1 }},
		{"no content", wire.EventMemberChange, `null`, true, func(m *platform.Model) bool { return m.Self.Track == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			next, refetch, _ := c.Apply(m, wire.Event{MsgID: 1, MsgType: tc.typ, Content: json.RawMessage(tc.content)})
			if refetch != tc.refetch || next == nil || !tc.check(next) {
				t.Errorf("refetch %v, model %+v", refetch, next)
			}
			if m.Self.Track != 1 || len(m.Groups) != 1 || len(m.Groups[0].Members) != 2 || m.Versions.Group != 5 {
				t.Errorf("Apply changed its input: %+v", m)
			}
		})
	}
}

// Whatever an event carries, Apply neither panics nor returns a model
// that fails Check, nor changes its input.
func FuzzApply(f *testing.F) {
	for _, s := range []string{`{"member":{"user_id":10,"track":3}}`, `{"group":{"id":100,"member_version":9}}`,
		`{"group":{"id":100},"members":[{"user_id":10},{"user_id":"11"}]}`, `{"group":{"id":-1}}`, `null`, `[]`, `{"member":{"user_id":10,"track":-5}}`} {
		for _, typ := range []string{wire.EventGroupChange, wire.EventGroupMemberAdd, wire.EventGroupMemberDelete, wire.EventMemberChange} {
			f.Add(typ, []byte(s))
		}
	}
	c := &corp.Client{}
	f.Fuzz(func(t *testing.T, typ string, content []byte) {
		m := base()
		next, refetch, _ := c.Apply(m, wire.Event{MsgID: 1, MsgType: typ, Content: content})
		if next == nil {
			t.Fatal("nil model")
		}
		if !refetch {
			if err := next.Check(); err != nil {
				t.Fatalf("applied a model that fails Check: %v", err)
			}
		}
		if m.Self.Track != 1 || len(m.Groups) != 1 || len(m.Groups[0].Members) != 2 {
			t.Fatalf("input changed: %+v", m)
		}
	})
}

// The answers' decoders take anything without panicking.
func FuzzDecodeAnswers(f *testing.F) {
	f.Add([]byte(seedLogin))
	f.Add([]byte(seedError))
	f.Add([]byte(`{"errcode":0,"data":{"address_list":{"version":1,"members":[{"user_id":1,"tts":"1","track":"60"}],"depts":[{"id":1,"members":[]}]}}}`))
	f.Add([]byte(`{"errcode":0,"data":{"groups":[{"id":80000528,"member_version":3,"burst_mode":0,"shutup":0}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var env corp.Envelope
		if httpapi.DecodeJSON("x", b, &env) != nil {
			return
		}
		var l corp.Login
		httpapi.DecodeJSON("x", env.Data, &l)
		var al struct {
			AddressList corp.AddressList `json:"address_list"`
		}
		httpapi.DecodeJSON("x", env.Data, &al)
		var gs struct {
			Groups []corp.Group `json:"groups"`
		}
		httpapi.DecodeJSON("x", env.Data, &gs)
	})
}
