package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a throwaway certificate authority for loopback TLS servers, its
// validity chosen by the test (from BaseTime, so no test is a time bomb).
type CA struct {
	// Cert is the CA's own certificate.
	Cert *x509.Certificate
	// PEM is Cert PEM-encoded, as a ca_file holds it.
	PEM []byte
	key *ecdsa.PrivateKey
}

// NewCA returns a CA valid from notBefore to notAfter.
func NewCA(tb testing.TB, notBefore, notAfter time.Time) *CA {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "spacetime-watch test CA"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{Cert: cert, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key: key}
}

// Pool is a cert pool holding the CA alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue returns a server certificate for hosts (names or IP addresses),
// valid from notBefore to notAfter and signed by ca, with the CA in its
// chain, for a tls.Config's Certificates.
func (ca *CA) Issue(tb testing.TB, notBefore, notAfter time.Time, hosts ...string) tls.Certificate {
	tb.Helper()
	key := newKey(tb)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key}
}

// IssueFiles issues a certificate as Issue does and writes it (with the
// CA after it) to dir/cert.pem and its key to dir/key.pem, as a server's
// cert_file and key_file; it returns their paths.
func (ca *CA) IssueFiles(tb testing.TB, dir string, notBefore, notAfter time.Time, hosts ...string) (certFile, keyFile string) {
	tb.Helper()
	cert := ca.Issue(tb, notBefore, notAfter, hosts...)
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		tb.Fatal(err)
	}
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return WriteFileIn(tb, dir, "cert.pem", string(chain)),
		WriteFileIn(tb, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// TLSServer starts a loopback https server for handler that presents the
// certificate cert holds at each handshake, so that a test can renew it
// between requests; it is closed when the test ends.
func TLSServer(tb testing.TB, handler http.Handler, cert *atomic.Pointer[tls.Certificate]) *httptest.Server {
	tb.Helper()
	srv := httptest.NewUnstartedServer(handler)
	// GetConfigForClient, not GetCertificate: a client dialling an IP
	// sends no SNI, and the server would present httptest's own certificate.
	srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{Certificates: []tls.Certificate{*cert.Load()}}, nil
	}}
	// A refused certificate is what such tests are about: not log noise.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return srv
}
