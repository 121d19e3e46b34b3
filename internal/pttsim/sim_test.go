package pttsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/wire"
)

func publisher(t *testing.T, url string) paho.Client {
	t.Helper()
	cli := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("pub-" + t.Name()))
	if tok := cli.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { cli.Disconnect(50) })
	return cli
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// A seq gap is the handset's word that points were lost (queue full, disk
// full, a lost store): the simulator counts the missing seqs.
func TestTrackGapsAreCounted(t *testing.T) {
	addr := freeAddr(t)
	s := simtest.Start(t, pttsim.Options{EmbedBroker: addr})
	s.AddMember(pttsim.MemberSpec{Num: "dev-9", Name: "D9", Password: "pw", Type: pttsim.TypeDevice, LocShare: 1, Track: 1})
	base := s.Stats()
	now := time.Now().Unix()
	cli := publisher(t, "tcp://"+addr)
	for _, seqs := range [][]uint64{{1, 2}, {5, 6}, {6, 1007}} {
		var batch []wire.Point
		for _, q := range seqs {
			batch = append(batch, wire.Point{Seq: q, Created: now, Latitude: 22.6, Longitude: 115, Mode: 3})
		}
		cli.Publish("ptt/dev/dev-9/track", 1, false, wire.AppendTrackBatch(nil, batch)).WaitTimeout(5 * time.Second)
	}
	wait.For(t, 5*time.Second, "5 points", func() bool { return len(s.Tracks("dev-9")) == 5 })
	if st := s.Stats(); st.TrackMissing-base.TrackMissing != 2+1000 {
		t.Errorf("missing %d, want 1002 (3–4 and 7–1006)", st.TrackMissing-base.TrackMissing)
	}

	// Late after all (a broker redelivering out of order): points that
	// fill a gap are stored in their place and no longer missing; one
	// stored already, or older than the first kept, is a duplicate.
	for _, seqs := range [][]uint64{{4}, {3, 5}, {1}} {
		var batch []wire.Point
		for _, q := range seqs {
			batch = append(batch, wire.Point{Seq: q, Created: now, Latitude: 22.6, Longitude: 115, Mode: 3})
		}
		cli.Publish("ptt/dev/dev-9/track", 1, false, wire.AppendTrackBatch(nil, batch)).WaitTimeout(5 * time.Second)
	}
	wait.For(t, 5*time.Second, "the late points", func() bool { return len(s.Tracks("dev-9")) == 7 })
	var seqs []uint64
	for _, p := range s.Tracks("dev-9") {
		seqs = append(seqs, p.Seq)
	}
	if want := []uint64{1, 2, 3, 4, 5, 6, 1007}; !slices.Equal(seqs, want) {
		t.Errorf("seqs %v, want %v", seqs, want)
	}
	wait.For(t, 5*time.Second, "the duplicates counted", func() bool {
		return s.Stats().TrackDuplicates-base.TrackDuplicates == 1+2 // 6 before; 5 and 1 now
	})
	if st := s.Stats(); st.TrackMissing-base.TrackMissing != 1000 || st.TrackLate-base.TrackLate != 2 {
		t.Errorf("missing %d, late %d; want 1000 (7–1006) and 2 (3, 4)", st.TrackMissing-base.TrackMissing, st.TrackLate-base.TrackLate)
	}
}

