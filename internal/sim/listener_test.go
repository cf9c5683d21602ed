package sim

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// dialRefused reports whether a TCP connect to addr is refused; any other
// failure fails the test.
func dialRefused(t *testing.T, addr string) bool {
	t.Helper()
	err := dial(addr)
	if err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want ECONNREFUSED or success", addr, err)
	}
	return err != nil
}

func dial(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
	}
	return err
}

func TestAPIDownRefusesConnectionsAndRecovers(t *testing.T) {
	s := startTestSim(t, Options{})
	addr := s.Info().API

	// A connection open when the fault turns on is closed too.
	open, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()

	if r := control(t, s, "POST", "/faults", `{"api_down":true}`); r.code != 200 {
		t.Fatalf("POST /faults = %d %s", r.code, r.body)
	}
	// The change is in force when the control call returns: no polling.
	if !dialRefused(t, addr) {
		t.Fatal("api_down: connect succeeded, want ECONNREFUSED")
	}
	if err := open.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := open.Read(make([]byte, 1)); err == nil {
		t.Error("an open connection survived api_down")
	}
	if r := control(t, s, "GET", "/faults", ""); r.code != 200 {
		t.Errorf("the control API went down with the API: %d", r.code)
	}
	if dialRefused(t, s.Info().Telemetry) {
		t.Error("api_down took the telemetry listener down too")
	}

	if err := s.PatchFaults([]byte(`{"api_down":false}`)); err != nil {
		t.Fatal(err)
	}
	if s.Info().API != addr {
		t.Fatalf("API moved from %s to %s, want the same address", addr, s.Info().API)
	}
	if r := get(t, s, "/health", ""); r.code != 200 {
		t.Fatalf("after clearing api_down: GET /health = %d", r.code)
	}

	t.Run("toggling quickly", func(t *testing.T) {
		for range 5 {
			for _, down := range []bool{true, false} {
				if err := s.UpdateFaults(func(f *Faults) { f.APIDown = down }); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r := get(t, s, "/health", ""); r.code != 200 {
			t.Fatalf("after toggling: GET /health = %d", r.code)
		}
	})
}

func TestStartWithAPIDown(t *testing.T) {
	f := DefaultFaults(DefaultEnvironment)
	f.APIDown = true
	s := startTestSim(t, Options{Faults: &f})
	if !dialRefused(t, s.Info().API) {
		t.Fatal("started with api_down: connect succeeded")
	}
	if err := s.UpdateFaults(func(f *Faults) { f.APIDown = false }); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, "/health", ""); r.code != 200 {
		t.Fatalf("GET /health = %d", r.code)
	}
}

func TestTelemetryDownRefusesConnections(t *testing.T) {
	s := startTestSim(t, Options{})
	addr := s.Info().Telemetry
	if err := s.PatchFaults([]byte(`{"telemetry_down":true}`)); err != nil {
		t.Fatal(err)
	}
	if !dialRefused(t, addr) {
		t.Fatal("telemetry_down: connect succeeded")
	}
	if dialRefused(t, s.Info().API) {
		t.Fatal("telemetry_down took the API down too")
	}
	if err := s.PatchFaults([]byte(`{"telemetry_down":false}`)); err != nil {
		t.Fatal(err)
	}
	if dialRefused(t, addr) {
		t.Fatal("telemetry listener did not come back on the same address")
	}
}

func TestListenerWatchesFaultState(t *testing.T) {
	// A change through FaultState alone (no PatchFaults) reaches the
	// listener through its watcher.
	s := startTestSim(t, Options{})
	if err := s.faults.Patch([]byte(`{"api_down":true}`)); err != nil {
		t.Fatal(err)
	}
	// While the watcher closes the listener, a connect may be reset
	// rather than refused: wait for a clean refusal.
	eventually(t, "the API to refuse connections", func() bool {
		return errors.Is(dial(s.Info().API), syscall.ECONNREFUSED)
	})
}
