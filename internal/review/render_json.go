package review

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// reviewJSON is a Review's JSON: a fixed field order, every field present
// (no omitempty: a reader finds "late": false rather than nothing), times
// in UTC and durations in seconds.
type reviewJSON struct {
	Target          string    `json:"target"`
	DeploymentID    string    `json:"deployment_id"`
	Version         string    `json:"version"`
	StartedAt       time.Time `json:"deployment_started_at"`
	Name            string    `json:"review"`
	OffsetSeconds   float64   `json:"offset_seconds"`
	DueAt           time.Time `json:"due_at"`
	ComputedAt      time.Time `json:"computed_at"`
	Late            bool      `json:"late"`
	LateBySeconds   float64   `json:"late_by_seconds"`
	Partial         bool      `json:"partial"`
	Coverage        float64   `json:"coverage"`
	Verdict         Verdict   `json:"verdict"`
	Items           []Item    `json:"items"`
	FPSSparkline    string    `json:"fps_sparkline"`
	MemorySparkline string    `json:"memory_sparkline"`
}

// MarshalJSON encodes r in the stable form of JSON: durations as
// offset_seconds and late_by_seconds, which the struct tags cannot say.
func (r Review) MarshalJSON() ([]byte, error) {
	items := r.Items
	if items == nil {
		items = []Item{}
	}
	// Not json.Marshal: it escapes <, > and & in the figures for HTML.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(reviewJSON{
		Target:          r.Target,
		DeploymentID:    r.DeploymentID,
		Version:         r.Version,
		StartedAt:       r.StartedAt.UTC(),
		Name:            r.Name,
		OffsetSeconds:   r.Offset.Seconds(),
		DueAt:           r.DueAt.UTC(),
		ComputedAt:      r.ComputedAt.UTC(),
		Late:            r.Late,
		LateBySeconds:   r.LateBy.Seconds(),
		Partial:         r.Partial,
		Coverage:        r.Coverage,
		Verdict:         r.Verdict,
		Items:           items,
		FPSSparkline:    r.FPSSparkline,
		MemorySparkline: r.MemorySparkline,
	})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

// UnmarshalJSON decodes what MarshalJSON encodes (a stored report read
// back for the API).
func (r *Review) UnmarshalJSON(b []byte) error {
	var j reviewJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("review: decode JSON: %w", err)
	}
	*r = Review{
		Target:          j.Target,
		DeploymentID:    j.DeploymentID,
		Version:         j.Version,
		StartedAt:       j.StartedAt,
		Name:            j.Name,
		Offset:          seconds(j.OffsetSeconds),
		DueAt:           j.DueAt,
		ComputedAt:      j.ComputedAt,
		Late:            j.Late,
		LateBy:          seconds(j.LateBySeconds),
		Partial:         j.Partial,
		Coverage:        j.Coverage,
		Items:           j.Items,
		Verdict:         j.Verdict,
		FPSSparkline:    j.FPSSparkline,
		MemorySparkline: j.MemorySparkline,
	}
	return nil
}

func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

// JSON is r's report file: the stable encoding (see MarshalJSON), indented
// two spaces, without HTML escaping, ending in a newline. The same review
// always gives the same bytes, which the golden files rely on.
func JSON(r Review) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("review %s of %s: encode JSON: %w", r.Name, r.DeploymentID, err)
	}
	return b.Bytes(), nil
}
