package pttsim

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// What the corp API keeps for a client: tracks, group messages and
// uploaded files.

// corpTrack serves location-get-track {user_id, date}: the points of that
// day (the simulator's local time zone), oldest first.
func (s *Sim) corpTrack(w http.ResponseWriter, c *corpCall) {
	q := &c.q
	m, ok := s.Member(int64(q.UserID))
	if !ok {
		corpErr(w, ErrNoMember)
		return
	}
	day, err := time.ParseInLocation("2006-01-02", q.Date, time.Local)
	if err != nil {
		corpFail(w, codeBadRequest, "参数错误: date must be YYYY-MM-DD")
		return
	}
	out := []map[string]any{}
	for _, p := range s.Tracks(m.Num) {
		if p.Created >= day.Unix() && p.Created < day.AddDate(0, 0, 1).Unix() {
			out = append(out, map[string]any{"latitude": p.Latitude, "longitude": p.Longitude, "created": p.Created})
		}
	}
	corpOK(w, map[string]any{"tracks": out})
}

func (s *Sim) corpHistory(w http.ResponseWriter, c *corpCall) {
	q := &c.q
	gid := int64(q.GroupID)
	if _, ok := s.Group(gid); !ok {
		corpErr(w, ErrNoGroup)
		return
	}
	count := int(q.MsgCount)
	if count <= 0 || count > 100 {
		count = 20
	}
	all := s.Messages(gid)
	out := []Message{}
	users := map[int64]bool{}
	// Newest first, as the seed; msg_id > 0 pages backwards from it.
	for i := len(all) - 1; i >= 0 && len(out) < count; i-- {
		msg := all[i]
		if q.MsgID > 0 && msg.MsgID >= int64(q.MsgID) {
			continue
		}
		if q.Date != "" && time.Unix(msg.Created, 0).Format("2006-01-02") > q.Date {
			continue
		}
		out = append(out, msg)
		users[msg.UserID] = true
	}
	ul := []map[string]any{}
	for uid := range users {
		if m, ok := s.Member(uid); ok {
			ul = append(ul, map[string]any{"user_id": m.ID, "user_num": m.Num, "name": m.Name, "avatar": m.Avatar})
		}
	}
	corpOK(w, map[string]any{"messages": out, "users": ul})
}

// corpSendMessage is pttsim's own (the seed reads history but has no
// send): a text message from the caller to a group, pushed to its
// handsets.
func (s *Sim) corpSendMessage(w http.ResponseWriter, c *corpCall) {
	id, err := s.SendText(int64(c.q.GroupID), c.uid, c.q.Content)
	if err != nil {
		corpErr(w, err)
		return
	}
	corpOK(w, map[string]any{"msg_id": id})
}

const maxUpload = 100 << 20

// corpUpload serves file-upload and avatar-upload: it stores a multipart
// "file" (≤ 100 MB; avatars ≤ 4 MB) and returns its URL, served by
// /files/.
func (s *Sim) corpUpload(w http.ResponseWriter, c *corpCall) {
	r := c.r
	limit := int64(maxUpload)
	if c.op == "avatar-upload" {
		limit = 4 << 20
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+1<<20)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		corpFail(w, codeBadRequest, "参数错误: multipart field \"file\": "+err.Error())
		return
	}
	defer f.Close()
	if hdr.Size > limit {
		corpFail(w, codeBadRequest, fmt.Sprintf("文件过大: %d bytes, at most %d", hdr.Size, limit))
		return
	}
	name := fmt.Sprintf("%d-%s%s", s.now().UnixNano(), newToken()[:6], strings.ToLower(filepath.Ext(hdr.Filename)))
	out, err := os.Create(s.filePath(name))
	if err == nil {
		_, err = io.Copy(out, io.LimitReader(f, limit))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		corpFail(w, "500", "存储失败: "+err.Error())
		return
	}
	corpOK(w, map[string]any{"url": s.baseURL(r) + "/files/" + name})
}

func (s *Sim) baseURL(r *http.Request) string {
	if s.o.PublicURL != "" {
		return strings.TrimRight(s.o.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
