package linkmeter

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pttagent/pttagent/gps/gpssim"
	"github.com/pttagent/pttagent/gps/gpstest"
	"github.com/pttagent/pttagent/internal/linkemu"
	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// profile is a handset situation the budget is measured in.
type profile struct {
	name string
	// track is the member's track setting on the platform (1: the
	// default high period, 60 s; other values: seconds).
	track int
	// moving plays the drive log; otherwise a parked receiver.
	moving bool
	// yaml is added to the agent's config, platformYAML to its platform
	// section (for comparisons only: the budget goals hold for the
	// defaults).
	yaml, platformYAML string
	// platformReads are the track versions pttsim says it decodes (nil:
	// 1 and 2, which makes the default encoding CBOR).
	platformReads []int
}

// rig is the handset measured: the real agent binary in a network
// namespace of its own, whose only way out is an emulated link to this
// process's namespace, where mosquitto (TLS), pttsim's APIs (https) and
// its media relay (UDP) listen on the link's platform address. The meter
// sees every packet that crosses.
type rig struct {
	meter   *Meter
	sim     *pttsim.Sim
	account string
	svc     Services
	agent   *exec.Cmd
	log     *logbuf.Buffer
}

// needRoot skips where namespaces and TUN devices cannot be made.
func needRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: network namespaces and TUN devices")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("needs iproute2's ip")
	}
	if _, err := mqtttest.Binary(); err != nil {
		tb.Skip(err)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// agentBinary is the agent measured: $LINKMETER_AGENT (another build, to
// compare) or this tree's cmd/pttagent, built once.
func agentBinary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("LINKMETER_AGENT"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "linkmeter-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pttagent")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/pttagent/pttagent/cmd/pttagent").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// platformSide is what stands on the platform's side of the link: its
// address, the CA the handset trusts, pttsim serving https there (and,
// with a broker, its MQTT link and media relay), and the meter.
type platformSide struct {
	ns       *linkemu.Namespace // the handset's
	addr     string             // the platform's address on the link
	ca       *mqtttest.CA
	sim      *pttsim.Sim
	httpsURL string
	svc      Services
}

// startPlatform makes the handset's namespace, the link to it (metered),
// and pttsim on the platform's side: https always; with broker, mosquitto
// with a TLS listener on the link, pttsim's MQTT link and its media relay.
func startPlatform(tb testing.TB, meter *Meter, broker bool, trackVersions []int) *platformSide {
	tb.Helper()
	needRoot(tb)
	ps := &platformSide{svc: Services{}}
	ns, err := linkemu.NewNamespace("budget")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ns.Close() })
	ps.ns = ns
	// A good LTE cell's round trip, without loss: losses would add
	// retransmissions at random and make runs differ.
	link, err := linkemu.New(linkemu.Config{Handset: ns.Name(), Profile: linkemu.Profile{Delay: 25 * time.Millisecond},
		Tap: meter.Tap})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { link.Close() })
	ps.addr = link.PlatformAddr().String()

	ps.ca = mqtttest.NewCA(tb)
	certFile, keyFile := ps.ca.Issue(tb, ps.addr, false)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		tb.Fatal(err)
	}
	o := pttsim.Options{FileDir: tb.TempDir(), Logger: slog.New(slog.DiscardHandler), TrackVersions: trackVersions}
	if broker {
		// The broker: plain on loopback for pttsim, TLS on the link for
		// the handset.
		mqttPort := mqtttest.FreePort(tb)
		b := mqtttest.Start(tb, mqtttest.Options{
			Config: fmt.Sprintf("listener %d %s\ncertfile %s\nkeyfile %s", mqttPort, ps.addr, certFile, keyFile)})
		ps.svc[uint16(mqttPort)] = "mqtt"
		o.Broker, o.MediaAddr = b.URL(), ps.addr+":0"
	}
	sim, err := pttsim.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	ps.sim = sim
	l, err := net.Listen("tcp", ps.addr+":0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sim.Run(ctx, tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}}))
	}()
	tb.Cleanup(func() { cancel(); <-done })
	httpsPort := l.Addr().(*net.TCPAddr).Port
	ps.httpsURL = fmt.Sprintf("https://%s:%d", ps.addr, httpsPort)
	ps.svc[uint16(httpsPort)] = "https"
	if broker {
		wait.For(tb, 10*time.Second, "pttsim's broker connection", sim.Connected)
		wait.For(tb, 10*time.Second, "pttsim's media relay", func() bool { return sim.MediaAddr() != "" })
		_, mediaPort, _ := net.SplitHostPort(sim.MediaAddr())
		mp, _ := strconv.Atoi(mediaPort)
		ps.svc[uint16(mp)] = "media"
	}
	return ps
}

// addDevice creates the device member (and an operator and a group with
// both) on the platform.
func (ps *platformSide) addDevice(tb testing.TB, account, password string, track int) {
	tb.Helper()
	admin, err := ps.sim.AddMember(pttsim.MemberSpec{Num: "admin", Name: "Operator", Password: "admin-pw", Type: pttsim.TypeOwner})
	if err != nil {
		tb.Fatal(err)
	}
	dev, err := ps.sim.AddMember(pttsim.MemberSpec{Num: account, Name: account, Password: password,
		Type: pttsim.TypeDevice, LocShare: 1, Track: track})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := ps.sim.CreateGroup(pttsim.GroupSpec{Name: "Budget", Creator: admin.ID, Members: []int64{admin.ID, dev.ID}}); err != nil {
		tb.Fatal(err)
	}
}

