package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
)

// SilenceOptions are the `silence add` command's flags and arguments.
type SilenceOptions struct {
	// Matchers are the positional matchers (alert=~"fps_.*", target!=canary).
	Matchers []string
	// Target and Alert are --target and --alert: short for target=... and alert=....
	Target, Alert      string
	Comment, CreatedBy string
	// StartsAt is --starts-at; zero means now.
	StartsAt time.Time
	For      time.Duration
	// Force accepts a target or alert the daemon does not know yet.
	Force bool
}

// SilenceAdd silences the alerts the matchers select, for a while.
func SilenceAdd(ctx context.Context, o DaemonOptions, s SilenceOptions, stdout, stderr io.Writer) int {
	c, code := daemonClient(o, stderr)
	if c == nil {
		return code
	}
	sil, err := c.AddSilence(ctx, daemon.AddSilenceRequest{
		Matchers: s.Matchers, Target: s.Target, Alert: s.Alert, StartsAt: s.StartsAt, Duration: s.For.String(),
		Comment: s.Comment, CreatedBy: s.CreatedBy, Force: s.Force,
	})
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	fmt.Fprintf(stdout, "silence %s %s: %s, %s to %s\n", sil.ID, sil.State, sil.Matchers,
		sil.StartsAt.Format(time.RFC3339), sil.EndsAt.Format(time.RFC3339))
	return ExitOK
}

// SilenceList prints the silences with their state, expired ones only
// when all is set; output is "table" or "json" (the API's silences).
func SilenceList(ctx context.Context, o DaemonOptions, all bool, output string, stdout, stderr io.Writer) int {
	c, code := daemonClient(o, stderr)
	if c == nil {
		return code
	}
	list, err := c.Silences(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	shown := []alert.Silence{}
	for _, s := range list {
		if s.State != alert.SilenceExpired || all {
			shown = append(shown, s)
		}
	}
	hidden := len(list) - len(shown)
	if output == "json" {
		code = writeJSON(stdout, stderr, shown)
	} else {
		tw := newTable(stdout)
		tw.row("ID", "STATE", "MATCHERS", "STARTS", "ENDS", "BY", "COMMENT")
		for _, s := range shown {
			tw.row(s.ID, string(s.State), s.Matchers.String(), s.StartsAt.Format(time.RFC3339), s.EndsAt.Format(time.RFC3339), s.CreatedBy, s.Comment)
		}
		code = tw.flush()
	}
	if hidden > 0 {
		fmt.Fprintf(stderr, "%d expired silence(s) not shown (--all shows them)\n", hidden)
	}
	return code
}

// SilenceExpire ends now the silence whose ID, or unique ID prefix, is id.
func SilenceExpire(ctx context.Context, o DaemonOptions, id string, stdout, stderr io.Writer) int {
	c, code := daemonClient(o, stderr)
	if c == nil {
		return code
	}
	s, err := c.ExpireSilence(ctx, id)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	fmt.Fprintf(stdout, "silence %s expired: %s\n", s.ID, s.Matchers)
	return ExitOK
}

// OutboxList prints the notifications waiting per sink and the dead
// letters; output is "table" or "json" (the API's answer).
func OutboxList(ctx context.Context, o DaemonOptions, output string, stdout, stderr io.Writer) int {
	c, code := daemonClient(o, stderr)
	if c == nil {
		return code
	}
	ob, err := c.Outbox(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	if output == "json" {
		// The daemon sends empty as {} and [], never null: decoded, they stay so.
		return writeJSON(stdout, stderr, ob)
	}
	tw := newTable(stdout)
	tw.row("SINK", "PENDING")
	for _, sink := range slices.Sorted(maps.Keys(ob.Pending)) {
		tw.row(sink, strconv.Itoa(ob.Pending[sink]))
	}
	tw.flush()
	fmt.Fprintf(stdout, "\n%d dead letter(s)\n", len(ob.DeadLetters))
	if len(ob.DeadLetters) > 0 {
		tw = newTable(stdout)
		tw.row("SINK", "SEQ", "AT", "REASON", "NOTIFICATION")
		for _, d := range ob.DeadLetters {
			tw.row(d.Sink, strconv.FormatUint(d.Seq, 10), d.At.Format(time.RFC3339), d.Reason, d.Summary)
		}
		tw.flush()
	}
	return ExitOK
}

// NotifyTest sends a clearly marked test message through each configured
// sink (or one) and reports, per sink, delivered or the exact reason not.
// Exit 1 when any sink failed.
func NotifyTest(ctx context.Context, o DaemonOptions, sink string, stdout, stderr io.Writer) int {
	c, code := daemonClient(o, stderr)
	if c == nil {
		return code
	}
	resp, err := c.NotifyTest(ctx, sink)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	if len(resp.Results) == 0 {
		fmt.Fprintln(stdout, "no sinks configured (alerting.sinks): events are only logged")
		return ExitOK
	}
	failed := false
	for _, r := range resp.Results {
		if r.Delivered {
			fmt.Fprintf(stdout, "%s: delivered\n", r.Sink)
			continue
		}
		failed = true
		fmt.Fprintf(stdout, "%s: NOT delivered: %s\n", r.Sink, r.Error)
	}
	if failed {
		return ExitError
	}
	return ExitOK
}

// writeJSON prints v as indented JSON: what --output json prints.
func writeJSON(stdout, stderr io.Writer, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	fmt.Fprintln(stdout, string(b))
	return ExitOK
}

func daemonClient(o DaemonOptions, stderr io.Writer) (*daemon.Client, int) {
	c, err := daemon.NewClient(o.URL, o.AuthFile)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return nil, ExitBadConfig
	}
	return c, ExitOK
}

// ReviewOptions are the `review` command's flags.
type ReviewOptions struct {
	// Target and Deployment pick the deployment (Deployment empty: the
	// target's current one).
	Target, Deployment string
	// Name is the review ("hour-4"). Empty: the latest that fell due, as
	// delivered, or before the first falls due, the first one computed now.
	Name string
	// Output is text, markdown or json.
	Output string
}

// Review prints a review through the daemon's API: the one named,
// computed now over the data that exists (partial data marked as such),
// or without a name the latest that fell due, as delivered (before the
// first falls due, the first one computed now).
func Review(ctx context.Context, o DaemonOptions, r ReviewOptions, stdout, stderr io.Writer) int {
	c, code := daemonClient(o, stderr)
	if c == nil {
		return code
	}
	name := r.Name
	if name == "" {
		name = daemon.LatestReview
	}
	resp, err := c.Review(ctx, r.Target, r.Deployment, name)
	if err != nil {
		fmt.Fprintf(stderr, "spacetime-watch: %v\n", err)
		return ExitError
	}
	switch r.Output {
	case "markdown":
		fmt.Fprint(stdout, resp.Markdown)
	case "json":
		return writeJSON(stdout, stderr, resp.Review)
	default:
		fmt.Fprintln(stdout, resp.Text)
	}
	return ExitOK
}
