package spacetime_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

func TestTokenExpiry(t *testing.T) {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	seg := func(enc *base64.Encoding, payload string) string {
		return header + "." + enc.EncodeToString([]byte(payload)) + ".sig"
	}
	exp := time.Unix(1765903600, 0)
	iat := time.Unix(1765900000, 0)
	for _, tc := range []struct {
		name    string
		tok     string
		wantOK  bool
		wantExp time.Time
		wantIat time.Time
	}{
		{"quirky one-= padding", makeJWT(iat, exp), true, exp, iat},
		{"strict raw url encoding", seg(base64.RawURLEncoding, `{"iat":1765900000,"exp":1765903600}`), true, exp, iat},
		{"fully padded", seg(base64.URLEncoding, `{"exp":1765903600,"iat":1765900000,"x":1}`), true, exp, iat},
		{"standard alphabet", seg(base64.RawStdEncoding, `{"exp":1765903600,"note":"??>>"}`), true, exp, time.Time{}},
		{"fractional exp", seg(base64.RawURLEncoding, `{"exp":1765903600.5}`), true, exp.Add(500 * time.Millisecond), time.Time{}},
		{"exp as float with .0", seg(base64.RawURLEncoding, `{"exp":1765903600.0,"iat":1765900000.0}`), true, exp, iat},
		{"no exp", seg(base64.RawURLEncoding, `{"iat":1765900000}`), false, time.Time{}, time.Time{}},
		{"exp is a string", seg(base64.RawURLEncoding, `{"exp":"soon"}`), false, time.Time{}, time.Time{}},
		{"absurd exp", seg(base64.RawURLEncoding, `{"exp":1e300}`), false, time.Time{}, time.Time{}},
		{"payload not JSON", seg(base64.RawURLEncoding, `not json`), false, time.Time{}, time.Time{}},
		{"payload not base64", header + ".!!!.sig", false, time.Time{}, time.Time{}},
		{"64-hex performance token", strings.Repeat("ab", 32), false, time.Time{}, time.Time{}},
		{"two segments", header + ".abc", false, time.Time{}, time.Time{}},
		{"empty", "", false, time.Time{}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotIat, gotExp, ok := spacetime.TokenExpiry(spacetime.Secret(tc.tok))
			if ok != tc.wantOK || !gotExp.Equal(tc.wantExp) || !gotIat.Equal(tc.wantIat) {
				t.Errorf("TokenExpiry = (%v, %v, %v); want (%v, %v, %v)", gotIat, gotExp, ok, tc.wantIat, tc.wantExp, tc.wantOK)
			}
		})
	}
}
