package sim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startTestSim starts a sim on free loopback ports and closes it when the
// test ends.
func startTestSim(t *testing.T, opts Options) *Sim {
	t.Helper()
	opts.APIAddress = "127.0.0.1:0"
	opts.TelemetryAddress = "127.0.0.1:0"
	opts.ControlAddress = "127.0.0.1:0"
	s, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// testClient never keeps connections, so that nothing outlives a test.
var testClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true},
	Timeout:   10 * time.Second,
}

// apiResponse is what a test looks at in an answer.
type apiResponse struct {
	code   int
	header http.Header
	body   string
	// closed is true when the server answered with Connection: close (Go's
	// client moves that header into Response.Close).
	closed bool
}

// json decodes the body into a map; numbers stay json.Number.
func (r apiResponse) json(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %q", err, r.body)
	}
	return m
}

// request sends one request; token "" sends no Authorization header,
// contentType "" no Content-Type.
func request(t *testing.T, method, url, token, contentType, body string) apiResponse {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return apiResponse{code: resp.StatusCode, header: resp.Header, body: string(b), closed: resp.Close}
}

// get is an authenticated GET against the sim's API.
func get(t *testing.T, s *Sim, path, token string) apiResponse {
	t.Helper()
	return request(t, http.MethodGet, "http://"+s.Info().API+path, token, "", "")
}

// control sends a request to the sim's control API.
func control(t *testing.T, s *Sim, method, path, body string) apiResponse {
	t.Helper()
	return request(t, method, "http://"+s.Info().Control+path, "", "application/json", body)
}

// eventually is testkit.Eventually for a condition with nothing to report,
// within 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, what, func() (bool, string) { return cond(), "" })
}
