package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
)

// hostile takes a clean log and damages it the ways a serial line does.
// Every damage is logged in a '#' comment just before it, so the log
// documents itself; about one sentence in six is damaged.
func hostile(clean []byte, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	lines := strings.Split(strings.TrimSuffix(string(clean), "\r\n"), "\r\n")
	// 50 cycles of the drive, from its start: enough to see every damage
	// several times, small enough to read.
	var keep []string
	cycles := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "$GNRMC") {
			cycles++
		}
		if cycles > 50 {
			break
		}
		keep = append(keep, l)
	}
	var b bytes.Buffer
	b.WriteString("# synthesised by gps/internal/nmeagen: the first 50 s of ublox-m8-drive.nmea, damaged\r\n")
	b.WriteString("\x00\x00\xff\xfe garbage from a wrong baud rate \x13\x8c\r\n")
	damages := []func(l string) string{
		func(l string) string {
			b.WriteString("# cut: unplugged mid-line, next sentence follows\r\n")
			return l[:len(l)/2]
		},
		func(l string) string { b.WriteString("# '$' mid-sentence\r\n"); return l[:len(l)/3] + l },
		func(l string) string {
			b.WriteString("# bad checksum\r\n")
			return l[:len(l)-2] + fmt.Sprintf("%02X", (hexval(l[len(l)-2:])+1)&0xff)
		},
		func(l string) string { b.WriteString("# missing checksum\r\n"); return l[:len(l)-3] },
		func(l string) string {
			b.WriteString("# flipped bit, checksum not updated\r\n")
			i := 7 + rng.IntN(len(l)-12)
			return l[:i] + string(l[i]^0x04) + l[i+1:]
		},
		func(l string) string {
			b.WriteString("# binary bytes inside\r\n")
			i := 7 + rng.IntN(len(l)-12)
			return l[:i] + "\xb5\x62\x01\x07" + l[i:]
		},
		func(l string) string {
			b.WriteString("# overlong line\r\n")
			return l[:len(l)-3] + strings.Repeat(",0", 60) + "*00"
		},
		func(l string) string {
			b.WriteString("# a UBX frame between sentences\r\n")
			return "\xb5\x62\x01\x07\x5c\x00\x24\x24GNGGA\x00\x13" + "\r\n" + l
		},
		func(l string) string { b.WriteString("# CR-only line end\r\n"); return l + "\r" },
		func(l string) string { b.WriteString("# LF-only line end\r\n"); return l + "\n" },
		func(l string) string {
			b.WriteString("# AIS sentence (ignored)\r\n")
			return "!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26\r\n" + l
		},
		func(l string) string { b.WriteString("# blank lines and spaces\r\n"); return "\r\n   \r\n" + l },
	}
	// Well framed, correct checksum, impossible content: a receiver bug or
	// a corrupted buffer upstream of the checksum.
	decodeDamage := func(l string) string {
		fields := strings.Split(l[1:len(l)-3], ",")
		idx := map[string]int{"GNRMC": 3, "GNGGA": 2, "GNGLL": 1}[fields[0]]
		if idx == 0 || len(fields[idx]) < 4 {
			return l
		}
		b.WriteString("# latitude minutes 61 with a correct checksum\r\n")
		fields[idx] = fields[idx][:2] + "61" + fields[idx][4:]
		return frame(strings.Join(fields, ","))
	}
	for i, l := range keep {
		if i > 3 && rng.IntN(6) == 0 && strings.HasPrefix(l, "$") {
			if rng.IntN(len(damages)+1) == 0 {
				l = decodeDamage(l)
			} else {
				l = damages[rng.IntN(len(damages))](l)
			}
		}
		if strings.HasSuffix(l, "\r") || strings.HasSuffix(l, "\n") {
			b.WriteString(l)
		} else {
			b.WriteString(l + "\r\n")
		}
	}
	// The log ends the way an unplug does: in the middle of a sentence.
	b.WriteString("$GNRMC,061551.00,A,48")
	return b.Bytes()
}

func hexval(s string) int {
	var v int
	fmt.Sscanf(s, "%X", &v)
	return v
}
