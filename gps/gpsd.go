package gps

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// DefaultGpsdPort is gpsd's IANA port.
const DefaultGpsdPort = "2947"

// gpsd as a source: for handsets where gpsd owns the receiver (it may speak
// a binary protocol we do not), the Source reads gpsd's JSON watch instead
// of NMEA. TPV reports are the fixes; SKY reports give the DOPs and the
// satellites used, GST reports the receiver's error estimate.

// IsGpsd reports whether a device names gpsd rather than a serial port.
func IsGpsd(device string) bool { return strings.HasPrefix(device, "gpsd://") }

// ParseGpsd splits gpsd://host[:port][/device] into a dial address and the
// device path to watch ("" for all of gpsd's devices).
func ParseGpsd(device string) (addr, path string, err error) {
	u, err := url.Parse(device)
	if err != nil {
		return "", "", fmt.Errorf("not a gpsd address: %w", err)
	}
	switch {
	case u.Hostname() == "":
		return "", "", errors.New("no host: write gpsd://localhost, gpsd://host:2947 or gpsd://host:2947/dev/ttyUSB0")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", "", errors.New("a gpsd address has a host, a port and a device path, nothing else")
	}
	port := u.Port()
	if port == "" {
		port = DefaultGpsdPort
	}
	return net.JoinHostPort(u.Hostname(), port), u.Path, nil
}

// ErrGpsdNoDevice marks a gpsd that reports no receiver at all.
var ErrGpsdNoDevice = errors.New("gpsd has no receiver")

func gpsdHint(err error, n SettingNames) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "is gpsd running and listening there? check " + n.Device
	case errors.As(err, &dnsErr):
		return "check the host in " + n.Device
	case errors.Is(err, ErrGpsdNoDevice):
		return "start gpsd with the receiver's device, or plug it in for gpsd's hotplug"
	case errors.Is(err, ErrSilent):
		return "gpsd sends no fixes: is its receiver connected? (gpspipe -w shows what gpsd sees); reconnecting"
	}
	return ""
}

// Satellite is one satellite in view, as gpsd's SKY report lists it.
type Satellite struct {
	System    string  // GPS, GLONASS, Galileo, BeiDou, QZSS, SBAS, NavIC, IMES
	PRN       int     // in the system's own numbering (gpsd's svid)
	Elevation float64 // degrees
	Azimuth   float64 // degrees true
	SNR       float64 // dB-Hz; 0 when not tracked
	Used      bool
}

// gpsdSystems are gpsd's gnssid values.
var gpsdSystems = [...]string{"GPS", "SBAS", "Galileo", "BeiDou", "IMES", "QZSS", "GLONASS", "NavIC"}

// maxGpsdLine bounds one JSON report (a SKY with every satellite of four
// constellations is about 6 kB).
const maxGpsdLine = 64 << 10

// gpsdReport holds the members of the report classes we read. GST's lat,
// lon and alt are standard deviations in metres, TPV's are a position: the
// class says which.
type gpsdReport struct {
	Class  string   `json:"class"`
	Device string   `json:"device"`
	Mode   int      `json:"mode"`
	Time   string   `json:"time"`
	Lat    *float64 `json:"lat"`
	Lon    *float64 `json:"lon"`
	AltMSL *float64 `json:"altMSL"`
	Alt    *float64 `json:"alt"` // before gpsd 3.20: MSL
	Speed  *float64 `json:"speed"`
	Track  *float64 `json:"track"`
	Major  *float64 `json:"major"`
	Minor  *float64 `json:"minor"`
	HDOP   *float64 `json:"hdop"`
	PDOP   *float64 `json:"pdop"`
	VDOP   *float64 `json:"vdop"`
	USat   *int     `json:"uSat"`
	Sats   []struct {
		PRN    int      `json:"PRN"`
		El     *float64 `json:"el"`
		Az     *float64 `json:"az"`
		SS     *float64 `json:"ss"`
		Used   bool     `json:"used"`
		GNSSID *int     `json:"gnssid"`
		SVID   *int     `json:"svid"`
	} `json:"satellites"`
	Devices []struct {
		Path string `json:"path"`
	} `json:"devices"`
	Message string `json:"message"`
}

// gpsdLink is a connection to gpsd with a watch enabled.
type gpsdLink struct {
	s       *Source
	conn    net.Conn
	r       *bufio.Reader
	silence time.Duration
	device  string

	rep      gpsdReport
	c        Counters
	noDevice bool // gpsd said it has no receiver
	sats     []Satellite
	// The latest SKY and GST, applied to the TPVs that follow.
	dops    Fix // HDOP, PDOP, VDOP, Sats and their Has bits
	gstTime string
	gstAcc  float64
	// lastTime is the time of the last TPV delivered: gpsd may report a
	// cycle several times while it learns where the receiver's cycle ends.
	lastTime string
}

