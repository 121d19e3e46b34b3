package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.bug.st/serial/enumerator"
)

// serialByID is where udev links serial ports by the identity of the
// device behind them; a link there survives USB re-enumeration.
const serialByID = "/dev/serial/by-id"

// portInfo is one serial port as `gps ports` shows it.
type portInfo struct {
	name    string   // /dev/ttyACM0
	usb     string   // "1546:01a8", "" for a port that is not USB
	product string   // as the device describes itself
	serial  string   // the USB serial number
	byID    []string // links in /dev/serial/by-id to this port
}

func gpsPorts(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ports", stderr)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(rest) > 0 {
		fmt.Fprintln(stderr, "pttagent gps ports: no arguments")
		fs.Usage()
		return errUsage
	}
	ports, err := listPorts(serialByID)
	if err != nil {
		return fmt.Errorf("gps ports: %w", err)
	}
	writePorts(stdout, ports)
	return nil
}

// listPorts asks the kernel (through go.bug.st/serial's enumerator) for
// the serial ports and finds their names in byIDDir.
func listPorts(byIDDir string) ([]portInfo, error) {
	details, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, err
	}
	return describePorts(details, byIDDir), nil
}

// describePorts joins the enumerator's ports with the by-id links that
// point at them; a link to a port the enumerator did not list is a port
// too.
func describePorts(details []*enumerator.PortDetails, byIDDir string) []portInfo {
	byName := map[string]*portInfo{}
	var out []*portInfo
	for _, d := range details {
		p := &portInfo{name: d.Name, product: d.Product, serial: d.SerialNumber}
		if d.IsUSB {
			p.usb = strings.ToLower(d.VID + ":" + d.PID)
		}
		byName[canonical(d.Name)] = p
		out = append(out, p)
	}
	entries, _ := os.ReadDir(byIDDir)
	for _, e := range entries {
		link := filepath.Join(byIDDir, e.Name())
		target, err := filepath.EvalSymlinks(link)
		if err != nil {
			continue
		}
		p := byName[target]
		if p == nil {
			p = &portInfo{name: target}
			byName[target] = p
			out = append(out, p)
		}
		p.byID = append(p.byID, link)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	ports := make([]portInfo, len(out))
	for i, p := range out {
		sort.Strings(p.byID)
		ports[i] = *p
	}
	return ports
}

func canonical(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return p
	}
	return path
}

func writePorts(w io.Writer, ports []portInfo) {
	if len(ports) == 0 {
		fmt.Fprintln(w, "no serial ports (a USB receiver shows as /dev/ttyACM* or /dev/ttyUSB* when plugged in; a simulated one, a pty, is not listed)")
		return
	}
	anyID := false
	for _, p := range ports {
		line := p.name
		if p.usb != "" {
			line += "  USB " + p.usb
		}
		if p.product != "" {
			line += "  " + p.product
		}
		if p.serial != "" {
			line += "  serial " + p.serial
		}
		fmt.Fprintln(w, line)
		for _, l := range p.byID {
			fmt.Fprintln(w, "    "+l)
			anyID = true
		}
	}
	if anyID {
		fmt.Fprintln(w, "Use a /dev/serial/by-id name for gps.device (and gps.modem.control): it stays the same when USB re-enumerates the device.")
	}
}
