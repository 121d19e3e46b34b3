package config

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/pttagent/pttagent/internal/regular"
)

// Secrets is the content of the secrets file.
type Secrets struct {
	MQTTPassword string `yaml:"mqtt_password"`
	// PlatformPassword is the platform login password in plain text; the
	// agent sends its MD5, as the seeds require.
	PlatformPassword string `yaml:"platform_password"`
	// PlatformPasswordMD5 is that MD5 (32 hex digits) instead of the
	// password, for a handset that must not hold the plain text. The
	// platform accepts the hash as the password, so it is as secret. With
	// both, they must agree.
	PlatformPasswordMD5 string `yaml:"platform_password_md5"`
	// PlatformToken is the wapi token the platform's operator issued: how
	// a wapi handset authenticates (platform.wapi_login: token).
	PlatformToken string `yaml:"platform_token"`
}

// PlatformPasswordHash is the password as the platforms' login takes it:
// the hex MD5 of platform_password, or platform_password_md5 as given
// (lower case). "" when the file holds neither.
func (s Secrets) PlatformPasswordHash() string {
	if s.PlatformPassword != "" {
		sum := md5.Sum([]byte(s.PlatformPassword))
		return hex.EncodeToString(sum[:])
	}
	return s.PlatformPasswordMD5
}

// ShortSecret is the length under which a secret cannot be hidden in the
// log wherever it appears, only where it is a whole value (systemd's
// MinRedact): replacing "demo" everywhere would mangle the log.
const ShortSecret = 8

// loadSecrets reads the secrets file, refusing one that others could read:
// a handset's broker password must not leak to every local user. Problems
// with the file itself have no File (the caller blames secrets_file); ok
// says the file was read, so what it lacks can be reported.
func loadSecrets(path string) (sec Secrets, ps []Problem, ok bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return sec, []Problem{{Msg: fmt.Sprintf("cannot read the secrets file: %v", unwrapPath(err))}}, false
	}
	if !fi.Mode().IsRegular() {
		return sec, []Problem{{Msg: (&regular.Error{Path: path, Mode: fi.Mode(), Err: regular.ErrNotRegular}).Error()}}, false
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return sec, []Problem{{Msg: fmt.Sprintf("%s has mode %04o: group or others can read or change it; run: chmod 600 %s", path, perm, path)}}, false
	}
	data, err := readRegular(path, MaxFileSize)
	if err != nil {
		return sec, []Problem{{Msg: fmt.Sprintf("cannot read the secrets file: %v", unwrapPath(err))}}, false
	}
	d := newDecoder(path)
	d.anyText = true
	if !d.decodeFile(data, &sec) {
		return Secrets{}, append(d.problems, d.more()...), false
	}
	add := func(key string, warning bool, format string, args ...any) {
		d.problems = append(d.problems, Problem{File: path, Line: d.lineOf(key), Key: key, Msg: fmt.Sprintf(format, args...), Warning: warning})
	}
	if h := sec.PlatformPasswordMD5; h != "" {
		if _, err := hex.DecodeString(h); err != nil || len(h) != 2*md5.Size {
			add("platform_password_md5", false, "must be 32 hexadecimal digits (the MD5 of the password, as  printf %%s PASSWORD | md5sum  prints it)")
			sec.PlatformPasswordMD5 = ""
		} else {
			sec.PlatformPasswordMD5 = strings.ToLower(h)
		}
		if sec.PlatformPassword != "" && sec.PlatformPasswordMD5 != "" {
			if sum := md5.Sum([]byte(sec.PlatformPassword)); hex.EncodeToString(sum[:]) != sec.PlatformPasswordMD5 {
				add("platform_password_md5", false, "is not the MD5 of platform_password: keep one of the two")
			}
		}
	}
	v := reflect.ValueOf(sec)
	for i := 0; i < v.NumField(); i++ {
		if s := v.Field(i).String(); s != "" && len(s) < ShortSecret {
			key := yamlName(v.Type().Field(i))
			add(key, true, "is shorter than %d bytes: the log can hide it only where it is a whole value, not inside a longer text; use a longer one", ShortSecret)
		}
	}
	d.problems = append(d.problems, d.more()...)
	for _, p := range d.problems {
		if !p.Warning {
			return Secrets{}, d.problems, false
		}
	}
	return sec, d.problems, true
}

func yamlName(f reflect.StructField) string {
	return strings.Split(f.Tag.Get("yaml"), ",")[0]
}

// checkSecrets reports what the secrets file must hold for the config to
// work; it runs after the file is read.
func (c *Config) checkSecrets() []Problem {
	var v validation
	pw := c.Secrets.PlatformPasswordHash() != ""
	if c.Platform.Dialect == "corp" && !pw {
		v.err("platform.dialect", "corp needs platform_password or platform_password_md5 in the secrets file (secrets_file) to log in")
	}
	if c.Platform.Dialect == "wapi" {
		switch {
		case c.Platform.WapiLogin == "token" && c.Secrets.PlatformToken == "":
			v.err("platform.wapi_login", "token (the default) needs platform_token in the secrets file (secrets_file): the token the platform's operator issued for this account, since seed 003 has no login call; "+
				"only if the platform serves POST /wapi/user/login (pttsim does), set platform.wapi_login: user-login and platform_password instead")
		case c.Platform.WapiLogin == "token" && pw:
			v.warn("platform.wapi_login", "token: platform_password in the secrets file is not used (set platform.wapi_login: user-login to log in with it)")
		case c.Platform.WapiLogin == "user-login" && !pw:
			v.err("platform.wapi_login", "user-login needs platform_password or platform_password_md5 in the secrets file (secrets_file)")
		}
	}
	return v.problems
}
