package corp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"time"

	"github.com/pttagent/pttagent/uplink/httpapi"
)

// MaxUpload is the seed's file-upload limit (100 MB).
const MaxUpload = 100 << 20

// Upload sends a file with the seed's multipart file-upload (field "file")
// and returns the URL the platform keeps it at (data.url). A refused token
// is replaced and the upload made once more; transient failures are
// retried by the transport. timeout bounds one attempt (0: the client's
// request timeout), so a large file on a slow link can take longer than a
// small JSON call.
func (c *Client) Upload(ctx context.Context, filename, contentType string, data []byte, timeout time.Duration) (string, error) {
	if len(data) > MaxUpload {
		return "", fmt.Errorf("upload %s: %d bytes, the platform takes at most %d", filename, len(data), MaxUpload)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", contentType)
	part, err := mw.CreatePart(h)
	if err == nil {
		_, err = part.Write(data)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", filename, err)
	}
	const path = "/v1/corp/web/file-upload"
	var out struct {
		URL string `json:"url"`
	}
	err = c.authed(ctx, path, func(tok string) error {
		return c.do(ctx, httpapi.Request{Method: http.MethodPost, Path: path, Query: url.Values{"access-token": {tok}},
			Raw: body.Bytes(), ContentType: mw.FormDataContentType(), Timeout: timeout}, &out)
	})
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", filename, err)
	}
	if out.URL == "" {
		return "", &httpapi.Malformed{Op: path, Err: errors.New("no data.url")}
	}
	return out.URL, nil
}