// Tracks published on the embedded broker are stored once each (by seq)
// and read back in both seeds' shapes.
func TestTracksStoredAndReadBack(t *testing.T) {
	addr := freeAddr(t)
	s := simtest.Start(t, pttsim.Options{EmbedBroker: addr})
	dev, _ := s.AddMember(pttsim.MemberSpec{Num: "dev-1", Name: "D1", Password: "pw", Type: pttsim.TypeDevice, LocShare: 1, Track: 1})
	s.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin", Type: pttsim.TypeOwner})
	op := s.Login(t, "admin", "admin")

	base := s.Stats() // simtest's probe point is counted
	now := time.Now().Unix()
	pts := []wire.Point{
		{Seq: 1, Created: now - 2, Latitude: 22.668835, Longitude: 115.070211, Speed: 12.5, Altitude: 23.2, Bearing: 231, HDOP: 1, Sats: 9, Mode: 3},
		{Seq: 2, Created: now - 1, Latitude: 22.669, Longitude: 115.071, Speed: 13, Altitude: 24, Bearing: 229, HDOP: 1, Sats: 9, Mode: 3},
	}
	cli := publisher(t, "tcp://"+addr)
	for _, batch := range [][]wire.Point{pts, pts[1:], {{Seq: 3, Created: now, Latitude: 22.67, Longitude: 115.072, Mode: 3}}} {
		cli.Publish("ptt/dev/dev-1/track", 1, false, wire.AppendTrackBatch(nil, batch)).WaitTimeout(5 * time.Second)
	}
	cli.Publish("ptt/dev/dev-1/track", 1, false, []byte("garbage")).WaitTimeout(5 * time.Second)
	wait.For(t, 5*time.Second, "3 points and a bad batch", func() bool {
		return len(s.Tracks("dev-1")) == 3 && s.Stats().TrackBad == base.TrackBad+1
	})
	if st := s.Stats(); st.TrackDuplicates-base.TrackDuplicates < 1 || st.TrackPoints-base.TrackPoints != 3 {
		t.Errorf("stats %+v", st)
	}

	if st := s.Stats(); st.TrackMissing != base.TrackMissing {
		t.Errorf("missing points counted without a gap: %+v", st)
	}

	var tr struct {
		Tracks []map[string]any `json:"tracks"`
	}
	op.Corp("location-get-track", map[string]any{"user_id": dev.ID, "date": time.Now().Format("2006-01-02")}, &tr)
	if len(tr.Tracks) != 3 || len(tr.Tracks[0]) != 3 || tr.Tracks[0]["latitude"] != 22.668835 || tr.Tracks[0]["longitude"] != 115.070211 ||
		tr.Tracks[0]["created"] != float64(now-2) {
		t.Errorf("location-get-track %v", tr.Tracks)
	}
	op.Corp("location-get-track", map[string]any{"user_id": dev.ID, "date": "2024-11-19"}, &tr)
	if len(tr.Tracks) != 0 {
		t.Errorf("another day: %v", tr.Tracks)
	}

	tok := wapiToken(t, s, "admin", "admin")
	h := map[string][]string{"Token": {tok}}
	var latest struct {
		Status int              `json:"status"`
		Data   []map[string]any `json:"data"`
	}
	json.Unmarshal(s.Raw(t, "POST", "/wapi/location/getLatestCoords", h, map[string]any{"uids": []int64{dev.ID}}), &latest)
	if latest.Status != 200 || len(latest.Data) != 1 {
		t.Fatalf("getLatestCoords %+v", latest)
	}
	l := latest.Data[0]
	if l["id"] != float64(dev.ID) || l["username"] != "D1" || l["x"] != 22.67 || l["y"] != 115.072 || l["isOnLine"] != "2" ||
		fmt.Sprint(l["location"]) != "[115.072 22.67]" || l["time"] != float64(now*1000) {
		t.Errorf("getLatestCoords %v", l)
	}
	var pb struct {
		Status int                         `json:"status"`
		Data   map[string][]map[string]any `json:"data"`
	}
	from := time.Unix(now-1, 0).Format("2006-01-02 15:04:05")
	to := time.Unix(now+1, 0).Format("2006-01-02 15:04:05")
	json.Unmarshal(s.Raw(t, "POST", "/wapi/location/trackPlayback", h, map[string]any{"uids": []int64{dev.ID}, "startTime": from, "endTime": to}), &pb)
	got := pb.Data[fmt.Sprint(dev.ID)]
	if pb.Status != 200 || len(got) != 2 {
		t.Fatalf("trackPlayback %+v", pb)
	}
	p := got[0]
	if p["uid"] != float64(dev.ID) || p["positionType"] != float64(0) || p["x"] != 22.669 || p["y"] != 115.071 || p["speed"] != float64(13) ||
		p["altitude"] != float64(24) || p["bearing"] != float64(229) || p["time"] != float64((now-1)*1000) {
		t.Errorf("trackPlayback point %v", p)
	}
}

