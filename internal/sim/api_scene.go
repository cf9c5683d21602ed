package sim

import (
	"errors"
	"net/http"
	"strings"
	"time"
)

// The scene endpoints, shared by both profiles (scene_router.gd,
// scenes_list_router.gd, scene_history_router.gd, scene_reload_router.gd).

// apiAuth is the check of the JWT-protected routes: the static token in the
// checklist profile, the JWT in the godot profile.
func (s *Sim) apiAuth() func(*Sim, *call) bool {
	if s.opts.Profile == ProfileGodot {
		return jwtOK
	}
	return staticTokenOK
}

func getScene(s *Sim, c *call) {
	if !s.guard(c, s.apiAuth(), "/scene") {
		return
	}
	if c.faults.Scene == "" {
		s.writeJSON(c, http.StatusOK, map[string]any{"scene_name": nil, "scene_path": nil, "status": "no_scene"})
		return
	}
	s.writeJSON(c, http.StatusOK, map[string]any{
		"scene_name": sceneName(c.faults.Scene), "scene_path": c.faults.Scene, "status": "loaded",
	})
}

// checkSceneRequest runs the POST/PUT /scene checks in the shipped order
// (401, 429, 413, 400, 403, 404) and returns the scene, or false once it
// has answered.
func (s *Sim) checkSceneRequest(c *call) (sceneFile, bool) {
	if !s.guard(c, s.apiAuth(), "/scene") {
		return sceneFile{}, false
	}
	p, err := s.readSceneBody(c)
	switch {
	case errors.Is(err, errBodyTooLarge):
		s.writeJSON(c, http.StatusRequestEntityTooLarge, map[string]any{
			"error": "Payload Too Large", "message": "Request body exceeds maximum size", "max_size_bytes": maxBodyBytes,
		})
		return sceneFile{}, false
	case err != nil:
		s.writeJSON(c, http.StatusBadRequest, map[string]any{
			"error": "Bad Request", "message": "Invalid JSON body or missing Content-Type: application/json",
		})
		return sceneFile{}, false
	}
	// The shipped server loads the right environment's list but names
	// "development" in the refusal (docs/instance.md, "Error bodies"); the checklist list is production's.
	env := "production"
	if s.opts.Profile == ProfileGodot {
		env = "development"
	}
	if reason := checkScenePath(p, c.faults.WhitelistDisabled, env); reason != "" {
		s.writeJSON(c, http.StatusForbidden, map[string]any{"error": "Forbidden", "message": reason})
		return sceneFile{}, false
	}
	f, ok := findScene(p)
	if !ok {
		s.writeJSON(c, http.StatusNotFound, map[string]any{"error": "Not Found", "message": "Scene file not found: " + p})
		return sceneFile{}, false
	}
	return f, true
}

// postScene loads a scene: it becomes the current scene (the scene fault)
// and, in the checklist profile, enters the history. The shipped server
// never records history (nothing calls SceneLoadMonitor.start_tracking).
func postScene(s *Sim, c *call) {
	f, ok := s.checkSceneRequest(c)
	if !ok {
		return
	}
	if err := s.UpdateFaults(func(ff *Faults) { ff.Scene = f.Path }); err != nil {
		s.writeJSON(c, http.StatusInternalServerError, map[string]any{"error": "Internal Server Error", "message": err.Error()})
		return
	}
	if s.opts.Profile == ProfileChecklist {
		c.inst.recordLoad(historyEntry{
			ScenePath:      f.Path,
			SceneName:      f.RootName,
			LoadedAt:       c.now.UTC().Format(time.RFC3339),
			LoadDurationMS: 200 + 10*f.NodeCount,
		})
	}
	s.writeJSON(c, http.StatusOK, map[string]any{
		"status": "loading", "scene": f.Path, "message": "Scene load initiated successfully",
	})
}

// putScene validates a scene without loading it.
func putScene(s *Sim, c *call) {
	f, ok := s.checkSceneRequest(c)
	if !ok {
		return
	}
	warnings := []string{}
	if strings.Contains(f.Path, " ") {
		warnings = append(warnings, "Scene path contains spaces")
	}
	s.writeJSON(c, http.StatusOK, map[string]any{
		"valid": true, "errors": []string{}, "warnings": warnings,
		"scene_info": map[string]any{"node_count": f.NodeCount, "root_type": "Node3D", "root_name": f.RootName},
	})
}

// getScenes lists the scene files under ?dir= (default res://), without
// addons unless ?include_addons=true.
func getScenes(s *Sim, c *call) {
	if !s.guard(c, s.apiAuth(), "/scenes") {
		return
	}
	q := c.r.URL.Query()
	dir := q.Get("dir")
	if dir == "" {
		dir = "res://"
	}
	if !strings.HasPrefix(dir, "res://") {
		s.writeJSON(c, http.StatusBadRequest, map[string]any{
			"error": "Bad Request", "message": "Directory path must start with 'res://'",
		})
		return
	}
	addons := q.Get("include_addons") == "true"
	type entry struct {
		Name      string `json:"name"`
		Path      string `json:"path"`
		SizeBytes int    `json:"size_bytes"`
		Modified  string `json:"modified"`
	}
	scenes := []entry{}
	for _, f := range sceneFiles {
		if !strings.HasPrefix(f.Path, dir) || (!addons && strings.HasPrefix(f.Path, "res://addons/")) {
			continue
		}
		name := f.Path[strings.LastIndex(f.Path, "/")+1:]
		scenes = append(scenes, entry{
			Name: strings.TrimSuffix(name, ".tscn"), Path: f.Path, SizeBytes: f.SizeBytes,
			Modified: sceneFilesModified.Format("2006-01-02T15:04:05Z"),
		})
	}
	s.writeJSON(c, http.StatusOK, map[string]any{
		"scenes": scenes, "count": len(scenes), "directory": dir, "include_addons": addons,
	})
}

func getSceneHistory(s *Sim, c *call) {
	if !s.guard(c, s.apiAuth(), "/scene/history") {
		return
	}
	h := c.inst.historyCopy()
	s.writeJSON(c, http.StatusOK, map[string]any{"history": h, "count": len(h), "max_size": historySize})
}

// postSceneReload reloads the current scene (godot profile only).
func postSceneReload(s *Sim, c *call) {
	if !s.guard(c, s.apiAuth(), "/scene/reload") {
		return
	}
	if c.faults.Scene == "" {
		s.writeJSON(c, http.StatusNotFound, map[string]any{"error": "Not Found", "message": "No scene currently loaded"})
		return
	}
	p := c.faults.Scene
	s.writeJSON(c, http.StatusOK, map[string]any{
		"status": "reloading", "scene": p, "scene_name": strings.TrimSuffix(p[strings.LastIndex(p, "/")+1:], ".tscn"),
		"message": "Scene reload initiated successfully",
	})
}
