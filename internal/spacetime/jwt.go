package spacetime

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// TokenExpiry reads the iat and exp claims of a JWT without verifying it
// (the client cannot: the signing secret lives only in the instance). ok is
// false when tok is not a JWT with a numeric exp (a 64-hex /performance
// token, a static token); iat is zero when absent.
//
// It is lenient on purpose: the shipped server's base64url encoder strips
// only ONE trailing "=", so a payload whose base64 ends in "==" keeps one
// "=" and strict decoders (RawURLEncoding) refuse it. All "=" are stripped
// before decoding, and the standard alphabet is accepted too.
func TokenExpiry(tok Secret) (iat, exp time.Time, ok bool) {
	parts := strings.Split(tok.Reveal(), ".")
	if len(parts) != 3 {
		return time.Time{}, time.Time{}, false
	}
	payload := strings.TrimRight(parts[1], "=")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(payload); err != nil {
			return time.Time{}, time.Time{}, false
		}
	}
	var claims struct {
		Iat *float64 `json:"iat"`
		Exp *float64 `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil || claims.Exp == nil || !finiteClaim(*claims.Exp) {
		return time.Time{}, time.Time{}, false
	}
	if claims.Iat != nil && finiteClaim(*claims.Iat) {
		iat = unixFloat(*claims.Iat)
	}
	return iat, unixFloat(*claims.Exp), true
}

func finiteClaim(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1e15 }

// unixFloat converts Unix seconds, possibly fractional, to a time.
func unixFloat(s float64) time.Time {
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(frac*1e9))
}
