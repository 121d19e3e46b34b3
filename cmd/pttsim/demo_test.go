package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// make demo, run as the README shows it (.ci/demo, with its own binaries,
// directory and ports): it must tell its whole story — two handsets from
// the world file, tracks stored, the operator's change applied, push-to-
// talk from handset 1 heard on handset 2 over UDP, the recording stored —
// so the README's demo output stays what the demo really prints.
func TestDemo(t *testing.T) {
	audiotest.NeedTools(t, "espeak-ng", "curl")
	top, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, cmd := range []string{"pttagent", "pttsim"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "github.com/pttagent/pttagent/cmd/"+cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", cmd, err, out)
		}
	}
	demo := exec.Command("sh", filepath.Join(top, ".ci", "demo"))
	demo.Env = append(os.Environ(), "DEMO_BIN="+bin, "DEMO_DIR="+t.TempDir(),
		"DEMO_PORT="+strconv.Itoa(mqtttest.FreePort(t)), "DEMO_HTTP="+strconv.Itoa(mqtttest.FreePort(t)),
		"DEMO_MEDIA="+strconv.Itoa(mqtttest.FreePort(t)))
	// Its own process group: whatever the script leaves behind if the
	// test fails halfway is ended with it.
	demo.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := demo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	demo.Stderr = demo.Stdout
	var log logbuf.Buffer
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.Write([]byte(sc.Text() + "\n"))
		}
		close(done)
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			syscall.Kill(-demo.Process.Pid, syscall.SIGKILL)
			demo.Wait()
		}
		if t.Failed() {
			t.Logf("the demo printed:\n%s", log.String())
		}
	})
	// The story's last line comes ~36 s in (the operator waits 20 s, then
	// push-to-talk); then Ctrl-C, as a technician stops it.
	wait.For(t, 3*time.Minute, "the demo's last story line", func() bool {
		return strings.Contains(log.String(), "speaker wrote")
	})
	syscall.Kill(-demo.Process.Pid, syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		ps, _ := exec.Command("ps", "-eo", "pid,ppid,pgid,stat,args").CombinedOutput()
		var left []string
		for _, l := range strings.Split(string(ps), "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[2] == strconv.Itoa(demo.Process.Pid) {
				left = append(left, l)
			}
		}
		t.Fatalf("the demo did not stop on Ctrl-C within 30 s; its processes:\n%s", strings.Join(left, "\n"))
	}
	demo.Wait()
	stopped = true

	got := log.String()
	for _, want := range []string{
		`[platform]   msg="world loaded" file=.ci/demo-world.yaml created=3 kept=0 groups=1`,
		`[platform]   msg="media relay listening"`,
		`[console]   http://127.0.0.1:`,
		`[handset 1] msg="voice over UDP"`,
		`[handset 2] msg="voice over UDP"`,
		`[handset 2] msg="platform change" part=platform change="joined group \"Demo group\"`,
		`[platform]   msg="track point stored" account=demo-0001 seq=1 `,
		`[platform]   msg="track point stored" account=demo-0002 seq=1 `,
		`[operator]  member-change member_id=`,
		`[handset 1] msg="platform change" part=platform change="track 2→1" why="event corp-member-change"`,
		`[handset 1] msg="track settings" part=tracks loc_share=true track=1 period=5s`,
		`[bench]     ptt pressed for 4000 ms`,
		`[handset 1] msg=talking part=ptt group=`,
		`[handset 2] msg="voice heard" part=ptt burst=`,
		`[handset 1] msg="talk ended"`,
		`[platform]   msg="recording stored" account=demo-0001`,
		"demo stopped; configs, state and logs are in ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the demo did not print %q", want)
		}
	}
	for _, c := range []struct {
		re  string
		min int
	}{
		{`location-get-track \S+: (\d+) points stored for demo-0001`, 3},
		{`location-get-track \S+: (\d+) points stored for demo-0002`, 2},
		{`handset 2's speaker wrote (\d+) s of audio`, 3}, // the 4 s burst, heard
	} {
		n := -1
		if m := regexp.MustCompile(c.re).FindStringSubmatch(got); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		if n < c.min {
			t.Errorf("%s: %d, want ≥ %d", c.re, n, c.min)
		}
	}
}
