package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/statussock"
	"github.com/pttagent/pttagent/systemd"
)

func setupBugreport(fs *flag.FlagSet) runner {
	cfgPath := configFlag(fs, "")
	output := fs.String("output", "", "write the archive to `FILE` (default: pttagent-bugreport-HOST-TIME.tar.gz here)")
	lines := fs.Int("lines", 2000, "how many of the journal's last `LINES` of the service to include")
	withDoctor := fs.Bool("doctor", false, "run doctor too and include its findings (it opens the receiver and the sound card when the agent is not running)")
	return func(ctx context.Context, io stdio, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		if *lines < 0 || *lines > 1_000_000 {
			return usagef("--lines %d: from 0 to 1000000", *lines)
		}
		path := *output
		if path == "" {
			host, _ := os.Hostname()
			path = fmt.Sprintf("pttagent-bugreport-%s-%s.tar.gz", safeName(host), time.Now().UTC().Format("20060102T150405Z"))
		}
		b := &bugreport{cfgPath: *cfgPath, lines: *lines, doctor: *withDoctor, now: time.Now()}
		n, err := b.write(ctx, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(io.out, "wrote %s (%d files, %d KB): no passwords, tokens or recordings in it; send it to whoever supports the handsets\n",
			path, n, (fileSize(path)+1023)/1024)
		for _, m := range b.missing {
			fmt.Fprintf(io.errOut, "  note: %s\n", m)
		}
		return nil
	}
}

func safeName(s string) string {
	return regexp.MustCompile(`[^A-Za-z0-9._-]`).ReplaceAllString(s, "_")
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// bugreport gathers the files. Everything it writes passes the redactor:
// the secrets file's values (and their MD5, which the corp login sends)
// and credentials in URLs are replaced wherever they appear, whatever
// wrote them.
type bugreport struct {
	cfgPath string
	lines   int
	doctor  bool
	now     time.Time

	cfg     *config.Config
	secrets []string
	missing []string // what could not be gathered, said in README.txt too
	files   []bugFile
}

type bugFile struct {
	name string
	data []byte
}

func (b *bugreport) add(name string, data []byte) {
	b.files = append(b.files, bugFile{name, data})
}

func (b *bugreport) note(format string, args ...any) {
	b.missing = append(b.missing, fmt.Sprintf(format, args...))
}

func (b *bugreport) write(ctx context.Context, path string) (int, error) {
	b.gather(ctx)
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	dir := "pttagent-bugreport-" + b.now.UTC().Format("20060102T150405Z") + "/"
	for _, f := range b.files {
		data := b.redact(f.data)
		if err := tw.WriteHeader(&tar.Header{Name: dir + f.name, Mode: 0o644, Size: int64(len(data)), ModTime: b.now,
			Typeflag: tar.TypeReg}); err != nil {
			return 0, err
		}
		if _, err := tw.Write(data); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := gz.Close(); err != nil {
		return 0, err
	}
	// Not world-readable: it holds the handset's position and names.
	if err := os.WriteFile(path, tgz.Bytes(), 0o600); err != nil {
		return 0, fmt.Errorf("bugreport: %w", err)
	}
	return len(b.files), nil
}

// urlCredentials are a user and password in a URL, which check-config
// refuses but a hand-edited file may still hold.
var urlCredentials = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://)[^/@\s"']*@`)

func (b *bugreport) redact(data []byte) []byte {
	for _, s := range escapedForms(b.secrets) {
		data = bytes.ReplaceAll(data, []byte(s), []byte(systemd.Redacted))
	}
	return urlCredentials.ReplaceAll(data, []byte("${1}"+systemd.Redacted+"@"))
}

// escapedForms adds to each secret the forms JSON and Go quoting give it
// (a `"` or `\` in a password comes out escaped in status.json or a log
// line), longest first so that no part of one is left behind.
func escapedForms(secrets []string) []string {
	var out []string
	for _, s := range secrets {
		j, _ := json.Marshal(s)
		q := strconv.Quote(s)
		out = append(out, s, string(j[1:len(j)-1]), q[1:len(q)-1])
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func (b *bugreport) gather(ctx context.Context) {
	b.add("version.txt", b.version())
	b.config()
	b.status(ctx)
	b.journal(ctx)
	b.add("devices.txt", b.devices())
	if b.cfg != nil {
		b.add("state-dir.txt", listing(b.cfg.StateDir))
		b.add("runtime-dir.txt", listing(b.cfg.RuntimeDir))
	}
	if b.doctor {
		b.runDoctor(ctx)
	}
	// Last: it says what is missing.
	b.files = append([]bugFile{{"README.txt", b.readme()}}, b.files...)
}

func (b *bugreport) readme() []byte {
	var w bytes.Buffer
	host, _ := os.Hostname()
	who := "?"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	fmt.Fprintf(&w, "pttagent bug report, %s, host %s, made by %s\n\n", b.now.UTC().Format(time.RFC3339), host, who)
	fmt.Fprint(&w, `version.txt      pttagent, the kernel, the OS
status.json      pttagent status --json of the running agent (or why there is none)
config.yaml      the config file, secrets removed
secrets.txt      which keys the secrets file holds (never their values)
journal.txt      the service's last journal lines
devices.txt      sound cards, PortAudio devices, serial ports
state-dir.txt    the state directory: names, sizes, modes, times (no content)
runtime-dir.txt  the runtime directory, likewise
doctor.json      pttagent doctor's findings (with --doctor)

Every value of the secrets file, and its MD5, is replaced by [REDACTED]
wherever it appears, as are user names and passwords in URLs.
`)
	if len(b.missing) > 0 {
		fmt.Fprint(&w, "\nNot gathered:\n")
		for _, m := range b.missing {
			fmt.Fprintf(&w, "  - %s\n", m)
		}
	}
	return w.Bytes()
}

func (b *bugreport) version() []byte {
	var w bytes.Buffer
	fmt.Fprintf(&w, "%s\n%s %s/%s\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, f := range []string{"/proc/version", "/etc/debian_version", "/etc/os-release"} {
		if data, err := os.ReadFile(f); err == nil {
			fmt.Fprintf(&w, "\n%s:\n%s", f, data)
		}
	}
	return w.Bytes()
}

// config copies the config file and learns the secrets to remove. The
// secrets file itself is never copied.
func (b *bugreport) config() {
	raw, err := os.ReadFile(b.cfgPath)
	switch {
	case errors.Is(err, fs.ErrPermission):
		b.note("the config %s: %v (run as root for it)", b.cfgPath, err)
	case err != nil:
		b.note("the config %s: %v", b.cfgPath, err)
	default:
		b.add("config.yaml", raw)
	}
	cfg, _, err := config.Load(b.cfgPath)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			b.add("check-config.txt", []byte(ps.Error()+"\n"))
		}
		// The secrets file's values, read without the config's checks,
		// so that they are removed even from a config that has errors.
		b.learnSecrets(secretsPathOf(raw, b.cfgPath))
		cfg = nil
	} else {
		b.secrets = secretValues(cfg.Secrets)
	}
	b.cfg = cfg
	if cfg == nil {
		def := config.Default()
		b.cfg = &def
		b.note("the config could not be loaded: the default directories are listed")
	}
	var w bytes.Buffer
	switch sf := b.cfg.SecretsFile; {
	case cfg == nil:
		fmt.Fprint(&w, "see check-config.txt\n")
	case sf == "":
		fmt.Fprint(&w, "no secrets_file\n")
	default:
		fi, err := os.Stat(sf)
		if err != nil {
			fmt.Fprintf(&w, "%s: %v\n", sf, err)
			break
		}
		fmt.Fprintf(&w, "%s: mode %04o, %d bytes\nholds: %s\n", sf, fi.Mode().Perm(), fi.Size(), orNone(secretKeys(cfg.Secrets)))
	}
	b.add("secrets.txt", w.Bytes())
}

// secretsPathOf finds secrets_file in a config that did not load.
func secretsPathOf(raw []byte, cfgPath string) string {
	m := regexp.MustCompile(`(?m)^secrets_file:\s*["']?([^"'#\n]+?)["']?\s*(#.*)?$`).FindSubmatch(raw)
	if m == nil {
		return ""
	}
	p := string(m[1])
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(cfgPath), p)
	}
	return p
}

// learnSecrets reads every value of a secrets file, however wrong the
// file is otherwise: "key: value" lines.
func (b *bugreport) learnSecrets(path string) {
	if path == "" {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.note("the secrets file %s could not be read (%v): its values cannot be looked for", path, err)
		return
	}
	var s config.Secrets
	for _, l := range strings.Split(string(data), "\n") {
		_, v, ok := strings.Cut(l, ":")
		if v = strings.Trim(strings.TrimSpace(v), `"'`); ok && v != "" {
			s.MQTTPassword = v
			b.secrets = append(b.secrets, secretValues(s)...)
		}
	}
}

func secretKeys(s config.Secrets) []string {
	var keys []string
	for k, v := range map[string]string{"mqtt_password": s.MQTTPassword, "platform_password": s.PlatformPassword,
		"platform_password_md5": s.PlatformPasswordMD5, "platform_token": s.PlatformToken} {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func (b *bugreport) status(ctx context.Context) {
	sock := filepath.Join(b.cfg.RuntimeDir, statussock.FileName)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	data, err := statussock.Fetch(ctx, sock)
	if err != nil {
		b.add("status.json", []byte(fmt.Sprintf(`{"error": %q}`+"\n", err.Error())))
		b.note("status: %v", err)
		return
	}
	var out bytes.Buffer
	if json.Indent(&out, bytes.TrimSpace(data), "", "  ") != nil {
		out.Reset()
		out.Write(data)
	}
	out.WriteByte('\n')
	b.add("status.json", out.Bytes())
}

// journal is the service's last lines, from journalctl when the system
// has one.
func (b *bugreport) journal(ctx context.Context) {
	jc, err := exec.LookPath("journalctl")
	if err != nil {
		b.add("journal.txt", []byte("journalctl is not installed: this system keeps no journal of the service\n"))
		b.note("journal: no journalctl")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, jc, "--unit", "pttagent.service", "--lines", fmt.Sprint(b.lines), "--no-pager",
		"--output", "short-iso-precise", "--quiet")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if err != nil || out.Len() == 0 {
		msg := strings.TrimSpace(errOut.String())
		if err != nil {
			msg = strings.TrimSpace(err.Error() + ": " + msg)
		}
		if msg == "" {
			msg = "no lines (the service never ran here, or this user may not read the journal: root or group systemd-journal)"
		}
		b.note("journal: %s", msg)
		fmt.Fprintf(&out, "journalctl: %s\n", msg)
	}
	b.add("journal.txt", out.Bytes())
}

func (b *bugreport) devices() []byte {
	var w bytes.Buffer
	if err := listAudioDevices(&w, b.cfg.Audio); err != nil {
		fmt.Fprintf(&w, "audio: %v\n", err)
	}
	fmt.Fprintf(&w, "\ngps.device %s: ", b.cfg.GPS.Device)
	if fi, err := os.Stat(b.cfg.GPS.Device); err != nil {
		fmt.Fprintf(&w, "%v\n", err)
	} else {
		fmt.Fprintf(&w, "%v\n", fi.Mode())
	}
	fmt.Fprint(&w, "\nSerial ports:\n")
	for _, pattern := range []string{"/dev/serial/by-id/*", "/dev/ttyUSB*", "/dev/ttyACM*", "/dev/ttyS*", "/dev/ttyAMA*"} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			line := m
			if t, err := os.Readlink(m); err == nil {
				line += " → " + t
			}
			fmt.Fprintf(&w, "  %s\n", line)
		}
	}
	return w.Bytes()
}

// listing names every file under dir with its size, mode and time: what
// a developer needs to see (a queue of 2 GB, a recording set aside, a
// file of the wrong owner) without what is in them.
func listing(dir string) []byte {
	var w bytes.Buffer
	fmt.Fprintf(&w, "%s\n", dir)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintf(&w, "  %s: %v\n", p, err)
			return nil
		}
		if p == dir {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&w, "  %s %10d %s %s\n", fi.Mode(), fi.Size(), fi.ModTime().UTC().Format(time.RFC3339), rel)
		return nil
	})
	if err != nil {
		fmt.Fprintf(&w, "  %v\n", err)
	}
	return w.Bytes()
}

func (b *bugreport) runDoctor(ctx context.Context) {
	d := &doctor{path: b.cfgPath, timeout: 10 * time.Second, openSerial: openSerialPort}
	d.run(ctx)
	data, _ := json.MarshalIndent(d.findings, "", "  ")
	b.add("doctor.json", append(data, '\n'))
}
