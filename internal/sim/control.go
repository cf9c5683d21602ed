package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// controlHandler is the fault-control API. It never goes down:
//
//	GET  /faults   every fault field and its value
//	POST /faults   a JSON object of fault fields to change (400 naming a bad field)
//	POST /restart  simulate a process restart; optional {"version": "1.2.4"}
//	POST /events   emit a telemetry event {"type":"event","event":"error","data":{...}}
//	GET  /info     the addresses and credentials, as spacetime-sim prints them
//	GET  /stats    frames sent and API requests served, per client (Stats)
func (s *Sim) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) {
		writeControl(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readControlBody(w, r)
		if !ok {
			return
		}
		if err := s.PatchFaults(body); err != nil {
			writeControlError(w, http.StatusBadRequest, err)
			return
		}
		writeControl(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readControlBody(w, r)
		if !ok {
			return
		}
		var req struct {
			Version string `json:"version"`
		}
		if len(bytes.TrimSpace(body)) > 0 {
			if err := decodeStrict(body, &req); err != nil {
				writeControlError(w, http.StatusBadRequest, fmt.Errorf("restart: %w", err))
				return
			}
		}
		s.Restart(req.Version)
		inst := s.inst()
		writeControl(w, http.StatusOK, map[string]any{"version": inst.version, "restarts_total": s.restartCount()})
	})
	mux.HandleFunc("POST /events", func(w http.ResponseWriter, r *http.Request) {
		body, ok := readControlBody(w, r)
		if !ok {
			return
		}
		var ev Event
		if err := decodeStrict(body, &ev); err != nil {
			writeControlError(w, http.StatusBadRequest, fmt.Errorf("events: %w", err))
			return
		}
		if ev.Name == "" {
			writeControlError(w, http.StatusBadRequest, errors.New(`events: field "event" (the event name, e.g. "error") is required`))
			return
		}
		s.Emit(ev)
		writeControl(w, http.StatusAccepted, map[string]any{"status": "emitted", "event": ev.Name})
	})
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		writeControl(w, http.StatusOK, s.Info())
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeControl(w, http.StatusOK, s.Stats())
	})
	return mux
}

// readControlBody reads a request body of at most 1 MiB.
func readControlBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeControlError(w, http.StatusBadRequest, fmt.Errorf("reading body: %w", err))
		return nil, false
	}
	return body, true
}

// decodeStrict decodes one JSON object, refusing unknown fields.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func writeControl(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeControlError(w http.ResponseWriter, code int, err error) {
	writeControl(w, code, map[string]string{"error": err.Error()})
}
