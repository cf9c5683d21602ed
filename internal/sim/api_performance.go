package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
)

const bytesPerMiB = 1 << 20

// getPerformance answers GET /performance (performance_router.gd, docs/instance.md, "Performance endpoint"):
// engine, memory in bytes, cache and security statistics. The godot profile
// guards it with its own 64-hex token, writes every number as a float and
// every percentage as a string with two decimals; the checklist profile
// takes the API token and writes plain numbers, and adds the security
// counters its documentation promises. Not rate-limited.
func getPerformance(s *Sim, c *call) {
	godot := s.opts.Profile == ProfileGodot
	auth := perfTokenOK
	if !godot {
		auth = staticTokenOK
	}
	c.inst.perfChecks.Add(1)
	if !c.faults.AuthDisabled && !auth(s, c) {
		s.unauthorized(c)
		return
	}
	num := func(v float64) any {
		if godot {
			return gdFloat(v)
		}
		return v
	}
	pct := func(part, total int) any {
		p := 0.0
		if total > 0 {
			p = 100 * float64(part) / float64(total)
		}
		if godot {
			return fmt.Sprintf("%.2f", p)
		}
		return math.Round(p*100) / 100
	}

	fps := fpsSample(c.faults)
	frame := 0.0
	if fps > 0 {
		frame = 1 / fps
	}
	peak := c.inst.observeMemory(c.faults.MemoryMB)
	hits, misses := c.inst.cacheStats()
	checks := int(c.inst.perfChecks.Load())
	security := map[string]any{
		"auth":      map[string]any{"total_checks": checks, "cache_hits": max(0, checks-1), "hit_rate_percent": pct(max(0, checks-1), checks)},
		"whitelist": map[string]any{"total_checks": 0, "cache_hits": 0, "hit_rate_percent": pct(0, 0)},
	}
	if !godot {
		security["auth_failures"] = c.inst.authFailures.Load()
		security["rate_limit_violations"] = c.inst.rateLimited.Load()
	}
	s.writeJSON(c, http.StatusOK, map[string]any{
		"timestamp": num(float64(c.now.UnixMilli()) / 1000),
		"cache": map[string]any{
			"l1_cache": map[string]any{
				"hits": hits, "misses": misses, "hit_rate_percent": pct(hits, hits+misses),
				"size": 18, "max_size": 100, "bytes": 5120, "max_bytes": 10 * bytesPerMiB, "evictions": 0,
			},
			"operations": map[string]any{"total_gets": hits + misses, "total_sets": misses + 3, "total_invalidations": 0},
		},
		"security": security,
		"memory": map[string]any{
			"static_memory_usage":  num(math.Round(c.faults.MemoryMB * bytesPerMiB)),
			"static_memory_max":    num(math.Round(peak * bytesPerMiB)),
			"dynamic_memory_usage": num(65536),
		},
		"engine": map[string]any{
			"fps":                  num(fps),
			"process_time":         num(math.Round(frame*0.9*1e4) / 1e4),
			"physics_process_time": num(0.0021),
			"objects_in_use":       num(15321),
			"resources_in_use":     num(842),
			"nodes_in_use":         num(2210),
		},
	})
}

// fpsSample is one FPS reading: the fps fault plus uniform noise of
// ±fps_jitter, never negative.
func fpsSample(f Faults) float64 {
	v := f.FPS + (rand.Float64()*2-1)*f.FPSJitter
	return math.Round(max(0, v)*10) / 10
}
