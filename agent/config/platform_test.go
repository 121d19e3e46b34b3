package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPlatformDefaultsToNone(t *testing.T) {
	cfg, _, err := Parse("/etc/pttagent/agent.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Platform
	if p.Dialect != "none" || p.Login != "name" || p.Poll.D() != 2*time.Minute || p.RequestTimeout.D() != 15*time.Second || !p.Events ||
		p.FullRefresh.D() != time.Hour || p.WapiLogin != "token" {
		t.Errorf("platform defaults %+v", p)
	}
}

func TestPlatformProblems(t *testing.T) {
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets.yaml")
	os.WriteFile(secrets, []byte("platform_password: pw\n"), 0o600)
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, []byte("mqtt_password: x\n"), 0o600)
	token := filepath.Join(dir, "token.yaml")
	os.WriteFile(token, []byte("platform_token: 4f3c2a\n"), 0o600)
	for _, tc := range []struct {
		name, yaml string
		want       string // "" = loads
	}{
		{"corp ok", "secrets_file: " + secrets + "\nplatform:\n  dialect: corp\n  base_url: https://platform.internal\n", ""},
		{"loopback http ok", "secrets_file: " + token + "\nplatform:\n  dialect: wapi\n  base_url: http://127.0.0.1:8088\n", ""},
		{"wapi user-login with a password", "secrets_file: " + secrets + "\nplatform:\n  dialect: wapi\n  base_url: https://p.internal\n  wapi_login: user-login\n", ""},
		{"wapi with a password only", "secrets_file: " + secrets + "\nplatform:\n  dialect: wapi\n  base_url: https://p.internal\n",
			"platform.wapi_login: token (the default) needs platform_token in the secrets file"},
		{"wapi user-login without a password", "secrets_file: " + token + "\nplatform:\n  dialect: wapi\n  base_url: https://p.internal\n  wapi_login: user-login\n",
			"platform.wapi_login: user-login needs platform_password or platform_password_md5"},
		{"bad wapi login", "secrets_file: " + token + "\nplatform:\n  dialect: wapi\n  base_url: https://p.internal\n  wapi_login: login\n",
			"platform.wapi_login: \"login\" is not a wapi login; use token"},
		{"full refresh too short", "secrets_file: " + secrets + "\nplatform:\n  dialect: corp\n  base_url: https://p.internal\n  full_refresh: 10s\n",
			"platform.full_refresh: 10s is out of range; use 1m0s to 168h0m0s"},
		{"unknown dialect", "platform:\n  dialect: weila\n", "platform.dialect: \"weila\" is not a platform dialect; use none"},
		{"no base_url", "secrets_file: " + secrets + "\nplatform:\n  dialect: corp\n", "platform.base_url: required with platform.dialect corp"},
		{"plaintext remote", "secrets_file: " + secrets + "\nplatform:\n  dialect: corp\n  base_url: http://platform.internal\n", "is plaintext to a host that is not this machine"},
		{"plaintext allowed", "secrets_file: " + secrets + "\nplatform:\n  dialect: corp\n  base_url: http://platform.internal\n  allow_plaintext: true\n", ""},
		{"not a URL", "secrets_file: " + secrets + "\nplatform:\n  dialect: corp\n  base_url: platform.example.com\n", "is not an http(s) URL"},
		{"bad login", "secrets_file: " + secrets + "\nplatform:\n  dialect: corp\n  base_url: https://p.internal\n  login: phone\n", "platform.login: \"phone\" is not a login call"},
		{"poll too short", "secrets_file: " + secrets + "\nplatform:\n  dialect: corp\n  base_url: https://p.internal\n  poll: 100ms\n", "platform.poll: 100ms is out of range"},
		{"corp without password", "secrets_file: " + empty + "\nplatform:\n  dialect: corp\n  base_url: https://p.internal\n", "corp needs platform_password or platform_password_md5 in the secrets file"},
		{"wapi without password or token", "platform:\n  dialect: wapi\n  base_url: https://p.internal\n", "set platform.wapi_login: user-login and platform_password instead"},
		{"password in the main file", "platform:\n  password: x\n", "Passwords belong in the secrets file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse(filepath.Join(dir, "agent.yaml"), []byte(minimal+tc.yaml))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ps Problems
			if !errors.As(err, &ps) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
