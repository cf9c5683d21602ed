package sim

import "net/http"

// godotRoutes is what http_api_server.gd registers at HEAD and the sim
// serves: no /health, no /scene/dump, /webhooks or /jobs (404 "Not found").
func godotRoutes() routes {
	return routes{
		"/status":        {http.MethodGet: getGodotStatus},
		"/scene":         {http.MethodGet: getScene, http.MethodPost: postScene, http.MethodPut: putScene},
		"/scene/reload":  {http.MethodPost: postSceneReload},
		"/scenes":        {http.MethodGet: getScenes},
		"/scene/history": {http.MethodGet: getSceneHistory},
		"/performance":   {http.MethodGet: getPerformance},
	}
}

// godotAutoloads are the singletons /status probes; autoloads are not
// engine singletons, so the shipped server always reports them missing.
var godotAutoloads = []string{"ResonanceEngine", "HttpApiServer", "SceneLoadMonitor", "SettingsManager", "TelemetryServer", "ServiceDiscovery"}

// godotStatus is status_router.gd's answer (docs/instance.md, "Status endpoint").
type godotStatus struct {
	Status        string            `json:"status"`
	HTTPAPI       string            `json:"http_api"`
	Environment   string            `json:"environment"`
	APIVersion    string            `json:"api_version"`
	JWTToken      string            `json:"jwt_token"`
	VRInitialized bool              `json:"vr_initialized"`
	Autoloads     map[string]string `json:"autoloads"`
}

// getGodotStatus needs no auth, has no bucket, and hands out the JWT even
// after it has expired. environment is hard-coded in the shipped server.
func getGodotStatus(s *Sim, c *call) {
	autoloads := make(map[string]string, len(godotAutoloads))
	for _, name := range godotAutoloads {
		autoloads[name] = "missing"
	}
	s.writeJSON(c, http.StatusOK, godotStatus{
		Status:      "healthy",
		HTTPAPI:     "active",
		Environment: "development",
		APIVersion:  apiVersion,
		JWTToken:    c.inst.jwt,
		Autoloads:   autoloads,
	})
}
