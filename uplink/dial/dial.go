// Package dial holds what every connection of the uplink needs the same
// way, whether it carries MQTT, HTTP or media: the retry schedule after a
// failure and the TLS configuration read from the config's files.
package dial

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

// Backoff is the wait before attempt n (0-based): exponential from lo,
// capped at hi, with "equal jitter" (half fixed, half random) so that
// handsets spread out while none retries sooner than half the schedule.
func Backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	return half + rand.N(half+1)
}

// LoadTLS builds the TLS configuration: certificates verified against
// caFile (or the system's CAs), an optional client certificate, TLS 1.2 or
// newer. Verification is skipped only when insecure says so.
func LoadTLS(caFile, certFile, keyFile, serverName string, insecure bool) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: insecure}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls ca_file %s: no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
