package gps

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"testing"

	nmea "github.com/adrianmo/go-nmea"
)

// The benchmarks run on the u-blox drive log: RMC, VTG, GGA, 2 GSA, 5 GSV
// and GLL per cycle, i.e. what a multi-GNSS receiver really sends.
//
//	go test -run XXX -bench . -benchmem -count 5 ./gps/

func benchLog(b *testing.B) ([]byte, [][]byte) { return benchLogOf(b, "ublox-m8-drive.nmea") }

func benchLogOf(b *testing.B, name string) ([]byte, [][]byte) {
	b.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		b.Fatal(err)
	}
	var lines [][]byte
	sc := NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	return data, lines
}

func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "sentences/s")
}

// BenchmarkPipeline is splitter + decoder + merger from a byte stream, per
// sentence: what the Source does with every sentence from the port.
func BenchmarkPipeline(b *testing.B) { benchPipeline(b, "ublox-m8-drive.nmea") }

// BenchmarkPipelineFast is the same on the 10 Hz log (RMC, VTG, GGA, GSA,
// GST, GLL per cycle, GSV once a second): GST decoding included.
func BenchmarkPipelineFast(b *testing.B) { benchPipeline(b, "ublox-m8-10hz.nmea") }

func benchPipeline(b *testing.B, name string) {
	data, lines := benchLogOf(b, name)
	r := bytes.NewReader(data)
	sc := NewScanner(r)
	var m Merger
	b.SetBytes(int64(len(data) / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		if !sc.Scan() {
			r.Reset(data)
			sc.Reset(r)
			continue
		}
		m.Feed(sc.Bytes())
		i++
	}
	reportRate(b, b.N)
}

// BenchmarkFeed is decoder + merger on sentences already split, per
// sentence: the part comparable to go-nmea's Parse.
func BenchmarkFeed(b *testing.B) {
	_, lines := benchLog(b)
	var m Merger
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Feed(lines[i%len(lines)])
	}
	reportRate(b, b.N)
}

// BenchmarkGoNMEA parses the same sentences with go-nmea, the reference:
// decoding only, no merging.
func BenchmarkGoNMEA(b *testing.B) {
	_, lines := benchLog(b)
	strs := make([]string, len(lines))
	for i, l := range lines {
		strs[i] = string(l)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := nmea.Parse(strs[i%len(strs)]); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N)
}

// BenchmarkReplayJSON is `pttagent gps replay --json` end to end on a 2.5 MB
// log (the drive twenty times): framing, decoding, merging, JSON, buffered
// output. One op is the whole log.
func BenchmarkReplayJSON(b *testing.B) {
	one, lines := benchLog(b)
	data := bytes.Repeat(one, 20)
	sentences := 20 * len(lines)
	r := bytes.NewReader(data)
	w := bufio.NewWriterSize(io.Discard, 64<<10)
	line := make([]byte, 0, 256)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r.Reset(data)
		sc := NewScanner(r)
		var m Merger
		for sc.Scan() {
			if f, ok := m.Feed(sc.Bytes()); ok {
				line = append(f.AppendJSON(line[:0]), '\n')
				w.Write(line)
			}
		}
		w.Flush()
	}
	reportRate(b, sentences*b.N)
}
