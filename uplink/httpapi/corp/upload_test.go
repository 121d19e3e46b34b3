package corp_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/httpapi/corp"
)

// The seed's multipart file-upload against pttsim: the file comes back at
// data.url byte for byte; an expired token is replaced (refreshed) and
// the upload made again.
func TestUploadToPttsim(t *testing.T) {
	s := simtest.Start(t, pttsim.Options{})
	s.AddMember(pttsim.MemberSpec{Num: "dev-1", Password: "pw", Type: pttsim.TypeDevice})
	h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: s.URL, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := &corp.Client{HTTP: h, Account: "dev-1", Password: corp.HashPassword("pw")}
	data := bytes.Repeat([]byte("OggS recording "), 10000)
	for i := range 2 {
		url, err := c.Upload(context.Background(), "dev-1_1763712000123_0000002a.opus", "audio/ogg", data, 0)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(got, data) {
			t.Errorf("upload %d: %d bytes back, want %d", i, len(got), len(data))
		}
		s.ExpireTokens()
	}
	if st := c.Stats(); st.Logins != 1 || st.Refreshes != 1 || st.TokenRefused != 1 {
		t.Errorf("stats %+v: the expired token should have been replaced once", st)
	}
	if _, err := c.Upload(context.Background(), "big.opus", "audio/ogg", make([]byte, corp.MaxUpload+1), 0); err == nil {
		t.Error("a file over the seed's 100 MB went up")
	}
}
