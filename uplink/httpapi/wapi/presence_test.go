package wapi_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/pttagent/pttagent/uplink/httpapi/wapi"
)

// Who is online, with the seed's two calls: pttUser/isOnline (online, in
// the group or not) and group/cgt/inThisGroupUids (online and in the
// group), each {"gid","uids"} → data [ids]; only the ids asked about are
// believed, once each.
func TestOnlineWithTheSeedsCalls(t *testing.T) {
	asked := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 512)
		n, _ := r.Body.Read(b)
		asked[r.URL.Path] = string(b[:n])
		switch r.URL.Path {
		case "/wapi/pttUser/isOnline":
			w.Write([]byte(`{"status":200,"message":"成功","data":[10000,"10001",10001,99]}`))
		case "/wapi/group/cgt/inThisGroupUids":
			w.Write([]byte(`{"status":200,"message":"成功","data":[10000]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c := &wapi.Client{HTTP: transport(t, srv.URL), Account: "dev-1", Token: "t"}
	p, err := c.Online(t.Context(), 12, []int64{10000, 10001, 10002})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Online, []int64{10000, 10001}) || !slices.Equal(p.InGroup, []int64{10000}) || !p.InGroupKnown {
		t.Errorf("presence %+v", p)
	}
	for _, path := range []string{"/wapi/pttUser/isOnline", "/wapi/group/cgt/inThisGroupUids"} {
		if asked[path] != `{"gid":12,"uids":[10000,10001,10002]}` {
			t.Errorf("%s asked %s", path, asked[path])
		}
	}
}
