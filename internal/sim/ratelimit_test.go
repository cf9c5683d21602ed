package sim

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestRateLimitBuckets(t *testing.T) {
	tests := []struct {
		name        string
		profile     Profile
		method      string
		path        string
		limit       int
		retryHeader string // "" = no Retry-After header expected
	}{
		{"checklist /scene", ProfileChecklist, "GET", "/scene", 30, "2"},
		{"checklist /scenes", ProfileChecklist, "GET", "/scenes", 60, "1"},
		{"checklist /scene/history", ProfileChecklist, "GET", "/scene/history", 100, "1"},
		{"checklist /status", ProfileChecklist, "GET", "/status", 100, "1"},
		{"godot /scene", ProfileGodot, "GET", "/scene", 30, ""},
		{"godot /scene/reload", ProfileGodot, "POST", "/scene/reload", 20, ""},
		{"godot /scenes", ProfileGodot, "GET", "/scenes", 60, ""},
		{"godot /scene/history", ProfileGodot, "GET", "/scene/history", 100, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testkit.NewClock(t)
			s := startTestSim(t, Options{Profile: tt.profile, Now: clock.Now})
			url := "http://" + s.Info().API + tt.path
			tok := s.Info().Token
			// A 401 spends no token.
			for range 5 {
				if r := request(t, tt.method, url, "wrong-token-0123456789", "", ""); r.code != 401 && tt.path != "/status" {
					t.Fatalf("wrong token: %d, want 401", r.code)
				}
			}
			if tt.path == "/status" { // no auth there: the 5 calls above spent 5 tokens
				clock.Advance(time.Minute)
			}
			for i := range tt.limit {
				if r := request(t, tt.method, url, tok, "", ""); r.code != 200 {
					t.Fatalf("request %d of %d = %d %s, want 200", i+1, tt.limit, r.code, r.body)
				}
			}
			r := request(t, tt.method, url, tok, "", "")
			wantRetry := 60.0 / float64(tt.limit)
			wantBody := fmt.Sprintf(`{"error":"Too Many Requests","message":"Rate limit exceeded","retry_after_seconds":%v}`, wantRetry)
			if r.code != http.StatusTooManyRequests || r.body != wantBody {
				t.Fatalf("request %d = %d %s, want 429 %s", tt.limit+1, r.code, r.body, wantBody)
			}
			if got := r.header.Get("Retry-After"); got != tt.retryHeader {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryHeader)
			}

			// One token refills in 60/limit seconds.
			clock.Advance(time.Duration(wantRetry * float64(time.Second)))
			if r := request(t, tt.method, url, tok, "", ""); r.code != 200 {
				t.Fatalf("after the refill = %d, want 200", r.code)
			}
			if r := request(t, tt.method, url, tok, "", ""); r.code != 429 {
				t.Fatalf("after spending the refill = %d, want 429", r.code)
			}

			// A restart is a new process with full buckets.
			s.Restart("")
			if r := request(t, tt.method, url, s.Info().Token, "", ""); r.code != 200 {
				t.Fatalf("after a restart = %d, want 200", r.code)
			}
		})
	}
}

func TestRateLimitSharedAndDisabled(t *testing.T) {
	clock := testkit.NewClock(t)
	s := startTestSim(t, Options{Now: clock.Now})
	url := "http://" + s.Info().API + "/scene"
	tok := s.Info().Token
	for range 10 {
		request(t, "GET", url, tok, "", "")
		request(t, "PUT", url, tok, "application/json", `{"scene_path":"res://vr_main.tscn"}`)
		request(t, "POST", url, tok, "application/json", `{"scene_path":"res://vr_main.tscn"}`)
	}
	r := request(t, "GET", url, tok, "", "")
	if r.code != 429 {
		t.Fatalf("31st /scene request across GET, PUT and POST = %d, want 429 (one bucket)", r.code)
	}
	if got := get(t, s, "/status", "").json(t)["rate_limit_violations_total"]; fmt.Sprint(got) != "1" {
		t.Errorf("rate_limit_violations_total = %v, want 1", got)
	}
	if err := s.PatchFaults([]byte(`{"rate_limit_disabled":true}`)); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if r := request(t, "GET", url, tok, "", ""); r.code != 200 {
			t.Fatalf("with rate_limit_disabled = %d, want 200", r.code)
		}
	}
}

func TestGodotStatusNotRateLimited(t *testing.T) {
	s := startTestSim(t, Options{Profile: ProfileGodot, Now: testkit.NewClock(t).Now})
	for i := range 150 {
		if r := get(t, s, "/status", ""); r.code != 200 {
			t.Fatalf("GET /status #%d = %d, want 200: the shipped /status has no bucket", i+1, r.code)
		}
	}
}

func TestBucketRetryAfterFraction(t *testing.T) {
	now := time.Unix(0, 0)
	l := newRateLimiter(map[string]float64{"/x": 30})
	for range 30 {
		if ok, _ := l.take("/x", now); !ok {
			t.Fatal("a full bucket refused a request")
		}
	}
	now = now.Add(500 * time.Millisecond) // a quarter token back
	ok, retry := l.take("/x", now)
	if ok || retry != 1.5 {
		t.Fatalf("take = %v, %v; want refused, retry (1 − 0.25) × 60 / 30 = 1.5", ok, retry)
	}
	if ok, _ := l.take("/unlimited", now); !ok {
		t.Fatal("an endpoint without a bucket was limited")
	}
}
