package simtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/pttagent/pttagent/internal/pttsim"
)

// Receiver is a third party's URL for seed 003 §3.1 event reports: it
// keeps each body as raw JSON and the token header, and answers 500 to
// the first Fail requests. Lock it to read the fields.
type Receiver struct {
	*httptest.Server
	sync.Mutex
	Fail    int
	Tries   int
	Bodies  []map[string]any
	Reports []pttsim.EventReport
	Tokens  []string
}

// NewReceiver serves until the test ends.
func NewReceiver(t testing.TB, fail int) *Receiver {
	r := &Receiver{Fail: fail}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.Lock()
		defer r.Unlock()
		r.Tries++
		if req.Method != http.MethodPost || r.Tries <= r.Fail {
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		var raw map[string]any
		var rep pttsim.EventReport
		if json.Unmarshal(b, &raw) != nil || json.Unmarshal(b, &rep) != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		r.Bodies, r.Reports, r.Tokens = append(r.Bodies, raw), append(r.Reports, rep), append(r.Tokens, req.Header.Get("token"))
	}))
	t.Cleanup(r.Close)
	return r
}

// Got is the reports received so far.
func (r *Receiver) Got() []pttsim.EventReport {
	r.Lock()
	defer r.Unlock()
	return append([]pttsim.EventReport(nil), r.Reports...)
}

// CheckSeedShape fails t unless body has the §3.1 fields with the seed's
// types: id a number, code/type/level/content/address strings, to.id and
// to.name strings, from.id a number, from.account and from.name strings.
func CheckSeedShape(t testing.TB, body map[string]any) {
	t.Helper()
	is := func(v any, kind string) bool {
		switch kind {
		case "number":
			_, ok := v.(float64)
			return ok
		case "string":
			_, ok := v.(string)
			return ok
		}
		return false
	}
	for field, kind := range map[string]string{"id": "number", "code": "string", "type": "string", "level": "string",
		"content": "string", "address": "string"} {
		if !is(body[field], kind) {
			t.Errorf("§3.1 %s: %#v, want a %s", field, body[field], kind)
		}
	}
	to, _ := body["to"].(map[string]any)
	from, _ := body["from"].(map[string]any)
	if to == nil || !is(to["id"], "string") || !is(to["name"], "string") {
		t.Errorf("§3.1 to: %#v", body["to"])
	}
	if from == nil || !is(from["id"], "number") || !is(from["account"], "string") || !is(from["name"], "string") {
		t.Errorf("§3.1 from: %#v", body["from"])
	}
}
