package sim

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestFleetStats: GET /stats counts, per client (User-Agent), the frames
// each instance wrote and the API requests it served, and the fleet's
// control API sums them over the instances. A frame is counted as its
// write begins, so the client never holds more than the count; once the
// stream is silenced, a client that reads until it has the count has
// exactly that: no frame is counted that was not written.
func TestFleetStats(t *testing.T) {
	f := startTestFleet(t, 2, Options{TrackingInterval: 10 * time.Millisecond})
	infos := f.Infos()
	const ua = "stats-test/1"
	header := http.Header{"User-Agent": {ua}}
	var conns []*websocket.Conn
	for _, info := range infos {
		ws, resp, err := websocket.DefaultDialer.Dial("ws://"+info.Telemetry+"/", header)
		if err != nil {
			t.Fatalf("dial %s: %v", info.Name, err)
		}
		_ = resp.Body.Close()
		t.Cleanup(func() { _ = ws.Close() })
		conns = append(conns, ws)
	}
	received := make([]uint64, len(conns))
	read := func(i int) {
		t.Helper()
		_ = conns[i].SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := conns[i].ReadMessage(); err != nil {
			t.Fatalf("%s: read: %v", infos[i].Name, err)
		}
		received[i]++
		s, _ := f.Sim(infos[i].Name)
		if sent := s.Stats().Clients[ua].FramesSent; received[i] > sent {
			t.Fatalf("%s: client holds %d frames, the count says %d sent", infos[i].Name, received[i], sent)
		}
	}
	for i := range conns {
		for range 5 {
			read(i)
		}
	}
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, "http://"+infos[1].API+"/status", nil)
		req.Header.Set("User-Agent", ua)
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	if r := fleetControl(t, f, "POST", "/faults?instance=all", `{"telemetry_silent": true}`); r.code != 200 {
		t.Fatalf("silence: %d %s", r.code, r.body)
	}
	// A frame being written as the fault changed may still be counted:
	// read up to the count, then the count must hold.
	for i, info := range infos {
		s, _ := f.Sim(info.Name)
		for received[i] < s.Stats().Clients[ua].FramesSent {
			read(i)
		}
		if got := s.Stats().Clients[ua]; got.FramesSent != received[i] {
			t.Errorf("%s: frames_sent %d, client received %d", info.Name, got.FramesSent, received[i])
		}
	}

	var one, all Stats
	if r := fleetControl(t, f, "GET", "/stats?instance="+infos[1].Name, ""); r.code != 200 || json.Unmarshal([]byte(r.body), &one) != nil {
		t.Fatalf("GET /stats?instance=%s: %d %s", infos[1].Name, r.code, r.body)
	}
	if got := one.Clients[ua]; got.FramesSent != received[1] || got.APIRequests != 3 {
		t.Errorf("%s stats %+v, want %d frames and 3 API requests", infos[1].Name, got, received[1])
	}
	if r := fleetControl(t, f, "GET", "/stats", ""); r.code != 200 || json.Unmarshal([]byte(r.body), &all) != nil {
		t.Fatalf("GET /stats: %d %s", r.code, r.body)
	}
	if got := all.Clients[ua]; got.FramesSent != received[0]+received[1] || got.APIRequests != 3 {
		t.Errorf("fleet stats %+v, want %d frames (both instances) and 3 API requests", got, received[0]+received[1])
	}
}
