// Package simtest runs pttsim inside a test, against a real broker, and
// gives tests an operator that calls the management endpoints over HTTP
// exactly as a platform console would.
package simtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/wire"
)

// Sim is a simulator running for one test.
type Sim struct {
	*pttsim.Sim
	URL string // http://host:port
}

// Start runs a simulator on a free loopback port, connected to o.Broker
// (or an embedded broker at o.EmbedBroker), until the test ends.
func Start(t testing.TB, o pttsim.Options) *Sim {
	t.Helper()
	return StartOn(t, o, "127.0.0.1:0")
}

// StartOn is Start with the HTTP API on addr (host:port; port 0 picks a
// free one): the platform end of an emulated link, for handsets in
// network namespaces of their own.
func StartOn(t testing.TB, o pttsim.Options, addr string) *Sim {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.FileDir == "" {
		o.FileDir = t.TempDir()
	}
	s, err := pttsim.New(o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if o.Broker != "" || o.EmbedBroker != "" {
		wait.For(t, 10*time.Second, "pttsim's connection to the broker", s.Connected)
		probeTracks(t, s, o)
	}
	if o.MediaAddr != "" {
		deadline := time.Now().Add(10 * time.Second)
		for s.MediaAddr() == "" {
			if time.Now().After(deadline) {
				t.Fatal("pttsim's media relay did not start")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return &Sim{Sim: s, URL: "http://" + l.Addr().String()}
}

// ProbeAccount is the device account simtest publishes one track point
// for at start, to know that the simulator's track subscription is in
// place (its points and Stats count are the test's to ignore).
const ProbeAccount = "simtest-probe"

// probeTracks publishes a point for ProbeAccount until the simulator has
// stored it: points published before its subscription took effect would
// be lost, and tests must not race that.
func probeTracks(t testing.TB, s *pttsim.Sim, o pttsim.Options) {
	t.Helper()
	url := o.Broker
	if url == "" {
		url = "tcp://" + o.EmbedBroker
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = "ptt"
	}
	cli := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(ProbeAccount))
	if tok := cli.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("simtest probe: %v", tok.Error())
	}
	defer cli.Disconnect(50)
	batch := wire.AppendTrackBatch(nil, []wire.Point{{Seq: 1, Created: time.Now().Unix(), Latitude: 1, Longitude: 1, Mode: 3}})
	wait.For(t, 10*time.Second, "pttsim's track subscription to take effect", func() bool {
		if len(s.Tracks(ProbeAccount)) > 0 {
			return true
		}
		cli.Publish(prefix+"/dev/"+ProbeAccount+"/track", 1, false, batch).WaitTimeout(time.Second)
		return false
	})
}

// MD5 is the seeds' password hash.
func MD5(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Operator calls the corp API as a logged-in operator.
type Operator struct {
	t     testing.TB
	url   string
	token string
}

// Login logs in as account (corp login-by-name).
func (s *Sim) Login(t testing.TB, account, password string) *Operator {
	t.Helper()
	op := &Operator{t: t, url: s.URL}
	var d struct {
		AccessToken string `json:"access_token"`
	}
	op.post("/v1/corp/web/login-by-name", "", map[string]any{"user_name": account, "password": MD5(password)}, &d)
	op.token = d.AccessToken
	return op
}

// Corp posts body to /v1/corp/web/{op} and decodes data into out (may be
// nil); it fails the test unless errcode is 0.
func (o *Operator) Corp(op string, body any, out any) {
	o.t.Helper()
	o.post("/v1/corp/web/"+op, o.token, body, out)
}

func (o *Operator) post(path, token string, body, out any) {
	o.t.Helper()
	b, _ := json.Marshal(body)
	u := o.url + path
	if token != "" {
		u += "?access-token=" + token
	}
	resp, err := http.Post(u, "application/json", bytes.NewReader(b))
	if err != nil {
		o.t.Fatalf("%s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Errcode json.Number     `json:"errcode"`
		Errmsg  string          `json:"errmsg"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Errcode.String() != "0" {
		o.t.Fatalf("%s: %s", path, raw)
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			o.t.Fatalf("%s: data %s: %v", path, env.Data, err)
		}
	}
}

// Raw posts to any path of the simulator with a JSON body and returns the
// whole answer.
func (s *Sim) Raw(t testing.TB, method, path string, header http.Header, body any) []byte {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.URL+path, r)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return raw
}
