package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// VerifyOptions tune RunVerify.
type VerifyOptions struct {
	// NoIntrusive skips check 7 (rate_limit), which spends a rate-limit
	// bucket operators share; it is then reported skipped. Default: false.
	NoIntrusive bool
	// Progress, if set, is called after each check, in the order they run,
	// so that a command can print each line as it completes (check 10
	// samples telemetry for checks.threshold_window). Default: none.
	Progress func(CheckResult)
}

// Report is the outcome of one verification: each check's result in the
// order they ran and the checklist's verdict.
type Report struct {
	// Target is the target's name.
	Target string
	// APIURL is the instance's API root, for the reader.
	APIURL string
	// StartedAt is when the verification started.
	StartedAt time.Time
	// Duration is how long it took.
	Duration time.Duration
	// Results are the checks' results, in the order they ran (1–6, 8, 9,
	// 10, 7).
	Results []CheckResult
	// Summary counts them and holds the verdict; skipped checks are not
	// counted.
	Summary Summary
}

// RunVerify runs the ten post-deployment checks against t in verify mode:
// known gaps run and, when they fail, are reported failed with their
// declared reason; check 7 runs last unless opts.NoIntrusive.
func RunVerify(ctx context.Context, t *CheckTarget, opts VerifyOptions) Report {
	start := t.now()
	only := config.AllChecks()
	if opts.NoIntrusive {
		only = slices.DeleteFunc(only, func(c config.CheckName) bool { return c == config.CheckRateLimit })
	}
	results := runChecks(ctx, t, ModeVerify, only, opts.Progress)
	if opts.NoIntrusive {
		r := CheckResult{Check: config.CheckRateLimit, Status: CheckSkipped, Expected: rateLimitExpected(t),
			Reason: "not run: intrusive checks are off (--no-intrusive)"}
		_, r.KnownGap = t.KnownGaps[config.CheckRateLimit]
		results = append(results, r)
		if opts.Progress != nil {
			opts.Progress(r)
		}
	}
	return Report{
		Target:    t.Name,
		APIURL:    t.Client.BaseURL(),
		StartedAt: start,
		Duration:  t.now().Sub(start),
		Results:   results,
		Summary:   Summarize(results),
	}
}

// ExitCode is the verify command's exit status for the verdict: 0
// successful, 1 partial, 2 failed. (3, "could not run", is the command's
// own for bad flags or config.)
func (r Report) ExitCode() int {
	switch r.Summary.Verdict {
	case VerdictSuccessful:
		return 0
	case VerdictPartial:
		return 1
	default:
		return 2
	}
}

// reportJSON is the JSON form of a Report.
type reportJSON struct {
	Target          string            `json:"target"`
	APIURL          string            `json:"api_url,omitempty"`
	StartedAt       time.Time         `json:"started_at"`
	DurationSeconds float64           `json:"duration_seconds"`
	Checks          []reportCheckJSON `json:"checks"`
	Summary         Summary           `json:"summary"`
	VerdictLine     string            `json:"verdict_line"`
	ExitCode        int               `json:"exit_code"`
}

// reportCheckJSON is one check in the JSON form. (CheckResult is not
// embedded: its MarshalJSON would be promoted and drop the number.)
type reportCheckJSON struct {
	Number            int              `json:"number"`
	Name              config.CheckName `json:"name"`
	Result            CheckStatus      `json:"result"`
	Observed          string           `json:"observed"`
	Expected          string           `json:"expected"`
	Reason            string           `json:"reason"`
	Cause             string           `json:"cause,omitempty"`
	DurationSeconds   float64          `json:"duration_seconds"`
	KnownGap          bool             `json:"known_gap,omitempty"`
	RetryAfterSeconds float64          `json:"retry_after_seconds,omitempty"`
}

// JSON renders the report for `verify --output json`: the target, each
// check (number, name, result, observed, expected, reason,
// cause, duration_seconds, known_gap and retry_after_seconds when set), the
// summary with its verdict, the verdict line and the exit code.
func (r Report) JSON() ([]byte, error) {
	out := reportJSON{
		Target:          r.Target,
		APIURL:          r.APIURL,
		StartedAt:       r.StartedAt.UTC(),
		DurationSeconds: r.Duration.Seconds(),
		Checks:          make([]reportCheckJSON, len(r.Results)),
		Summary:         r.Summary,
		VerdictLine:     r.Summary.Line(),
		ExitCode:        r.ExitCode(),
	}
	for i, c := range r.Results {
		out.Checks[i] = reportCheckJSON{
			Number: c.Check.Number(), Name: c.Check, Result: c.Status,
			Observed: c.Observed, Expected: c.Expected, Reason: c.Reason, Cause: c.Cause,
			DurationSeconds: c.Duration.Seconds(), KnownGap: c.KnownGap, RetryAfterSeconds: c.RetryAfter.Seconds(),
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<1ms", not "\u003c1ms": this JSON is for people and jq, not for HTML
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
