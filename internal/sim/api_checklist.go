package sim

import (
	"math"
	"net/http"
)

// checklistRoutes is the contract the deployment checklist describes
// (docs/instance.md, "HTTP API").
func checklistRoutes() routes {
	return routes{
		"/health":        {http.MethodGet: getHealth},
		"/status":        {http.MethodGet: getChecklistStatus},
		"/scene":         {http.MethodGet: getScene, http.MethodPost: postScene, http.MethodPut: putScene},
		"/scenes":        {http.MethodGet: getScenes},
		"/scene/history": {http.MethodGet: getSceneHistory},
		"/performance":   {http.MethodGet: getPerformance},
	}
}

func getHealth(s *Sim, c *call) {
	s.writeJSON(c, http.StatusOK, map[string]any{"status": "ok"})
}

// checklistStatus is GET /status of the checklist profile. The counters are
// a documented extension of the contract; they count since the last
// (simulated) process start, except restarts_total, which the sim keeps
// across restarts like a supervisor would.
type checklistStatus struct {
	Status                   string  `json:"status"`
	Environment              string  `json:"environment"`
	HTTPAPI                  string  `json:"http_api"`
	APIVersion               string  `json:"api_version"`
	Version                  string  `json:"version"`
	CurrentScene             *string `json:"current_scene"`
	UptimeSeconds            float64 `json:"uptime_seconds"`
	RequestsTotal            int64   `json:"requests_total"`
	ErrorsTotal              int64   `json:"errors_total"`
	RestartsTotal            int64   `json:"restarts_total"`
	AuthFailuresTotal        int64   `json:"auth_failures_total"`
	RateLimitViolationsTotal int64   `json:"rate_limit_violations_total"`
}

// getChecklistStatus needs no auth but has a 100/min bucket.
func getChecklistStatus(s *Sim, c *call) {
	if !s.rateLimit(c, "/status") {
		return
	}
	var scene *string
	if c.faults.Scene != "" {
		scene = &c.faults.Scene
	}
	s.writeJSON(c, http.StatusOK, checklistStatus{
		Status:                   "healthy",
		Environment:              c.faults.Environment,
		HTTPAPI:                  "active",
		APIVersion:               apiVersion,
		Version:                  c.inst.version,
		CurrentScene:             scene,
		UptimeSeconds:            math.Round(max(0, c.now.Sub(c.inst.started).Seconds())*1000) / 1000,
		RequestsTotal:            c.inst.requests.Load(),
		ErrorsTotal:              c.inst.errors.Load(),
		RestartsTotal:            s.restartCount(),
		AuthFailuresTotal:        c.inst.authFailures.Load(),
		RateLimitViolationsTotal: c.inst.rateLimited.Load(),
	})
}
