package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pttagent/pttagent/board"
	"github.com/pttagent/pttagent/internal/manpage"
)

// The generator of the shipped manual pages and bash completion, and the
// check that they are up to date (as CI runs it). After changing a
// command, a flag or docs/config.md:
//
//	make man     (go test ./cmd/pttagent -run TestGeneratedFiles -update)
var update = flag.Bool("update", false, "rewrite docs/man and docs/bash-completion from the sources")

// generated are the files made from the command table and docs/config.md.
func generated(t *testing.T) map[string]string {
	cfgDoc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"../../docs/man/pttagent.1":           commandsPage(),
		"../../docs/man/pttagent.yaml.5":      configPage(string(cfgDoc)),
		"../../docs/bash-completion/pttagent": bashCompletion(),
	}
}

func TestGeneratedFiles(t *testing.T) {
	for path, want := range generated(t) {
		if *update {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is not what its sources make (%v): run `make man` and commit the result", path, err)
		}
	}
}

// groff reads the pages without a warning (lintian runs the same check).
func TestManPagesFormat(t *testing.T) {
	for path, page := range generated(t) {
		if !strings.HasSuffix(path, ".1") && !strings.HasSuffix(path, ".5") {
			continue
		}
		cmd := exec.Command("groff", "-man", "-ww", "-z", "-k", "-Tutf8")
		cmd.Stdin = strings.NewReader(page)
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("%s: groff: %v\n%s", path, err, out)
		}
		// What a reader sees: no roff left over, no markdown.
		cmd = exec.Command("groff", "-man", "-k", "-Tutf8")
		cmd.Stdin = strings.NewReader(page)
		text, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		plain := regexp.MustCompile(`.\x08`).ReplaceAllString(string(text), "")
		for _, bad := range []string{"`", "**", "\\f", "](", "\\(", "\\&"} {
			if strings.Contains(plain, bad) {
				t.Errorf("%s: %q in the rendered page", path, bad)
			}
		}
	}
}

func commandsPage() string {
	p := manpage.New("pttagent", 1, "pttagent", "User Commands")
	p.Name("pttagent", "push-to-talk handset agent, and the technician's tools")
	p.Section("synopsis")
	var syn []string
	for _, c := range commands {
		syn = append(syn, synopsis(c))
	}
	p.Literal(syn)
	p.Section("description")
	p.Paragraph("**pttagent** is the daemon of a Linux push-to-talk (PoC) handset. It reads the GNSS receiver and reports the track to the platform over MQTT, keeping every point on disk until the broker has it; it is a push-to-talk radio (PortAudio, Opus, floor control over MQTT, voice over UDP); it keeps the member's settings and groups in step with the platform. It runs as the systemd service `pttagent.service`, configured by one file, `/etc/pttagent/agent.yaml` (see **pttagent.yaml**(5)).")
	p.Paragraph("The other commands are for the technician who provisions and looks after a handset: they check the config, ask the running agent how it is, test the receiver, the network and the sound card, and gather a bug report.")
	p.Section("commands")
	for _, c := range commands {
		p.Subsection("pttagent " + c.name)
		p.Paragraph(capitalize(c.summary) + ".")
		if c.passFlags { // the command's own usage text
			p.Literal(strings.Split(strings.TrimRight(c.doc, "\n"), "\n"))
			continue
		}
		docBlocks(p, c.doc)
		for _, f := range flagsOf(c) {
			name, usage := flag.UnquoteUsage(f)
			if isBoolFlag(f) {
				name = ""
			} else if name == "" {
				name = "VALUE"
			}
			if d := flagDefault(f); d != "" {
				usage += " (default " + d + ")"
			}
			p.Tagged(manpage.Option("--"+f.Name, name), usage)
		}
	}
	p.Section("exit status")
	p.Paragraph("0 when the command did its work; 1 when it failed (said on standard error), or **check-config** found errors; 2 when the command line was wrong (what was wrong is said, with the usage line). **doctor** exits 0 when every step passed, 1 when a step warned, 3 when one failed.")
	p.Section("files")
	for _, f := range [][2]string{
		{"/etc/pttagent/agent.yaml", "The config file, see **pttagent.yaml**(5). The package installs none: start from `/usr/share/doc/pttagent/agent.example.yaml`."},
		{"/etc/pttagent/secrets.yaml", "Passwords and tokens, readable by the service user alone (mode 600)."},
		{"/var/lib/pttagent", "The state: the track queue, the last known platform state, recordings waiting for upload."},
		{"/run/pttagent/status.sock", "The status socket: root and group `pttagent-status` may ask (status_group)."},
		{"/lib/systemd/system/pttagent.service", "The hardened systemd unit."},
	} {
		p.Tagged(manpage.Code(f[0]), f[1])
	}
	p.Section("environment")
	p.Tagged(manpage.Code("NOTIFY_SOCKET")+", "+manpage.Code("WATCHDOG_USEC"), "Set by systemd: the agent then reports READY=1, WATCHDOG=1, STATUS= and STOPPING=1.")
	p.Tagged(manpage.Code("JOURNAL_STREAM"), "Set by systemd when standard error is the journal: log lines carry syslog priorities and no time.")
	p.Tagged(manpage.Code("ALSA_CONFIG_PATH"), "Another ALSA configuration, e.g. a sound card made of files on a bench.")
	p.Section("see also")
	p.Paragraph("**pttagent.yaml**(5), **systemctl**(1), **journalctl**(1); `/usr/share/doc/pttagent/README.md` (provisioning a handset, common faults), `status.md`, `protocol.md`.")
	return p.String()
}

