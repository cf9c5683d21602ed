package spacetime_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustToken(t *testing.T, src spacetime.TokenSource) spacetime.Secret {
	t.Helper()
	tok, err := src.Token(ctxT(t))
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok
}

func TestToken_FileRereadOnChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "jwt_token.txt")
	writeFile(t, path, "  token-A\n")
	src := spacetime.FileToken(path)
	if got := mustToken(t, src); got != "token-A" {
		t.Fatalf("first read: got a different token (len %d); want token-A trimmed", len(got))
	}

	// A new size (and mtime): re-read at the next call.
	writeFile(t, path, "token-BB\n")
	if got := mustToken(t, src); got != "token-BB" {
		t.Fatal("size change not noticed")
	}

	// Same size, same mtime: cached until Invalidate (a 401).
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "token-CC\n")
	if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := mustToken(t, src); got != "token-BB" {
		t.Fatal("unchanged stat re-read the file; the cache is not working")
	}
	src.Invalidate()
	if got := mustToken(t, src); got != "token-CC" {
		t.Fatal("Invalidate did not force a re-read")
	}

	// An atomic replace (rename over, as Kubernetes secret updates do) with
	// the same size and mtime: a different file, re-read.
	tmp := filepath.Join(dir, "new")
	writeFile(t, tmp, "token-DD\n")
	if err := os.Chtimes(tmp, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if got := mustToken(t, src); got != "token-DD" {
		t.Fatal("atomic replace not noticed")
	}
}

func TestToken_FileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		setup         func(path string)
		want          string
	}{
		{name: "missing", want: "does not exist"},
		{name: "empty", content: "", want: "is empty"},
		{name: "whitespace only", content: " \n\t\n", want: "is empty"},
		{name: "directory", setup: func(p string) { os.Mkdir(p, 0o700) }, want: "is a directory"},
		{name: "too large", content: strings.Repeat("x", 70<<10), want: "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			switch {
			case tc.setup != nil:
				tc.setup(path)
			case tc.name != "missing":
				writeFile(t, path, tc.content)
			}
			_, err := spacetime.FileToken(path).Token(ctxT(t))
			if !errors.Is(err, spacetime.ErrTokenUnavailable) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v; want ErrTokenUnavailable naming %s and saying %q", err, path, tc.want)
			}
		})
	}
}

func TestToken_FileRecoversAfterRotation(t *testing.T) {
	// reliability scenario 14 (docs/reliability.md): a 401 after rotation; the file is updated; the next
	// poll recovers without a restart.
	var token atomic.Value
	token.Store("rotated-token-000001")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token.Load().(string) {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(unauthorizedBody))
			return
		}
		w.Write([]byte(`{"history":[],"count":0,"max_size":10}`))
	}))
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "token")
	writeFile(t, path, "rotated-token-000001\n")
	c := newClient(t, srv.URL, withToken(spacetime.FileToken(path)))
	ctx := ctxT(t)
	if _, err := c.SceneHistory(ctx); err != nil {
		t.Fatalf("before rotation: %v", err)
	}

	token.Store("rotated-token-000002") // the instance rotated
	var ue *spacetime.UnauthorizedError
	if _, err := c.SceneHistory(ctx); !errors.As(err, &ue) || ue.Expired {
		t.Fatalf("after rotation, file not updated: %v; want a rejected (not expired) token", err)
	}
	info, _ := os.Stat(path)
	writeFile(t, path, "rotated-token-000002\n") // same size; mtime forced equal below
	os.Chtimes(path, info.ModTime(), info.ModTime())
	h, err := c.SceneHistory(ctx)
	if err != nil || h.Meta.Attempts != 2 {
		t.Fatalf("after the file update: %+v, %v; want success on the refresh-and-retry", h, err)
	}
}

func TestToken_EnvMissing(t *testing.T) {
	const name = "SPACETIME_WATCH_TEST_TOKEN_7f3a"
	const sentinel = "sentinel-env-token-value"
	if _, set := os.LookupEnv(name); set {
		t.Fatalf("%s is set in the environment", name)
	}
	_, err := spacetime.EnvToken(name).Token(ctxT(t))
	if !errors.Is(err, spacetime.ErrTokenUnavailable) || !strings.Contains(err.Error(), name+" is not set") {
		t.Fatalf("unset: %v; want an error naming %s", err, name)
	}
	t.Setenv(name, " \n")
	if _, err := spacetime.EnvToken(name).Token(ctxT(t)); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty: %v", err)
	}
	t.Setenv(name, " "+sentinel+"\n")
	if got := mustToken(t, spacetime.EnvToken(name)); got.Reveal() != sentinel {
		t.Fatal("EnvToken did not trim the value")
	}
}

