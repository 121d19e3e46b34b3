package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pttagent/pttagent/agent/config"
)

// command is one of pttagent's commands. This table is the one source of
// the command list, each command's --help, the pttagent(1) manual page
// and the bash completion (man_test.go generates both and fails when the
// shipped ones differ).
type command struct {
	// name is the words that select it: "status", "audio test".
	name string
	// args is the synopsis of the positional arguments: "[FILE]".
	args string
	// summary is one line for the command list.
	summary string
	// doc explains it: paragraphs separated by blank lines; lines
	// indented by four spaces are examples, shown as they are.
	doc string
	// setup declares the command's flags on fs and returns what runs it
	// with the arguments that are not flags. Flags may come anywhere
	// among the arguments.
	setup func(fs *flag.FlagSet) runner
	// passFlags: the command parses its own flags (gps).
	passFlags bool
}

type runner func(ctx context.Context, io stdio, args []string) error

type stdio struct {
	in          io.Reader
	out, errOut io.Writer
}

// usageError is a command line that is wrong: exit status 2, the message,
// and the command's usage line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitStatus ends the process with a status of its own (doctor's worst
// step) once the command has said everything.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// configFlag is the --config flag of the commands that read the agent's
// config.
func configFlag(fs *flag.FlagSet, what string) *string {
	return fs.String("config", config.DefaultPath, "the agent's config `FILE`"+what)
}

var commands []*command

func init() {
	commands = []*command{
		{name: "run", summary: "run the agent (what the systemd service starts)",
			doc: `Runs the handset daemon in the foreground until SIGTERM or SIGINT:
GNSS, tracks, the broker connection, the platform sync and push-to-talk.
A config with errors stops it before anything starts, with every problem
listed as check-config lists them. Under systemd it reports READY=1,
WATCHDOG=1, STATUS= (the verdict of pttagent status) and STOPPING=1.
"pttagent" without a command is "pttagent run".`,
			setup: setupRun},
		{name: "check-config", args: "[FILE]", summary: "check a config file: every problem with file, line and key",
			doc: `Reads the config (default ` + config.DefaultPath + `) and its secrets file
as the agent would and prints every problem at once, each with file, line,
key and what would be valid, then "FILE: OK" when the agent can use it.
Warnings (a receiver not plugged in yet) do not stop the agent. Exit
status 1 when the agent would refuse the file. Run it as the service user
too (runuser -u pttagent -- pttagent check-config): what root may read,
the service may not.`,
			setup: setupCheckConfig},
		{name: "status", summary: "ask the running agent how it is: the verdict, then every part",
			doc: `Asks the running agent over its status socket (runtime_dir/status.sock).
The first line is the verdict, the same line systemd shows as the
service's status:

    OK — uplink connected, GPS 3D (9 sats), platform synced 12 s ago, PTT ready (group "Patrol"), voice over UDP

or the worst problem first, with what to check:

    PROBLEM — uplink-down: dial tcp 10.0.0.5:8883: i/o timeout (for 2 min) → network, DNS, …; also gps-no-fix

Then one section per part (GPS, uplink, tracks, platform, push-to-talk,
voice over UDP) and the warnings with their hints. Text from the platform
is shown escaped: it cannot drive the terminal. Root and members of group
pttagent-status (status_group) may ask.`,
			setup: setupStatus},
		{name: "doctor", summary: "check the handset step by step: config, secrets, GPS, network, TLS, broker, platform, sound",
			doc: `Checks, in order, what the agent needs and prints a verdict per step:
the config; the secrets file; the GNSS receiver (opens, sends NMEA,
which baud rate when it sends garbage); DNS, TCP and TLS to each broker
and the platform (certificate chain, name, expiry, the clock); the broker
login and the ACL on the device's own topics; the platform login and one
fetch of the member's settings and groups; the sound devices. A step that
depends on one that failed is skipped. While the agent runs, doctor does
not take its receiver, sound card or broker session: those steps report
what the running agent says.

Exit status: 0 every step passed, 1 a warning at worst, 3 a step failed.`,
			setup: setupDoctor},
		{name: "bugreport", summary: "write one archive with what a developer needs to look into a problem",
			doc: `Writes a .tar.gz with the version, pttagent status --json, the config
with every secret removed, the last lines of the service's journal
(journalctl; said so when there is none), the sound and serial devices,
doctor's findings when asked (--doctor) and a listing of the state
directory (names and sizes: no track points, no recordings). No password,
token or hash from the secrets file is written. Send the file to whoever
supports the handsets.`,
			setup: setupBugreport},
		{name: "audio devices", summary: "list the sound cards and PortAudio devices, and which the config picks",
			doc: `Lists the kernel's sound cards (/proc/asound/cards) and every PortAudio
device with its channels and default rate, marks the system defaults,
and says which device audio.capture_device and audio.playback_device
select (a unique part of a name is enough) or why they select none.`,
			setup: setupAudioDevices},
		{name: "audio test", summary: "play a tone on the speaker, show the microphone level, optionally loop back through Opus",
			doc: `Plays a 1 kHz tone on the playback device for one second, then shows
the microphone's level (dBFS, peak and RMS) every half second for
--seconds. With --loopback it then records --seconds and plays them back
through the Opus encoder and decoder the handset uses, so a technician
hears what the others would. Uses the devices of the config (audio.*) or
--capture/--playback. Stop the agent first (systemctl stop pttagent): it
holds the sound card.`,
			setup: setupAudioTest},
		{name: "gps", args: "replay|watch|ports|simulate ARGS", passFlags: true,
			summary: "GNSS receiver tools: replay or export a log, watch a receiver live, list serial ports, simulate one",
			doc:     gpsUsage,
			setup: func(*flag.FlagSet) runner {
				return func(ctx context.Context, io stdio, args []string) error {
					return gpsCommand(ctx, args, io.out, io.errOut)
				}
			}},
		{name: "ptt", args: "tap [MS] | hold", summary: "press PTT through the running agent's bench socket",
			doc: `Presses the PTT key of the running agent through its bench socket
(board.bench_socket), exactly as the key would: tap holds it for MS
milliseconds (default 2000), hold until Enter, Ctrl-D or Ctrl-C. The
bench socket belongs to the service's user: run it as root (sudo) or as
pttagent.`,
			setup: setupKey("ptt")},
		{name: "key", args: "NAME [MS]", summary: "tap group_up, group_down, volume_up or volume_down there",
			doc: `Taps another key of the running agent through its bench socket, for MS
milliseconds (default 100): group_up and group_down switch the active
group, volume_up and volume_down the speaker's level.`,
			setup: setupKey("key")},
		{name: "version", summary: "print the version and commit",
			doc: `Prints the version and the commit it was built from; also --version.`,
			setup: func(*flag.FlagSet) runner {
				return func(_ context.Context, io stdio, args []string) error {
					if len(args) > 0 {
						return usagef("unexpected argument %q", args[0])
					}
					fmt.Fprintln(io.out, versionString())
					return nil
				}
			}},
		{name: "help", args: "[COMMAND]", summary: "the command list, or a command's help",
			doc: `Prints the list of commands, or the help of one; also -h and --help,
after pttagent or after any command.`,
			setup: func(*flag.FlagSet) runner {
				return func(_ context.Context, io stdio, args []string) error {
					if len(args) == 0 {
						printCommandList(io.out)
						return nil
					}
					c, rest := findCommand(args)
					if c == nil || len(rest) > 0 {
						return usagef("no command %q; the commands are listed by pttagent help", strings.Join(args, " "))
					}
					printHelp(io.out, c)
					return nil
				}
			}},
	}
}

