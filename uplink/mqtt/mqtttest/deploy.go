package mqtttest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Tests of the broker as it is deployed run deploy/mosquitto's files
// themselves, so that what they prove holds for what a technician
// installs. Only what differs on a test machine changes: ports, file
// locations, the TLS files and the users.

// DeployDir is the repository's deploy/mosquitto, found from the test's
// working directory (a package directory inside the module).
func DeployDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "deploy", "mosquitto")
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the working directory: cannot find deploy/mosquitto")
		}
		dir = up
	}
}

// DynsecPlugin is the path of mosquitto's dynamic security plugin (Debian
// puts it under the multiarch directory).
func DynsecPlugin() (string, error) {
	m, _ := filepath.Glob("/usr/lib/*/mosquitto_dynamic_security.so")
	m2, _ := filepath.Glob("/usr/lib/mosquitto_dynamic_security.so")
	if m = append(m, m2...); len(m) == 0 {
		return "", fmt.Errorf("mosquitto_dynamic_security.so not found: run `make deps` (Debian's mosquitto package ships it)")
	}
	return m[0], nil
}

// deployedConf rewrites a shipped mosquitto.conf for this test: every
// listener on its own free loopback port, the TLS files of o, a password
// file with o.Passwords, a fresh dynamic security file whose admin is
// o.DynsecAdmin, persistence in the broker's directory, and an ACL file
// named by the conf taken from beside it (the shipped one). Any other
// directive is kept as shipped.
func (b *Broker) deployedConf(t testing.TB, o Options) []byte {
	t.Helper()
	src, err := os.ReadFile(o.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	beside := filepath.Dir(o.ConfigFile)
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			out.WriteString(line + "\n")
			continue
		}
		set := func(v string) { fmt.Fprintf(&out, "%s %s\n", f[0], v) }
		need := func(v, field string) string {
			if v == "" {
				t.Fatalf("%s names %s: set mqtttest.Options.%s", filepath.Base(o.ConfigFile), f[0], field)
			}
			return v
		}
		switch f[0] {
		case "listener":
			p := FreePort(t)
			b.Ports = append(b.Ports, p)
			set(strconv.Itoa(p) + " 127.0.0.1")
		case "certfile":
			b.tls = true
			set(need(o.CertFile, "CertFile"))
		case "keyfile":
			set(need(o.KeyFile, "KeyFile"))
		case "cafile":
			set(need(o.CAFile, "CAFile"))
		case "password_file":
			set(b.passwordFile(t, o.Passwords))
		case "acl_file":
			set(filepath.Join(beside, filepath.Base(f[1])))
		case "plugin":
			p, err := DynsecPlugin()
			if err != nil {
				t.Fatal(err)
			}
			set(p)
		case "plugin_opt_config_file":
			set(b.dynsecFile(t, need(o.DynsecAdmin, "DynsecAdmin"), o.DynsecPassword))
		case "persistence_location":
			set(b.dir + "/")
		case "pid_file", "user":
		default:
			out.WriteString(line + "\n")
		}
	}
	if len(b.Ports) == 0 {
		t.Fatalf("%s has no listener", o.ConfigFile)
	}
	if os.Geteuid() == 0 {
		// As in Start: mosquitto started as root drops to user "mosquitto",
		// which cannot read the test's temporary files.
		out.WriteString("user root\n")
	}
	if o.Config != "" {
		out.WriteString(o.Config + "\n")
	}
	return out.Bytes()
}

// passwordFile writes users with mosquitto_passwd, as a technician does.
func (b *Broker) passwordFile(t testing.TB, users map[string]string) string {
	t.Helper()
	path := filepath.Join(b.dir, "passwd")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(users))
	for u := range users {
		names = append(names, u)
	}
	sort.Strings(names)
	for _, u := range names {
		if out, err := exec.Command("mosquitto_passwd", "-b", path, u, users[u]).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %s: %v\n%s", u, err, out)
		}
	}
	return path
}

// dynsecFile creates the dynamic security plugin's file with its admin
// client, as README.md tells the technician to (mosquitto_ctrl dynsec init).
func (b *Broker) dynsecFile(t testing.TB, admin, password string) string {
	t.Helper()
	path := filepath.Join(b.dir, "dynamic-security.json")
	if out, err := exec.Command("mosquitto_ctrl", "dynsec", "init", path, admin, password).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_ctrl dynsec init: %v\n%s", err, out)
	}
	return path
}

// URLAt is the URL of the i-th listener of a deployed configuration (in the
// order of the file).
func (b *Broker) URLAt(i int) string {
	scheme := "tcp://"
	if b.tls {
		scheme = "mqtts://"
	}
	return scheme + "127.0.0.1:" + strconv.Itoa(b.Ports[i])
}

// Deployed starts deploy/mosquitto/conf (mosquitto.conf or
// mosquitto-dynsec.conf) with a throw-away CA's server certificate for
// 127.0.0.1 and these users (the password file; with dynsec, the first
// user listed as admin is the plugin's admin). Clients trust ca.
func Deployed(t testing.TB, conf string, o Options) (*Broker, *CA) {
	t.Helper()
	ca := NewCA(t)
	o.ConfigFile = filepath.Join(DeployDir(t), conf)
	o.CertFile, o.KeyFile = ca.Issue(t, "127.0.0.1", false)
	o.CAFile = ca.CertFile
	return Start(t, o), ca
}

// TLS is a client configuration that trusts the CA, with a client
// certificate for identity when identity is not empty.
func (ca *CA) TLS(t testing.TB, identity string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if identity != "" {
		certFile, keyFile := ca.Issue(t, identity, true)
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc
}