func (s *Source) dialGpsd(ctx context.Context, addr, device string, silence time.Duration) (link, error) {
	dctx, cancel := context.WithTimeout(ctx, silence)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	watch := `?WATCH={"enable":true,"json":true`
	if device != "" {
		dev, _ := json.Marshal(device)
		watch += `,"device":` + string(dev)
	}
	watch += "};\n"
	conn.SetWriteDeadline(time.Now().Add(silence))
	if _, err := conn.Write([]byte(watch)); err != nil {
		conn.Close()
		return nil, err
	}
	return &gpsdLink{s: s, conn: conn, r: bufio.NewReaderSize(conn, 16<<10), silence: silence, device: device}, nil
}

func (l *gpsdLink) close() { l.conn.Close() }

func (l *gpsdLink) read(ctx context.Context, d *deliverer) (got bool, err error) {
	stop := context.AfterFunc(ctx, func() { l.conn.Close() })
	defer stop()
	var long []byte // a line longer than the reader's buffer, being put together
	skipping := false
	for {
		l.conn.SetReadDeadline(time.Now().Add(l.silence))
		line, err := l.r.ReadSlice('\n')
		if len(line) > 0 {
			got = true
			l.s.bytes.Add(uint64(len(line)))
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			switch {
			case skipping:
			case len(long)+len(line) <= maxGpsdLine:
				long = append(long, line...)
			default:
				skipping, long = true, nil
				l.c.Drops[DropOverlong]++
			}
			continue
		case ctx.Err() != nil:
			return got, ctx.Err()
		case errors.Is(err, os.ErrDeadlineExceeded):
			if l.noDevice {
				return got, fmt.Errorf("%w for %v: %w", ErrSilent, l.silence, ErrGpsdNoDevice)
			}
			return got, fmt.Errorf("%w for %v", ErrSilent, l.silence)
		case err != nil:
			return got, err
		}
		if skipping {
			skipping = false // the end of the overlong line
			continue
		}
		if long != nil {
			line = append(long, line...)
			long = nil
			if len(line) > maxGpsdLine {
				l.c.Drops[DropOverlong]++
				continue
			}
		}
		l.handle(bytes.TrimSpace(line), d)
		l.publish()
	}
}

// publish makes the link's counters visible to Stats.
func (l *gpsdLink) publish() {
	c := l.c
	l.s.update(func(st *Stats) { st.Counters = c })
}

// handle decodes one report.
func (l *gpsdLink) handle(line []byte, d *deliverer) {
	if len(line) == 0 {
		return
	}
	sats := l.rep.Sats[:0]
	l.rep = gpsdReport{Sats: sats}
	if err := json.Unmarshal(line, &l.rep); err != nil {
		l.c.Drops[DropDecode]++
		return
	}
	r := &l.rep
	if l.device != "" && r.Device != "" && r.Device != l.device {
		l.c.Ignored++
		return
	}
	switch r.Class {
	case "TPV":
		l.c.Sentences++
		l.tpv(r, d)
	case "SKY":
		l.c.Sentences++
		l.sky(r)
	case "GST":
		l.c.Sentences++
		l.gstTime, l.gstAcc = "", 0
		if r.Lat != nil && r.Lon != nil {
			l.gstTime, l.gstAcc = r.Time, math.Hypot(*r.Lat, *r.Lon)
		} else if r.Major != nil && r.Minor != nil {
			l.gstTime, l.gstAcc = r.Time, math.Hypot(*r.Major, *r.Minor)
		}
	case "DEVICES":
		l.c.Ignored++
		l.noDevice = len(r.Devices) == 0
	case "DEVICE":
		l.c.Ignored++
		l.noDevice = false
	default:
		l.c.Ignored++ // VERSION, WATCH, ERROR, PPS, TOFF...
	}
}