// findCommand picks the command named by the first words of args (the
// longest match) and returns the rest.
func findCommand(args []string) (*command, []string) {
	var best *command
	n := 0
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(words) > len(args) || len(words) <= n {
			continue
		}
		match := true
		for i, w := range words {
			match = match && args[i] == w
		}
		if match {
			best, n = c, len(words)
		}
	}
	return best, args[n:]
}

// family lists the commands whose name starts with word ("audio"): a
// command made of several words, given only its first.
func family(word string) []*command {
	var out []*command
	for _, c := range commands {
		if strings.HasPrefix(c.name, word+" ") {
			out = append(out, c)
		}
	}
	return out
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

// dispatch runs the command line (without the program name).
func dispatch(ctx context.Context, io stdio, args []string) error {
	if len(args) == 0 || (args[0] != "" && args[0][0] == '-' && !isHelp(args[0]) && args[0] != "--version") {
		args = append([]string{"run"}, args...) // `pttagent`, `pttagent --config F`
	}
	switch {
	case isHelp(args[0]):
		if len(args) > 1 {
			fmt.Fprintf(io.errOut, "pttagent: %s takes no arguments; for a command's help: pttagent help COMMAND\n", args[0])
			return errUsage
		}
		printCommandList(io.out)
		return nil
	case args[0] == "--version" || args[0] == "-version":
		fmt.Fprintln(io.out, versionString())
		return nil
	}
	c, rest := findCommand(args)
	if c == nil {
		if fam := family(args[0]); len(fam) > 0 {
			return familyUsage(io, args, fam)
		}
		fmt.Fprintf(io.errOut, "pttagent: unknown command %q; 'pttagent help' lists them\n", args[0])
		return errUsage
	}
	if c.passFlags {
		return runPassing(ctx, io, c, rest)
	}
	fs := flag.NewFlagSet("pttagent "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.errOut)
	fs.Usage = func() {}
	run := c.setup(fs)
	pos, err := parseInterspersed(fs, rest)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(io.out, c)
		return nil
	case err != nil:
		return commandUsage(io, c, err.Error())
	}
	err = run(ctx, io, pos)
	var ue usageError
	if errors.As(err, &ue) {
		return commandUsage(io, c, ue.msg)
	}
	return err
}

