package sim

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestJWTOneEqualsPaddingQuirk(t *testing.T) {
	secret := newJWTSecret()
	for _, iat := range []time.Time{time.Unix(0, 0), time.Unix(7, 0), time.Unix(1_000_000_000, 0), time.Unix(1_795_774_334, 0)} {
		t.Run(iat.UTC().Format(time.RFC3339), func(t *testing.T) {
			exp := iat.Add(time.Hour)
			tok := signJWT(secret, iat, exp)
			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d segments, want 3", len(parts))
			}
			if !strings.HasSuffix(parts[1], "=") || strings.HasSuffix(parts[1], "==") {
				t.Fatalf("payload segment %q must end in exactly one '=' (the quirk)", parts[1])
			}
			if strings.Contains(parts[0], "=") || strings.Contains(parts[2], "=") {
				t.Errorf("header or signature carries '=': %q", tok)
			}
			if _, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
				t.Error("a strict RawURLEncoding decoder accepts the payload; the quirk is not exercised")
			}
			raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
			if err != nil {
				t.Fatal(err)
			}
			var claims map[string]any
			if err := json.Unmarshal(raw, &claims); err != nil {
				t.Fatal(err)
			}
			if claims["type"] != "api_access" || claims["iat"] != float64(iat.Unix()) || claims["exp"] != float64(exp.Unix()) {
				t.Errorf("claims = %v", claims)
			}
			if err := verifyJWT(secret, tok, iat); err != nil {
				t.Errorf("verify a fresh token: %v", err)
			}
		})
	}
}

func TestVerifyJWT(t *testing.T) {
	secret := newJWTSecret()
	now := time.Unix(1_795_774_334, 0)
	tok := signJWT(secret, now, now.Add(time.Hour))
	tests := []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{"valid", tok, now, nil},
		{"valid at exp", tok, now.Add(time.Hour), nil},
		{"expired", tok, now.Add(time.Hour + time.Second), errTokenExpired},
		{"another secret", signJWT(newJWTSecret(), now, now.Add(time.Hour)), now, errTokenInvalid},
		{"tampered payload", strings.Replace(tok, ".eyJ", ".eyK", 1), now, errTokenInvalid},
		{"two segments", "abc.def", now, errTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := verifyJWT(secret, tt.token, tt.at); !errors.Is(err, tt.want) {
				t.Fatalf("verifyJWT = %v, want %v", err, tt.want)
			}
		})
	}
}
