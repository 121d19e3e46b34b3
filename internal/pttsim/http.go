package pttsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// Handler serves the corp API under /v1/corp/web/ (and /v1/sessions/refresh),
// the wapi API under /wapi/, the wapi platform's webhooks under
// /webhook/wapi/, uploaded files under /files/, and the web console under
// /console (console.go).
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/corp/web/{op}", s.handleCorp)
	mux.HandleFunc("POST /v1/sessions/refresh", s.handleRefresh)
	mux.HandleFunc("/wapi/", s.handleWapi)
	mux.HandleFunc("POST /webhook/wapi/{event}", s.handleWebhook)
	mux.HandleFunc("/wapi/emergency/list", s.handleEmergencyList)
	mux.HandleFunc("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, s.filePath(r.PathValue("name")))
	})
	s.mountConsole(mux)
	return mux
}

// handleRefresh is /v1/sessions/refresh?access-token=… {"refresh_token"}:
// a new access and refresh token for a refresh token that is still good
// (the access token in the query may have expired: that is the point).
func (s *Sim) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var q corpReq
	if err := decodeBody(r, &q); err != nil {
		corpFail(w, codeBadRequest, "参数错误: "+err.Error())
		return
	}
	s.mu.Lock()
	ss := s.refresh[q.RefreshToken]
	now := s.now()
	if ss == nil || !now.Before(ss.rexpires) {
		s.stats.RefreshRefused++
		s.mu.Unlock()
		corpFail(w, codeRefused, msgRefused)
		return
	}
	delete(s.refresh, ss.refresh)
	delete(s.sessions, ss.token)
	n := &session{uid: ss.uid, token: newToken(), refresh: newToken(), expires: now.Add(s.o.TokenTTL), rexpires: now.Add(s.o.RefreshTTL)}
	s.sessions[n.token], s.refresh[n.refresh] = n, n
	s.stats.Refreshes++
	s.mu.Unlock()
	corpOK(w, map[string]any{"access_token": n.token, "expires_in": int64(s.o.TokenTTL.Seconds()), "refresh_token": n.refresh})
}

func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return err
	}
	return json.Unmarshal(b, v)
}