func wapiToken(t *testing.T, s *simtest.Sim, account, password string) string {
	t.Helper()
	var env struct {
		Status int `json:"status"`
		Data   struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	raw := s.Raw(t, "POST", "/wapi/user/login", nil, map[string]any{"account": account, "password": simtest.MD5(password)})
	if json.Unmarshal(raw, &env) != nil || env.Status != 200 {
		t.Fatalf("wapi login %s", raw)
	}
	return env.Data.Token
}

func upload(t *testing.T, url, field, name string, data []byte) map[string]any {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile(field, name)
	fw.Write(data)
	mw.Close()
	resp, err := http.Post(url, mw.FormDataContentType(), &b)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return out
}

func TestUploadHistoryAndAudioRecords(t *testing.T) {
	s := simtest.Start(t, pttsim.Options{})
	admin, _ := s.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin", Type: pttsim.TypeOwner})
	g, _ := s.CreateGroup(pttsim.GroupSpec{Name: "G", Members: []int64{admin.ID}})
	op := s.Login(t, "admin", "admin")
	var login struct {
		AccessToken string `json:"access_token"`
	}
	op.Corp("user-selfinfo", nil, nil)
	raw := s.Raw(t, "POST", "/v1/corp/web/login-by-name", nil, map[string]any{"user_name": "admin", "password": simtest.MD5("admin")})
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	json.Unmarshal(raw, &env)
	json.Unmarshal(env.Data, &login)

	// file-upload: multipart "file", data.url serves the same bytes.
	content := bytes.Repeat([]byte("opus"), 1000)
	out := upload(t, s.URL+"/v1/corp/web/file-upload?access-token="+login.AccessToken, "file", "msg.opus", content)
	url, _ := out["data"].(map[string]any)["url"].(string)
	if out["errcode"] != float64(0) || !strings.HasPrefix(url, s.URL+"/files/") {
		t.Fatalf("file-upload: %v", out)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, content) {
		t.Errorf("served %d bytes, uploaded %d", len(got), len(content))
	}
	// Over the limit (avatars: 4 MB) and without a token: refused.
	if out := upload(t, s.URL+"/v1/corp/web/avatar-upload?access-token="+login.AccessToken, "file", "a.png", make([]byte, 5<<20)); out["errcode"] == float64(0) {
		t.Errorf("5 MB avatar accepted: %v", out)
	}
	if out := upload(t, s.URL+"/v1/corp/web/file-upload", "file", "x", content); out["errcode"] != "105" {
		t.Errorf("upload without a token: %v", out)
	}

	// Voice messages (type 3 {url, duration}) come back newest first.
	for i := 1; i <= 3; i++ {
		s.AppendMessage(g.ID, pttsim.Message{UserID: admin.ID, Type: 3, Content: map[string]any{"url": fmt.Sprintf("%s?duration=%d", url, i), "duration": i}})
	}
	var hist struct {
		Messages []struct {
			MsgID   int64 `json:"msg_id"`
			UserID  int64 `json:"user_id"`
			Type    int   `json:"type"`
			Content struct {
				URL      string `json:"url"`
				Duration int    `json:"duration"`
			} `json:"content"`
		} `json:"messages"`
		Users []map[string]any `json:"users"`
	}
	op.Corp("message-get-group-history-message", map[string]any{"group_id": g.ID, "msg_id": 0, "msg_count": 2, "date": time.Now().Format("2006-01-02")}, &hist)
	if len(hist.Messages) != 2 || hist.Messages[0].Content.Duration != 3 || hist.Messages[0].Type != 3 || len(hist.Users) != 1 {
		t.Fatalf("history %+v", hist)
	}
	op.Corp("message-get-group-history-message", map[string]any{"group_id": g.ID, "msg_id": hist.Messages[1].MsgID, "msg_count": 20}, &hist)
	if len(hist.Messages) != 1 || hist.Messages[0].Content.Duration != 1 {
		t.Errorf("older page %+v", hist)
	}

	// Audio records, paged.
	for i := 0; i < 3; i++ {
		s.AppendAudioRecord(pttsim.AudioRecord{UserID: admin.ID, Account: "admin", BeginTime: time.Now().UnixMilli(), DurationMs: 2250, GroupName: "G", FileURL: url})
	}
	var ar struct {
		Status int `json:"status"`
		Data   struct {
			Size    int                  `json:"size"`
			Total   int                  `json:"total"`
			Records []pttsim.AudioRecord `json:"records"`
		} `json:"data"`
	}
	tok := wapiToken(t, s, "admin", "admin")
	json.Unmarshal(s.Raw(t, "GET", "/wapi/ptt/audioRecord", map[string][]string{"Token": {tok}},
		map[string]any{"userId": admin.ID, "page": map[string]any{"size": 2, "current": 2}}), &ar)
	if ar.Status != 200 || ar.Data.Size != 1 || ar.Data.Total != 2 || ar.Data.Records[0].DurationMs != 2250 {
		t.Errorf("audioRecord %+v", ar)
	}
}

func TestWapiManagementAndStateFile(t *testing.T) {
	state := filepath.Join(t.TempDir(), "world.json")
	s := simtest.Start(t, pttsim.Options{StateFile: state})
	s.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin", Type: pttsim.TypeOwner})
	h := map[string][]string{"Token": {wapiToken(t, s, "admin", "admin")}}

	var reg struct {
		Status int              `json:"status"`
		Data   []map[string]any `json:"data"`
	}
	json.Unmarshal(s.Raw(t, "POST", "/wapi/user/register", h, map[string]any{"account": []string{"ceshi1", "ceshi2"}, "name": []string{"a", "b"}, "password": "111111"}), &reg)
	if reg.Status != 200 || len(reg.Data) != 2 || reg.Data[0]["account"] != "ceshi1" || reg.Data[0]["password"] != "96e79218965eb72c92a549dd5a330112" ||
		reg.Data[0]["state"] != float64(1) || reg.Data[0]["priority"] != float64(10) {
		t.Fatalf("register %+v", reg)
	}
	id1 := int64(reg.Data[0]["id"].(float64))
	var grp struct {
		Status int            `json:"status"`
		Data   map[string]any `json:"data"`
	}
	json.Unmarshal(s.Raw(t, "POST", "/wapi/group/create", h, map[string]any{"name": "testGroup", "oid": 1, "uids": []int64{id1}}), &grp)
	if grp.Status != 200 || grp.Data["talkTime"] != float64(60) || grp.Data["priority"] != float64(10) || grp.Data["myPttCount"] != float64(1) {
		t.Fatalf("group/create %+v", grp)
	}
	gid := int64(grp.Data["id"].(float64))
	raw := s.Raw(t, "POST", "/wapi/group/bind", h, map[string]any{"gid": gid, "users": []map[string]any{{"id": id1, "priority": 2, "callPermission": "Y", "canSpeak": "N"}}})
	if !strings.Contains(string(raw), `"status":200`) {
		t.Fatalf("bind %s", raw)
	}
	raw = s.Raw(t, "POST", fmt.Sprintf("/wapi/user/info?id=%d", id1), h, nil)
	if !strings.Contains(string(raw), `"innerPriority":2`) || !strings.Contains(string(raw), `"canSpeak":"N"`) {
		t.Errorf("user/info %s", raw)
	}
	if raw := s.Raw(t, "POST", "/wapi/user/info?id=1", map[string][]string{"Token": {"nope"}}, nil); !strings.Contains(string(raw), `"status":501`) {
		t.Errorf("bad token: %s", raw)
	}

	// The world survives a restart through the state file.
	wait.For(t, 5*time.Second, "the state file", func() bool {
		s2, err := pttsim.New(pttsim.Options{StateFile: state})
		if err != nil {
			return false
		}
		g, ok := s2.Group(gid)
		return ok && len(g.Members) == 1 && g.Members[0].CanSpeak == "N"
	})
}
