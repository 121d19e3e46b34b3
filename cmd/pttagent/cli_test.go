package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBinary runs the real pttagent and returns its exit status and output.
func runBinary(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(agentBinary(t), args...)
	cmd.Env = append(cmd.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// What a technician types, and what the binary must answer: help on
// stdout with status 0 however it is asked for; a wrong command line
// says what was wrong, on stderr, with status 2; an error of the work
// itself is status 1.
func TestCommandLine(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.yaml")
	type want struct {
		code           int
		stdout, stderr string // substrings; "" checks nothing
	}
	list := want{0, "Commands:\n  run ", ""}
	cases := []struct {
		args []string
		want want
	}{
		{[]string{"--help"}, list},
		{[]string{"-h"}, list},
		{[]string{"help"}, list},
		{[]string{"--version"}, want{0, "pttagent ", ""}},
		{[]string{"version"}, want{0, "pttagent ", ""}},
		{[]string{"help", "status"}, want{0, "Usage: pttagent status [", ""}},
		{[]string{"check-config", "--help"}, want{0, "Usage: pttagent check-config", ""}},
		{[]string{"check-config", "-h"}, want{0, "Usage: pttagent check-config", ""}},
		{[]string{"audio", "--help"}, want{0, "Usage: pttagent audio test", ""}},
		{[]string{"gps", "--help"}, want{0, "pttagent gps replay", ""}},
		{[]string{"gps", "watch", "--help"}, want{0, "-device", ""}},

		{[]string{"foo"}, want{2, "", `pttagent: unknown command "foo"; 'pttagent help' lists them`}},
		{[]string{"ptt", "foo"}, want{2, "", "pttagent ptt: unknown action \"foo\": tap [MS] or hold\nUsage: pttagent ptt [--config FILE] [--socket PATH] tap [MS] | hold\n"}},
		{[]string{"ptt"}, want{2, "", "pttagent ptt: tap or hold?"}},
		{[]string{"ptt", "tap", "abc"}, want{2, "", `pttagent ptt: "abc" is not a time in milliseconds`}},
		{[]string{"ptt", "hold", "100"}, want{2, "", `pttagent ptt: unexpected argument "100"`}},
		{[]string{"key", "foo"}, want{2, "", `pttagent key: unknown key "foo": group_up, group_down, volume_up, volume_down`}},
		{[]string{"key"}, want{2, "", "pttagent key: which key?"}},
		{[]string{"run", "extra"}, want{2, "", `pttagent run: unexpected argument "extra" (the config is given with --config FILE)`}},
		{[]string{"check-config", "a", "b"}, want{2, "", "pttagent check-config: one FILE at most, got 2 arguments"}},
		{[]string{"status", "-x"}, want{2, "", "pttagent status: flag provided but not defined: -x\nUsage: pttagent status ["}},
		{[]string{"status", "--interval", "1ms", "--watch"}, want{2, "", "--interval 1ms is too short"}},
		{[]string{"status", "now"}, want{2, "", `pttagent status: unexpected argument "now"`}},
		{[]string{"audio"}, want{2, "", "pttagent audio: which one? devices, test"}},
		{[]string{"audio", "foo"}, want{2, "", `pttagent audio: unknown command "foo"; the commands are devices, test`}},
		{[]string{"audio", "test", "--seconds", "0"}, want{2, "", "--seconds 0: from more than 0 to 600"}},
		{[]string{"doctor", "extra"}, want{2, "", `pttagent doctor: unexpected argument "extra"`}},
		{[]string{"bugreport", "--lines", "-1"}, want{2, "", "--lines -1: from 0 to 1000000"}},
		{[]string{"help", "nope"}, want{2, "", `no command "nope"`}},
		{[]string{"--help", "status"}, want{2, "", "--help takes no arguments"}},
		{[]string{"version", "x"}, want{2, "", `pttagent version: unexpected argument "x"`}},
		{[]string{"gps"}, want{2, "", "Usage:"}},

		// The work failed, the command line was right: 1.
		{[]string{"check-config", missing}, want{1, "", "no such file or directory (start from the commented example"}},
		{[]string{"run", "--config", missing}, want{1, "", "no such file or directory"}},
		{[]string{"--config", missing}, want{1, "", "no such file or directory"}}, // `pttagent` alone is `run`
	}
	// Every command's --help, however it is spelled.
	for _, c := range commands {
		for _, h := range []string{"--help", "-h"} {
			w := want{0, "Usage: pttagent " + c.name, ""}
			if c.passFlags {
				w.stdout = "pttagent " + c.name
			}
			cases = append(cases, struct {
				args []string
				want want
			}{append(strings.Fields(c.name), h), w})
		}
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runBinary(t, nil, tc.args...)
			if code != tc.want.code || !strings.Contains(out, tc.want.stdout) || !strings.Contains(errOut, tc.want.stderr) {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s\nwant stdout ⊇ %q, stderr ⊇ %q", code, tc.want.code, out, errOut,
					tc.want.stdout, tc.want.stderr)
			}
			if tc.want.code == 0 && errOut != "" {
				t.Errorf("help wrote to stderr:\n%s", errOut)
			}
			if tc.want.code == 2 && out != "" {
				t.Errorf("a usage error wrote to stdout:\n%s", out)
			}
		})
	}
}

// The command list names every command, and nothing else claims to be
// one.
func TestCommandListIsTheTable(t *testing.T) {
	var b bytes.Buffer
	printCommandList(&b)
	for _, c := range commands {
		if !strings.Contains(b.String(), "\n  "+c.name+" ") {
			t.Errorf("the list lacks %q:\n%s", c.name, b.String())
		}
		if c.summary == "" || c.doc == "" {
			t.Errorf("%s: no summary or doc", c.name)
		}
	}
}
