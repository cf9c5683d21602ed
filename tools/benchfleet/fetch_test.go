package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestTimedGets: count GETs, each timed, the last body returned; at least
// one when the budget is spent; a failing status is an error.
func TestTimedGets(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte{byte('0' + n)})
	}))
	defer srv.Close()
	ctx := context.Background()

	took, body, err := timedGets(ctx, srv.URL+"/ok", 5, time.Minute)
	if err != nil || len(took) != 5 || calls.Load() != 5 || string(body) != "5" {
		t.Fatalf("timedGets = %v, %q, %v after %d calls; want 5 times and the 5th body", took, body, err, calls.Load())
	}
	for i, ms := range took {
		if ms <= 0 {
			t.Errorf("GET %d took %v ms, want a positive time", i, ms)
		}
	}
	if took, _, err := timedGets(ctx, srv.URL+"/ok", 5, 0); err != nil || len(took) != 1 {
		t.Errorf("with no budget: %d GETs, %v; want exactly one", len(took), err)
	}
	if _, _, err := timedGets(ctx, srv.URL+"/fail", 5, time.Minute); err == nil {
		t.Error("a 503 gave no error")
	}
}
