package spacetime_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// TestSecretNeverPrinted prints a sentinel token every way a daemon might
// (fmt verbs, JSON, zap, the errors of every failure path) and greps.
func TestSecretNeverPrinted(t *testing.T) {
	sentinel := makeJWT(t0, t0.Add(time.Hour)) // also the shape of a real token
	sentinelHex := strings.Repeat("5e", 32)
	s := spacetime.Secret(sentinel)
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%10.3s", "%T"} {
		out = append(out, fmt.Sprintf(verb, s))
	}
	st := spacetime.Status{JWTToken: s, HTTPAPI: "active"}
	out = append(out, fmt.Sprintf("%v %+v %#v %d", st, st, &st, []spacetime.Secret{s}))
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(b))

	var logs bytes.Buffer
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&logs), zap.DebugLevel))
	logger.Info("token", zap.Stringer("s", s), zap.Any("any", s), zap.Reflect("reflect", st), zap.Any("status", st))
	logger.Sync()
	out = append(out, logs.String())

	// Every error path that involves a token.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/status":
			w.Write([]byte(`{"http_api":"active","jwt_token":"` + sentinel + `"}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(unauthorizedBody))
		}
	}))
	t.Cleanup(srv.Close)
	var observed []string
	mods := func(o *spacetime.Options) {
		o.Observe = func(ob spacetime.Observation) { observed = append(observed, fmt.Sprintf("%+v %v", ob, ob.Err)) }
	}
	ctx := ctxT(t)
	path := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(path, []byte(sentinel), 0o600)
	for _, c := range []*spacetime.Client{
		newClient(t, srv.URL, withToken(spacetime.StatusToken()), mods),
		newClient(t, srv.URL, withToken(spacetime.FileToken(path)), mods),
		newClient(t, srv.URL, withToken(spacetime.StaticToken(s)), func(o *spacetime.Options) {
			mods(o)
			o.PerformanceToken = spacetime.StaticToken(spacetime.Secret(sentinelHex))
		}),
	} {
		for _, call := range []func() error{
			func() error { _, err := c.Scene(ctx); return err },
			func() error { _, err := c.Performance(ctx); return err },
			func() error { _, err := c.ProbeWhitelist(ctx, ""); return err },
			func() error { st, err := c.Status(ctx); out = append(out, fmt.Sprintf("%+v", st)); return err },
		} {
			err := call()
			var ue *spacetime.UnauthorizedError
			if errors.As(err, &ue) {
				out = append(out, fmt.Sprintf("%+v %#v", ue, ue))
			}
			out = append(out, fmt.Sprintf("%v %+v", err, err))
		}
	}
	out = append(out, observed...)
	t.Setenv("SPACETIME_WATCH_TEST_SECRET", "   ")
	_, err = spacetime.EnvToken("SPACETIME_WATCH_TEST_SECRET").Token(ctx)
	out = append(out, fmt.Sprint(err))

	all := strings.Join(out, "\n")
	parts := strings.Split(sentinel, ".")
	for _, needle := range []string{sentinel, parts[1], parts[2], sentinelHex} {
		if strings.Contains(all, needle) {
			t.Errorf("a token (or its part %q) was printed:\n%s", needle, all)
		}
	}
	if !strings.Contains(all, "<secret>") {
		t.Error("no <secret> placeholder printed: the test proves nothing")
	}
}
