package spacetime

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"time"
)

// PeerCert describes the certificate chain an https instance presented on
// the client's latest answered request.
type PeerCert struct {
	// NotAfter is the earliest expiry in the chain: the verified chain when
	// there is one, else (insecure_skip_verify) the certificates presented.
	NotAfter time.Time
	// Subject is the common name (or, without one, the first DNS name) of
	// the certificate that expires first, for messages.
	Subject string
}

// PeerCert returns the chain the instance presented on the latest request
// that got an answer over TLS, or the expired certificate a handshake
// refused; false before any, or over plain http. Each
// request opens its own connection, so a renewed certificate shows at the
// next request.
func (c *Client) PeerCert() (PeerCert, bool) {
	c.certMu.Lock()
	defer c.certMu.Unlock()
	return c.cert, !c.cert.NotAfter.IsZero()
}

// notePeerCert records the chain of a TLS answer.
func (c *Client) notePeerCert(cs *tls.ConnectionState) {
	if cs == nil {
		return
	}
	chain := cs.PeerCertificates
	if len(cs.VerifiedChains) > 0 {
		chain = cs.VerifiedChains[0]
	}
	pc, ok := earliestExpiry(chain)
	if !ok {
		return
	}
	c.certMu.Lock()
	c.cert = pc
	c.certMu.Unlock()
}

// noteExpiredCert records the expiry of a certificate the handshake refused
// because it expired (or is not valid yet), so that an expired certificate
// is reported as one rather than left at its last good reading.
func (c *Client) noteExpiredCert(err error) {
	var invalid x509.CertificateInvalidError
	if !errors.As(err, &invalid) || invalid.Reason != x509.Expired || invalid.Cert == nil {
		return
	}
	if pc, ok := earliestExpiry([]*x509.Certificate{invalid.Cert}); ok {
		c.certMu.Lock()
		c.cert = pc
		c.certMu.Unlock()
	}
}

// earliestExpiry is the certificate of chain that expires first.
func earliestExpiry(chain []*x509.Certificate) (PeerCert, bool) {
	var first *x509.Certificate
	for _, cert := range chain {
		if first == nil || cert.NotAfter.Before(first.NotAfter) {
			first = cert
		}
	}
	if first == nil {
		return PeerCert{}, false
	}
	subject := first.Subject.CommonName
	if subject == "" && len(first.DNSNames) > 0 {
		subject = first.DNSNames[0]
	}
	return PeerCert{NotAfter: first.NotAfter, Subject: subject}, true
}