func startRig(tb testing.TB, p profile) *rig {
	tb.Helper()
	needRoot(tb)
	bin := agentBinary(tb)
	dir := tb.TempDir()
	r := &rig{meter: &Meter{}, account: "dev-" + p.name, log: &logbuf.Buffer{}}
	if os.Getenv("LINKMETER_LOG") != "" {
		f, err := os.Create(filepath.Join(os.Getenv("LINKMETER_LOG"), p.name+".packets"))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { f.Close() })
		r.meter.Log = f
	}
	ps := startPlatform(tb, r.meter, true, p.platformReads)
	ps.addDevice(tb, r.account, "device-pw", p.track)
	r.sim, r.svc = ps.sim, ps.svc
	var mqttPort uint16
	for port, name := range ps.svc {
		if name == "mqtt" {
			mqttPort = port
		}
	}

	// The receiver.
	nmea := parkedLog(600)
	if p.moving {
		nmea = gpstest.DriveLog(tb)
	}
	gdev, err := gpssim.NewDevice(filepath.Join(dir, "gps0"))
	if err != nil {
		tb.Fatal(err)
	}
	gctx, gstop := context.WithCancel(context.Background())
	gdone := make(chan struct{})
	go func() {
		defer close(gdone)
		(&gpssim.Player{Speed: 1, Loop: true, Retime: true}).Play(gctx, gdev, nmea)
	}()
	tb.Cleanup(func() { gstop(); <-gdone; gdev.Close() })

	secrets := filepath.Join(dir, "secrets.yaml")
	if err := os.WriteFile(secrets, []byte("platform_password: device-pw\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg := filepath.Join(dir, "agent.yaml")
	yaml := fmt.Sprintf(`device: {account: %s}
secrets_file: %s
state_dir: %s/state
runtime_dir: %s/run
gps: {device: %s/gps0}
mqtt:
  brokers: [mqtts://%s:%d]
  tls: {ca_file: %s}
platform:
  dialect: corp
  base_url: %s
  ca_file: %s
%s
%s`, r.account, secrets, dir, dir, dir, ps.addr, mqttPort, ps.ca.CertFile, ps.httpsURL, ps.ca.CertFile, p.platformYAML, p.yaml)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		tb.Fatal(err)
	}
	r.agent = ps.ns.Command(bin, "run", "--config", cfg)
	r.agent.Stderr = r.log
	r.agent.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.agent.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		r.agent.Process.Kill()
		r.agent.Wait()
		if tb.Failed() {
			tb.Logf("agent log:\n%s", r.log)
		}
	})
	return r
}

// points is how many of the handset's points the platform has stored.
func (r *rig) points() int { return len(r.sim.Tracks(r.account)) }

// measure waits for the agent to settle (connected, synced, the first
// point stored, then warmup more), lets window pass, and analyses the
// packets of the window. It also returns the points stored in it.
func (r *rig) measure(tb testing.TB, warmup, window time.Duration) (Report, int) {
	tb.Helper()
	wait.For(tb, 2*time.Minute, "the first track point at the platform", func() bool { return r.points() > 0 })
	time.Sleep(warmup)
	from, p0 := time.Now(), r.points()
	time.Sleep(window)
	to, p1 := time.Now(), r.points()
	if err := r.agent.Process.Signal(syscall.Signal(0)); err != nil {
		tb.Fatalf("the agent exited during the measurement: %v", err)
	}
	return Analyze(r.meter.Packets(), from, to, r.svc), p1 - p0
}

// parkedLog is seconds of a parked receiver at 1 Hz: a 3D fix whose
// position wanders a metre or two, as a real one does under open sky,
// with the HDOP of a good view.
func parkedLog(seconds int) []byte {
	var b strings.Builder
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range seconds {
		t := t0.Add(time.Duration(i) * time.Second)
		// ±1.5 m of wander: 1e-5 degrees of latitude are 1.1 m.
		dlat := 1.3e-5 * math.Sin(float64(i)/37)
		dlon := 1.6e-5 * math.Cos(float64(i)/53)
		lat, lon := 48.137154+dlat, 11.576124+dlon
		hms := t.Format("150405") + ".00"
		latS := fmt.Sprintf("%02d%08.5f", int(lat), (lat-math.Floor(lat))*60)
		lonS := fmt.Sprintf("%03d%08.5f", int(lon), (lon-math.Floor(lon))*60)
		sentence(&b, fmt.Sprintf("GNRMC,%s,A,%s,N,%s,E,0.021,,%s,,,A", hms, latS, lonS, t.Format("020106")))
		sentence(&b, fmt.Sprintf("GNGGA,%s,%s,N,%s,E,1,11,0.82,519.%d,M,47.5,M,,", hms, latS, lonS, i%10))
		sentence(&b, "GNGSA,A,3,02,05,07,09,13,15,18,20,25,29,30,,1.31,0.82,1.02")
	}
	return []byte(b.String())
}

func sentence(w io.StringWriter, body string) {
	var sum byte
	for i := 0; i < len(body); i++ {
		sum ^= body[i]
	}
	w.WriteString(fmt.Sprintf("$%s*%02X\r\n", body, sum))
}