// runPassing runs a command that parses its own flags; its help goes to
// stdout and exits 0 like every other command's.
func runPassing(ctx context.Context, io stdio, c *command, args []string) error {
	help := false
	for _, a := range args {
		if a == "--" {
			break
		}
		help = help || isHelp(a) || a == "help"
	}
	run := c.setup(nil)
	if help {
		err := run(ctx, stdio{in: io.in, out: io.out, errOut: io.out}, args)
		if errors.Is(err, errUsage) {
			return nil
		}
		return err
	}
	return run(ctx, io, args)
}

func familyUsage(io stdio, args []string, fam []*command) error {
	if len(args) > 1 && isHelp(args[1]) {
		for _, c := range fam {
			printHelp(io.out, c)
			fmt.Fprintln(io.out)
		}
		return nil
	}
	var names []string
	for _, c := range fam {
		names = append(names, strings.TrimPrefix(c.name, args[0]+" "))
	}
	if len(args) == 1 {
		fmt.Fprintf(io.errOut, "pttagent %s: which one? %s\n", args[0], strings.Join(names, ", "))
	} else {
		fmt.Fprintf(io.errOut, "pttagent %s: unknown command %q; the commands are %s\n", args[0], args[1], strings.Join(names, ", "))
	}
	for _, c := range fam {
		fmt.Fprintf(io.errOut, "  %s\n", synopsis(c))
	}
	return errUsage
}

func commandUsage(io stdio, c *command, msg string) error {
	fmt.Fprintf(io.errOut, "pttagent %s: %s\nUsage: %s\nRun 'pttagent %s --help' for more.\n", c.name, msg, synopsis(c), c.name)
	return errUsage
}

// parseInterspersed parses flags wherever they are among the arguments
// ("status --json" and "check-config FILE --help" alike); "--" ends the
// flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard) // the caller says what was wrong, once
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagsOf lists a command's flags as declared by its setup.
func flagsOf(c *command) []*flag.Flag {
	if c.passFlags {
		return nil
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.setup(fs)
	var out []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { out = append(out, f) })
	return out
}

// flagName is how a flag is written, with its value's name: "--config FILE".
func flagName(f *flag.Flag) string {
	name, _ := flag.UnquoteUsage(f)
	if isBoolFlag(f) {
		return "--" + f.Name
	}
	if name == "" {
		name = "VALUE"
	}
	return "--" + f.Name + " " + name
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// synopsis is the command's usage line.
func synopsis(c *command) string {
	parts := []string{"pttagent", c.name}
	for _, f := range flagsOf(c) {
		parts = append(parts, "["+flagName(f)+"]")
	}
	if c.args != "" {
		parts = append(parts, c.args)
	}
	return strings.Join(parts, " ")
}

func printCommandList(w io.Writer) {
	fmt.Fprint(w, "pttagent — push-to-talk handset agent, and the technician's tools\n\nUsage: pttagent COMMAND [ARGUMENTS]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'pttagent COMMAND --help' (or 'pttagent help COMMAND') for a command's flags.\n"+
		"Manual pages: pttagent(1), the config file pttagent.yaml(5).\n")
}

func printHelp(w io.Writer, c *command) {
	if c.passFlags {
		fmt.Fprintf(w, "pttagent %s — %s\n\n%s", c.name, c.summary, c.doc)
		return
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n\n%s\n", synopsis(c), capitalize(c.summary), c.doc)
	fs := flagsOf(c)
	if len(fs) == 0 {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	for _, f := range fs {
		_, usage := flag.UnquoteUsage(f)
		if d := flagDefault(f); d != "" {
			usage += " (default " + d + ")"
		}
		fmt.Fprintf(w, "  %-22s %s\n", flagName(f), usage)
	}
}

// flagDefault is a flag's default worth showing ("" for false, 0, "").
func flagDefault(f *flag.Flag) string {
	switch f.DefValue {
	case "", "false", "0", "0s":
		return ""
	}
	return f.DefValue
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