// docBlocks writes a command's doc: paragraphs, and lines indented by
// four spaces as examples.
func docBlocks(p *manpage.Page, doc string) {
	for _, block := range strings.Split(doc, "\n\n") {
		ls := strings.Split(strings.Trim(block, "\n"), "\n")
		if strings.HasPrefix(ls[0], "    ") {
			for i := range ls {
				ls[i] = strings.TrimPrefix(ls[i], "    ")
			}
			p.Literal(ls)
			continue
		}
		p.Paragraph(strings.Join(ls, " "))
	}
}

func configPage(md string) string {
	p := manpage.New("pttagent.yaml", 5, "pttagent", "File Formats")
	p.Name("pttagent.yaml", "the config file of pttagent, the push-to-talk handset agent")
	p.Section("synopsis")
	p.Literal([]string{"/etc/pttagent/agent.yaml", "/etc/pttagent/secrets.yaml"})
	p.Section("description")
	p.Markdown(md)
	p.Section("see also")
	p.Paragraph("**pttagent**(1); `/usr/share/doc/pttagent/agent.example.yaml`, the commented example; `/usr/share/doc/pttagent/config.md`, this page's source.")
	return p.String()
}

// bashCompletion completes commands, their flags, file arguments, key
// names and ptt's actions.
func bashCompletion() string {
	var b strings.Builder
	b.WriteString(`# bash completion for pttagent(1). Generated from its command table
# (cmd/pttagent/man_test.go); do not edit: make man.
_pttagent() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
`)
	var first []string
	families := map[string][]string{}
	for _, c := range commands {
		w := strings.Fields(c.name)
		if !slices.Contains(first, w[0]) {
			first = append(first, w[0])
		}
		if len(w) > 1 {
			families[w[0]] = append(families[w[0]], w[1])
		}
	}
	// gps names its own subcommands in its usage.
	for _, m := range regexp.MustCompile(`pttagent gps (\w+)`).FindAllStringSubmatch(gpsUsage, -1) {
		if !slices.Contains(families["gps"], m[1]) {
			families["gps"] = append(families["gps"], m[1])
		}
	}
	fmt.Fprintf(&b, "\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\treturn\n\tfi\n", strings.Join(append(first, "--help", "--version"), " "))
	fams := make([]string, 0, len(families))
	for f := range families {
		fams = append(fams, f)
	}
	sort.Strings(fams)
	b.WriteString("\tlocal cmd=${COMP_WORDS[1]}\n\tcase $cmd in\n")
	for _, f := range fams {
		fmt.Fprintf(&b, "\t%s)\n\t\tif [ \"$COMP_CWORD\" -eq 2 ]; then\n\t\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\t\treturn\n\t\tfi\n\t\tcmd=\"$cmd ${COMP_WORDS[2]}\"\n\t\t;;\n",
			f, strings.Join(families[f], " "))
	}
	b.WriteString("\tesac\n")
	// A flag's value: files for FILE and PATH, nothing to offer otherwise.
	b.WriteString("\tcase $prev in\n")
	var fileFlags, valueFlags []string
	for _, c := range commands {
		for _, f := range flagsOf(c) {
			name, _ := flag.UnquoteUsage(f)
			switch {
			case isBoolFlag(f):
			case name == "FILE" || name == "PATH":
				fileFlags = appendNew(fileFlags, "--"+f.Name)
			default:
				valueFlags = appendNew(valueFlags, "--"+f.Name)
			}
		}
	}
	fmt.Fprintf(&b, "\t%s)\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\t\treturn\n\t\t;;\n", strings.Join(fileFlags, "|"))
	fmt.Fprintf(&b, "\t%s)\n\t\treturn\n\t\t;;\n\tesac\n", strings.Join(valueFlags, "|"))
	b.WriteString("\tcase $cmd in\n")
	for _, c := range commands {
		if c.passFlags {
			continue
		}
		var flags []string
		for _, f := range flagsOf(c) {
			flags = append(flags, "--"+f.Name)
		}
		flags = append(flags, "--help")
		words := strings.Join(flags, " ")
		extra := ""
		switch c.name {
		case "check-config":
			extra = "\t\tCOMPREPLY+=($(compgen -f -- \"$cur\"))\n"
		case "ptt":
			words += " tap hold"
		case "key":
			for _, k := range board.KnownKeys {
				if k != "ptt" {
					words += " " + string(k)
				}
			}
		case "help":
			words += " " + strings.Join(first, " ")
		}
		fmt.Fprintf(&b, "\t%q)\n\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n%s\t\t;;\n", c.name, words, extra)
	}
	b.WriteString("\tesac\n}\ncomplete -F _pttagent pttagent\n")
	return b.String()
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// The completion, run by bash as a user's shell would.
func TestBashCompletion(t *testing.T) {
	script := bashCompletion()
	for _, tc := range []struct {
		line string // what was typed; the cursor is at its end
		want []string
		not  []string
	}{
		{"pttagent ", []string{"run", "status", "doctor", "bugreport", "audio", "gps", "--help"}, nil},
		{"pttagent st", []string{"status"}, []string{"run"}},
		{"pttagent audio ", []string{"devices", "test"}, nil},
		{"pttagent gps ", []string{"replay", "watch", "simulate"}, nil},
		{"pttagent status --", []string{"--json", "--watch", "--config", "--help"}, []string{"--loopback"}},
		{"pttagent audio test --lo", []string{"--loopback"}, nil},
		{"pttagent key ", []string{"group_up", "volume_down"}, []string{"ptt"}},
		{"pttagent ptt ", []string{"tap", "hold"}, nil},
		{"pttagent status --config /et", []string{"/etc"}, nil},
		{"pttagent doctor --timeout ", nil, []string{"--json"}},
	} {
		words := strings.Split(tc.line, " ")
		var arr bytes.Buffer
		for _, w := range words {
			fmt.Fprintf(&arr, "%q ", w)
		}
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script+fmt.Sprintf("\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_pttagent\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n", arr.String(), len(words)-1))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tc.line, err, out)
		}
		got := strings.Fields(string(out))
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%q: %v lacks %q", tc.line, got, w)
			}
		}
		for _, w := range tc.not {
			if slices.Contains(got, w) {
				t.Errorf("%q: %v offers %q", tc.line, got, w)
			}
		}
	}
}
