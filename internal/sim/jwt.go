package sim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// jwtHeader is the header every token carries, as Godot's JSON.stringify
// writes it (no spaces, keys in insertion order).
const jwtHeader = `{"alg":"HS256","typ":"JWT"}`

// errTokenExpired and errTokenInvalid are the two ways a JWT check fails.
var (
	errTokenExpired = errors.New("token expired")
	errTokenInvalid = errors.New("invalid token")
)

// quirkEncode is scripts/http_api/jwt.gd's base64url: standard padding, then
// only ONE trailing "=" removed, so a segment whose base64 ends in "==" keeps
// one "=" (the quirk a client must survive).
func quirkEncode(b []byte) string {
	return strings.TrimSuffix(base64.URLEncoding.EncodeToString(b), "=")
}

// newJWTSecret returns 64 random bytes, hex-encoded, as the shipped server
// generates at each start (tokens never survive a restart).
func newJWTSecret() []byte {
	b := make([]byte, 64)
	_, _ = rand.Read(b) // never fails (crypto/rand crashes the program instead)
	return []byte(hex.EncodeToString(b))
}

// signJWT issues an HS256 token with the claims the shipped server sets:
// type "api_access", iat and exp in Unix seconds. The payload is padded with
// leading spaces (still valid JSON) to a length whose base64 ends in "==",
// so that every issued token shows the one-"=" quirk in its payload segment.
func signJWT(secret []byte, iat, exp time.Time) string {
	payload := fmt.Sprintf(`{"exp":%d,"iat":%d,"type":"api_access"}`, exp.Unix(), iat.Unix())
	for len(payload)%3 != 1 {
		payload = "{ " + payload[1:]
	}
	signingInput := quirkEncode([]byte(jwtHeader)) + "." + quirkEncode([]byte(payload))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signingInput))
	return signingInput + "." + quirkEncode(mac.Sum(nil))
}

// verifyJWT checks the signature, alg and exp the way jwt.gd does (no nbf,
// aud or iss). Padding is stripped before decoding, so both the quirky and
// the strict encodings of a segment decode.
func verifyJWT(secret []byte, token string, now time.Time) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errTokenInvalid
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if subtle.ConstantTimeCompare([]byte(quirkEncode(mac.Sum(nil))), []byte(parts[2])) != 1 {
		return errTokenInvalid
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if decodeSegment(parts[0], &header) != nil || header.Alg != "HS256" || decodeSegment(parts[1], &claims) != nil {
		return errTokenInvalid
	}
	if claims.Exp < now.Unix() {
		return errTokenExpired
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