func (l *gpsdLink) tpv(r *gpsdReport, d *deliverer) {
	var f Fix
	if r.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, r.Time)
		if err != nil {
			l.c.Drops[DropDecode]++
			return
		}
		if r.Time == l.lastTime {
			// The same cycle again, reported before gpsd learned its end:
			// counted, not a second fix.
			l.c.Late++
			return
		}
		f.Time, f.Has = t.UTC(), HasTime|HasDate
	}
	finite := func(p *float64) bool { return p != nil && !math.IsNaN(*p) && !math.IsInf(*p, 0) }
	if finite(r.Lat) && finite(r.Lon) && math.Abs(*r.Lat) <= 90 && math.Abs(*r.Lon) <= 180 {
		f.Lat, f.Lon, f.Has = *r.Lat, *r.Lon, f.Has|HasPosition
	}
	switch {
	case finite(r.AltMSL):
		f.Alt, f.Has = *r.AltMSL, f.Has|HasAltitude
	case finite(r.Alt):
		f.Alt, f.Has = *r.Alt, f.Has|HasAltitude
	}
	if finite(r.Speed) && *r.Speed >= 0 {
		f.Speed, f.Has = *r.Speed, f.Has|HasSpeed
	}
	if finite(r.Track) && *r.Track >= 0 && *r.Track <= 360 {
		f.Course, f.Has = math.Mod(*r.Track, 360), f.Has|HasCourse
	}
	f.HDOP, f.PDOP, f.VDOP, f.Sats = l.dops.HDOP, l.dops.PDOP, l.dops.VDOP, l.dops.Sats
	f.Has |= l.dops.Has
	if r.Mode >= 0 && r.Mode <= 3 {
		f.Mode = Mode(r.Mode)
	}
	f.Valid = f.Mode >= Mode2D && f.Has&HasPosition != 0
	if !f.Valid && f.Mode >= Mode2D {
		f.Mode = ModeNoFix
	}
	if f.Mode != ModeUnknown {
		f.Has |= HasMode
	}
	switch {
	case !f.Valid:
	case l.gstTime != "" && l.gstTime == r.Time && l.gstAcc > 0:
		f.Accuracy, f.Has = l.gstAcc, f.Has|HasAccuracy|HasGST
	case f.Has&HasHDOP != 0 && f.HDOP > 0:
		f.Accuracy, f.Has = f.HDOP*UERE, f.Has|HasAccuracy
	}
	if r.Time != "" {
		l.lastTime = r.Time
	}
	l.c.Fixes++
	l.s.fix(f, d)
}

func (l *gpsdLink) sky(r *gpsdReport) {
	var dops Fix
	if r.HDOP != nil && *r.HDOP >= 0 {
		dops.HDOP, dops.Has = *r.HDOP, dops.Has|HasHDOP
	}
	if r.PDOP != nil && *r.PDOP >= 0 {
		dops.PDOP, dops.Has = *r.PDOP, dops.Has|HasPDOP
	}
	if r.VDOP != nil && *r.VDOP >= 0 {
		dops.VDOP, dops.Has = *r.VDOP, dops.Has|HasVDOP
	}
	used := 0
	l.sats = l.sats[:0]
	for _, s := range r.Sats {
		sat := Satellite{PRN: s.PRN, Used: s.Used}
		if s.SVID != nil {
			sat.PRN = *s.SVID
		}
		if s.GNSSID != nil && *s.GNSSID >= 0 && *s.GNSSID < len(gpsdSystems) {
			sat.System = gpsdSystems[*s.GNSSID]
		} else {
			sat.System = systemOfNMEAPRN(s.PRN)
		}
		if s.El != nil {
			sat.Elevation = *s.El
		}
		if s.Az != nil {
			sat.Azimuth = *s.Az
		}
		if s.SS != nil {
			sat.SNR = *s.SS
		}
		if s.Used {
			used++
		}
		l.sats = append(l.sats, sat)
	}
	switch {
	case r.USat != nil && *r.USat >= 0:
		dops.Sats, dops.Has = *r.USat, dops.Has|HasSats
	case len(r.Sats) > 0:
		dops.Sats, dops.Has = used, dops.Has|HasSats
	}
	l.dops = dops
	if l.s.OnSatellites != nil {
		l.s.OnSatellites(l.sats)
	}
}

// systemOfNMEAPRN guesses a satellite's system from NMEA's PRN ranges, as
// gpsd before 3.20 numbers them.
func systemOfNMEAPRN(prn int) string {
	switch {
	case prn >= 33 && prn <= 64, prn >= 120 && prn <= 158:
		return "SBAS"
	case prn >= 65 && prn <= 96:
		return "GLONASS"
	case prn >= 193 && prn <= 200:
		return "QZSS"
	case prn >= 201 && prn <= 235, prn >= 401 && prn <= 437:
		return "BeiDou"
	case prn >= 301 && prn <= 336:
		return "Galileo"
	}
	return "GPS"
}
