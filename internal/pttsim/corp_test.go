package pttsim_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
)

var update = flag.Bool("update", false, "rewrite testdata/corp.golden from the simulator's answers")

// randomParts are what changes from run to run in a corp answer: tokens
// and the names of uploaded files.
var randomParts = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[0-9a-f]{32}`), "<token>"},
	{regexp.MustCompile(`/files/[0-9]+-[0-9a-f]{6}`), "/files/<name>"},
	{regexp.MustCompile(`127\.0\.0\.1:[0-9]+`), "<host>"},
}

// Every corp operation, and each way it refuses, answers what
// testdata/corp.golden holds: the answers are the protocol the agent's
// platform client was written against, so a change to the handlers that
// changes one shows here, not first on a handset.
func TestCorpAnswersAsRecorded(t *testing.T) {
	// Noon UTC is 21 November in every time zone but the farthest east,
	// where it is the 22nd: both after the history page of the 20th.
	clock := time.Date(2025, 11, 21, 12, 0, 0, 0, time.UTC)
	s := simtest.Start(t, pttsim.Options{Now: func() time.Time { return clock }})
	admin, _ := s.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin", Type: pttsim.TypeOwner, Phone: "13800000000"})
	dev, _ := s.AddMember(pttsim.MemberSpec{Num: "dev-1", Name: "D1", Password: "pw", Type: pttsim.TypeDevice})

	var out bytes.Buffer
	token := ""
	call := func(op string, withToken bool, body string) string {
		t.Helper()
		u := s.URL + "/v1/corp/web/" + op
		if withToken {
			u += "?access-token=" + token
		}
		resp, err := http.Post(u, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		fmt.Fprintf(&out, "%s %s\n%d %s\n", op, body, resp.StatusCode, b.String())
		return b.String()
	}
	login := func(body string) {
		t.Helper()
		raw := call("login-by-name", false, body)
		m := regexp.MustCompile(`"access_token":"([0-9a-f]+)"`).FindStringSubmatch(raw)
		if m == nil {
			t.Fatalf("login %s: %s", body, raw)
		}
		token = m[1]
	}

	call("login-by-name", false, `{"user_name":"admin","password":"x"}`)
	call("login-by-name", false, `{"user_name":"nobody","password":"x"}`)
	call("login", false, fmt.Sprintf(`{"account":"13800000000","password":%q}`, simtest.MD5("admin")))
	call("login", false, fmt.Sprintf(`{"account":"admin","password":%q}`, strings.ToUpper(simtest.MD5("admin"))))
	call("login-by-phone", false, fmt.Sprintf(`{"phone":"13800000000","password":%q}`, simtest.MD5("admin")))
	call("login-by-phone", false, `{"phone":"","password":""}`)
	call("user-selfinfo", false, ``)
	call("no-such-op", false, `{}`)
	call("user-selfinfo", false, `{not json`)
	login(fmt.Sprintf(`{"user_name":"admin","password":%q}`, simtest.MD5("admin")))
	call("no-such-op", true, `{}`)
	call("user-selfinfo", true, ``)
	call("org-my-org", true, ``)

	call("dept-create", true, `{"name":"Patrol"}`)
	call("dept-change", true, `{"dept_id":1,"name":"Night patrol"}`)
	call("dept-change", true, `{"dept_id":7,"name":"nothing"}`)
	call("member-create", true, fmt.Sprintf(`{"name":"Op","user_num":"op-1","phone":"13900000000","dept_id":1,"tts":1,"password":%q}`, simtest.MD5("secret")))
	call("member-create", true, `{"user_num":"op-1"}`)
	call("member-add-device", true, `{"name":"Car 2","user_num":"dev-2","loc_share":1}`)
	call("member-add-device", true, `{"name":"Car 3","track":0}`)
	call("login-by-name", false, fmt.Sprintf(`{"user_name":"op-1","password":%q}`, simtest.MD5("secret")))
	call("dept-getall", true, ``)
	call("dept-member-getall", true, `{"dept_id":1}`)
	call("get-address-list", true, `{"org_num":"100130"}`)
	call("member-getall", true, ``)
	call("member-change", true, fmt.Sprintf(`{"member_id":%d,"name":"Car 1","job_num":"J1","dept_id":1,"sex":"1","avatar":"a.png","phone":"13700000000","tts":1,"loc_share":1,"track":1}`, dev.ID))
	call("member-change", true, `{"member_id":1,"name":"x"}`)
	call("member-change-state", true, fmt.Sprintf(`{"member_id":%d,"state":1}`, dev.ID))
	call("member-change-state", true, fmt.Sprintf(`{"member_id":%d,"state":0}`, dev.ID))
	call("member-change-state", true, fmt.Sprintf(`{"member_id":%d,"state":2}`, dev.ID))
	call("member-change-state", true, fmt.Sprintf(`{"member_id":%d}`, dev.ID))
	call("member-change-state", true, `{"member_id":1,"state":0}`)

	call("group-create", true, `{"name":"Patrol","burst_mode":1}`)
	g := s.Groups()[0]
	call("group-change", true, fmt.Sprintf(`{"group_id":%d,"name":"Patrol 2","avatar":"g.png","burst_mode":0,"shutup":1}`, g.ID))
	call("group-change", true, `{"group_id":1,"name":"x"}`)
	call("group-getall", true, ``)
	call("group-member-add", true, fmt.Sprintf(`{"group_id":%d,"member_ids":[%d,%d,%d]}`, g.ID, admin.ID, dev.ID, dev.ID))
	call("group-member-add", true, fmt.Sprintf(`{"group_id":%d,"member_ids":[%d]}`, g.ID, dev.ID))
	call("group-member-add", true, fmt.Sprintf(`{"group_id":%d,"member_ids":[1]}`, g.ID))
	call("group-member-add", true, `{"group_id":1,"member_ids":[]}`)
	call("group-member-change", true, fmt.Sprintf(`{"group_id":%d,"member_id":%d,"prority":2,"tts":1,"loc_share":1}`, g.ID, dev.ID))
	call("group-member-change", true, fmt.Sprintf(`{"group_id":%d,"member_id":1}`, g.ID))
	call("group-member-getall", true, fmt.Sprintf(`{"group_id":%d}`, g.ID))
	call("group-member-getall", true, `{"group_id":1}`)
	call("message-send-group-message", true, fmt.Sprintf(`{"group_id":%d,"content":"hello"}`, g.ID))
	call("message-send-group-message", true, fmt.Sprintf(`{"group_id":%d,"content":""}`, g.ID))
	call("message-send-group-message", true, `{"group_id":1,"content":"x"}`)
	// One sender: the users of a history page come from a map, in no order.
	s.AppendMessage(g.ID, pttsim.Message{UserID: admin.ID, Type: 3, Content: map[string]any{"url": "http://p/v.opus", "duration": 2}})
	call("message-get-group-history-message", true, fmt.Sprintf(`{"group_id":%d,"msg_count":10}`, g.ID))
	call("message-get-group-history-message", true, fmt.Sprintf(`{"group_id":%d,"msg_count":1,"date":"2025-11-20"}`, g.ID))
	call("message-get-group-history-message", true, `{"group_id":1}`)
	call("location-get-track", true, fmt.Sprintf(`{"user_id":%d,"date":"2025-11-21"}`, dev.ID))
	call("location-get-track", true, fmt.Sprintf(`{"user_id":%d,"date":"21.11.2025"}`, dev.ID))
	call("location-get-track", true, `{"user_id":1,"date":"2025-11-21"}`)
	call("group-member-delete", true, fmt.Sprintf(`{"group_id":%d,"member_ids":[%d]}`, g.ID, dev.ID))
	call("group-member-delete", true, `{"group_id":1,"member_ids":[1]}`)
	call("group-delete", true, fmt.Sprintf(`{"group_id":%d}`, g.ID))
	call("group-delete", true, fmt.Sprintf(`{"group_id":%d}`, g.ID))
	call("member-delete", true, fmt.Sprintf(`{"member_id":%d}`, dev.ID))
	call("member-delete", true, fmt.Sprintf(`{"member_id":%d}`, dev.ID))
	call("dept-delete", true, `{"dept_id":1}`)
	call("dept-getall", true, ``)

	for _, op := range []string{"file-upload", "avatar-upload"} {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile("file", "Clip.OPUS")
		fw.Write([]byte("opus"))
		mw.Close()
		resp, err := http.Post(s.URL+"/v1/corp/web/"+op+"?access-token="+token, mw.FormDataContentType(), &b)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		got.ReadFrom(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&out, "%s multipart Clip.OPUS\n%d %s\n", op, resp.StatusCode, got.String())
	}
	call("file-upload", true, `{"not":"multipart"}`)
	s.ExpireTokens()
	call("user-selfinfo", true, ``)

	got := out.String()
	for _, r := range randomParts {
		got = r.re.ReplaceAllString(got, r.with)
	}
	golden := filepath.Join("testdata", "corp.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("answer %d differs from %s:\n got %s\nwant %s", i/2+1, golden, gl[i], wl[i])
			}
		}
		t.Fatalf("%d lines, %s has %d", len(gl), golden, len(wl))
	}
}

// Seed 000 shows one error for every token-authenticated call, errcode a
// string: pttsim refuses a missing, unknown or expired access token, and a
// refused refresh, with exactly that shape.
func TestCorpRefusalsAreTheSeeds(t *testing.T) {
	const seed = "{\n\t\"errcode\": \"105\",\n\t\"errmsg\": \"账号或密码错误\"\n}"
	var want map[string]any
	if err := json.Unmarshal([]byte(seed), &want); err != nil {
		t.Fatal(err)
	}
	s := simtest.Start(t, pttsim.Options{})
	s.AddMember(pttsim.MemberSpec{Num: "dev-1", Password: "pw", Type: pttsim.TypeDevice})
	post := func(path, body string) map[string]any {
		t.Helper()
		resp, err := http.Post(s.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: HTTP %d, %v", path, resp.StatusCode, err)
		}
		return got
	}
	login := post("/v1/corp/web/login-by-name", fmt.Sprintf(`{"user_name":"dev-1","password":%q}`, simtest.MD5("pw")))
	tok := login["data"].(map[string]any)["access_token"].(string)
	cases := map[string]string{
		"no token":      "/v1/corp/web/org-my-org",
		"unknown token": "/v1/corp/web/org-my-org?access-token=0123456789abcdef0123456789abcdef",
		"refresh":       "/v1/sessions/refresh?access-token=" + tok,
	}
	for name, path := range cases {
		body := `{}`
		if name == "refresh" {
			body = `{"refresh_token":"not-one"}`
		}
		if got := post(path, body); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want the seed's %v", name, got, want)
		}
	}
	s.ExpireTokens()
	if got := post("/v1/corp/web/get-address-list?access-token="+tok, `{"org_num":100130}`); !reflect.DeepEqual(got, want) {
		t.Errorf("expired token: %v, want the seed's %v", got, want)
	}
}