func TestToken_StaticAndUnbound(t *testing.T) {
	if got := mustToken(t, spacetime.StaticToken("abc-0123456789abcdef")); got != "abc-0123456789abcdef" {
		t.Error("StaticToken changed the token")
	}
	if _, err := spacetime.StaticToken("").Token(ctxT(t)); !errors.Is(err, spacetime.ErrTokenUnavailable) {
		t.Errorf("empty StaticToken: %v", err)
	}
	if _, err := spacetime.StatusToken().Token(ctxT(t)); !errors.Is(err, spacetime.ErrTokenUnavailable) || !strings.Contains(err.Error(), "Options.Token") {
		t.Errorf("StatusToken outside a client: %v; want ErrTokenUnavailable saying where to put it", err)
	}
}

func TestToken_FirstOfSkipsRejected(t *testing.T) {
	stale, fresh := spacetime.Secret("stale-file-token-0001"), spacetime.Secret("fresh-status-token-01")
	src := spacetime.FirstOf(spacetime.StaticToken(stale), spacetime.StaticToken(fresh))
	if got := mustToken(t, src); got != stale {
		t.Fatal("FirstOf did not start with the first source")
	}
	src.Invalidate() // stale refused: try the next source
	if got := mustToken(t, src); got != fresh {
		t.Fatal("FirstOf kept yielding a rejected token while another source had a different one")
	}
	src.Invalidate() // both refused: yield the first again, so expiry can be judged
	if got := mustToken(t, src); got != stale {
		t.Fatal("FirstOf with every token rejected should yield the first again")
	}

	src = spacetime.FirstOf(spacetime.EnvToken("SPACETIME_WATCH_TEST_UNSET_91c2"), spacetime.StaticToken(fresh))
	if got := mustToken(t, src); got != fresh {
		t.Fatal("FirstOf did not skip a failing source")
	}
	_, err := spacetime.FirstOf(spacetime.EnvToken("SPACETIME_WATCH_TEST_UNSET_91c2"), spacetime.FileToken(filepath.Join(t.TempDir(), "nope"))).Token(ctxT(t))
	if !errors.Is(err, spacetime.ErrTokenUnavailable) || !strings.Contains(err.Error(), "SPACETIME_WATCH_TEST_UNSET_91c2") || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("all sources failing: %v; want every reason", err)
	}
	if _, err := spacetime.FirstOf().Token(ctxT(t)); !errors.Is(err, spacetime.ErrTokenUnavailable) {
		t.Fatalf("empty FirstOf: %v", err)
	}
}

func TestToken_StatusTokenRefetchedWhenExpPassed(t *testing.T) {
	// The cached /status token is fetched again once its exp has passed,
	// even without a 401 (a restart may have issued a new one).
	var statusCalls atomic.Int32
	var current atomic.Value
	current.Store(makeJWT(t0, t0.Add(time.Hour)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		statusCalls.Add(1)
		w.Write([]byte(`{"http_api":"active","jwt_token":"` + current.Load().(string) + `"}`))
	}))
	t.Cleanup(srv.Close)
	clock := newFakeClock()
	src := spacetime.StatusToken()
	newClient(t, srv.URL, withToken(src), func(o *spacetime.Options) { o.Now = clock.Now })
	first := mustToken(t, src)
	mustToken(t, src)
	if n := statusCalls.Load(); n != 1 {
		t.Fatalf("%d /status calls for two Token calls; want 1 (cached)", n)
	}
	clock.Advance(2 * time.Hour)
	current.Store(makeJWT(t0.Add(2*time.Hour), t0.Add(3*time.Hour)))
	if got := mustToken(t, src); got == first || statusCalls.Load() != 2 {
		t.Fatalf("after exp: same token %v, %d /status calls; want a refetch", got == first, statusCalls.Load())
	}
}
