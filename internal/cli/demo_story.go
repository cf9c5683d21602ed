package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/textwrap"
)

// storyStep is one fault the demo injects, at a point of story time.
type storyStep struct {
	// At is the story time since the instance started.
	At time.Duration
	// Say is what happens and why, as narrated.
	Say string
	// Faults are the fault fields it sets, as POST /faults takes them;
	// empty for none.
	Faults string
	// Restart restarts the instance (same version): a new process, with a
	// new token.
	Restart bool
	// PerformanceToken, when set, is what the target's /performance token
	// file now holds.
	PerformanceToken tokenFileChange
	// Memory narrates, after Say, where the daemon's memory rules get
	// memory from now, or that memory is unwatched, as its status says.
	Memory bool
}

// tokenFileChange is what a story step writes to the /performance token
// file.
type tokenFileChange uint8

const (
	// tokenUnchanged leaves the file alone.
	tokenUnchanged tokenFileChange = iota
	// tokenStale writes a previous run's token, which /performance refuses.
	tokenStale
	// tokenCurrent writes the instance's token again.
	tokenCurrent
)

// demoStory is a deployment's first four hours: an FPS drop, a memory
// leak with its projection, an expired token, an API outage, and memory
// unwatched (a stream without memory, /performance refusing a stale
// token), each resolved, between the hour-1 and hour-4 reviews.
var demoStory = []storyStep{
	{At: 10 * time.Minute, Say: "Injecting an FPS drop to ~60: a heavy scene loads and the GPU cannot keep 90. fps_low fires once FPS stays below 85 for 1m.", Faults: `{"fps": 60}`},
	{At: 30 * time.Minute, Say: "FPS back to 90: the heavy scene is unloaded. fps_low resolves.", Faults: `{"fps": 90}`},
	{At: 75 * time.Minute, Say: "Injecting a memory leak of 5 MB/min from 300 MB: textures loaded and never freed. memory_growth fires with the time left until the 400 MB ceiling.", Faults: `{"memory_growth_mb_per_min": 5}`},
	{At: 90 * time.Minute, Say: "The leak is fixed: memory back to 300 MB and flat. memory_growth resolves.", Faults: `{"memory_mb": 300, "memory_growth_mb_per_min": 0}`},
	{At: demoTokenTTL, Say: "The instance's API token expires: the stock server signs one JWT per process (valid 2h here) and never renews it. One alert, token_expired: the checks it explains are inhibited."},
	{At: 140 * time.Minute, Say: "Restarting the instance (same version): the new process signs a new token, which the daemon reads from GET /status. token_expired resolves.", Restart: true},
	{At: 160 * time.Minute, Say: "Taking the API down (connection refused; telemetry still flows). One alert, check_instance_up: the checks it explains are inhibited.", Faults: `{"api_down": true}`},
	{At: 180 * time.Minute, Say: "The API is back. check_instance_up resolves.", Faults: `{"api_down": false}`},
	{At: 190 * time.Minute, Say: "The /performance token file now holds a previous run's token (the stock server makes a new one at each start). One alert, check_performance, once two check rounds fail; memory still comes from the stream.", PerformanceToken: tokenStale},
	{At: 205 * time.Minute, Say: "Switching the instance's telemetry to the binary encoding: FPS packets only, no memory. The daemon falls back to /performance, which refuses its token: nothing reports memory. memory_unwatched is not notified: the refused token explains it.", Faults: `{"telemetry_encoding": "binary"}`},
	{At: 212 * time.Minute, Memory: true},
	{At: 215 * time.Minute, Say: "The token file holds the instance's token again: the daemon polls /performance for memory, every 30s. check_performance resolves.", PerformanceToken: tokenCurrent},
	{At: 220 * time.Minute, Memory: true},
	{At: 225 * time.Minute, Say: "The telemetry is back to JSON, memory included: the stream comes first again.", Faults: `{"telemetry_encoding": "json"}`},
	{At: 230 * time.Minute, Memory: true},
}

// demoTokenTTL is how long the simulated instance's JWT lasts.
const demoTokenTTL = 2 * time.Hour

// demoEnd is when the story ends: just after the hour-4 review.
const demoEnd = 4*time.Hour + 2*time.Minute

// stage is what the story acts on and looks at: the simulated instance,
// the target's /performance token file, and the daemon's API.
type stage struct {
	inst      *sim.Sim
	tokenFile string
	daemon    *daemon.Client
}

// playStory injects each step into the stage when the story clock reaches
// it, narrating why, until end or ctx. It reports whether it reached end.
func playStory(ctx context.Context, steps []storyStep, end time.Duration, story *clock.Scaled, st stage, out *narrator) bool {
	out.say("The daemon is watching the instance and has recorded a new deployment: the hour-1 review falls due at T+1:00, the hour-4 review at T+4:00.")
	for _, step := range steps {
		if step.At > end || !out.sleepUntil(ctx, step.At) {
			break
		}
		if step.Say != "" {
			out.say(step.Say)
		}
		if step.Faults != "" {
			if err := st.inst.PatchFaults([]byte(step.Faults)); err != nil {
				out.say("(the instance refused the fault: " + err.Error() + ")")
			}
		}
		if step.Restart {
			st.inst.Restart("")
		}
		if step.PerformanceToken != tokenUnchanged {
			if err := st.writeToken(step.PerformanceToken); err != nil {
				out.say("(cannot write the token file: " + err.Error() + ")")
			}
		}
		if step.Memory {
			// Stamped when asked, not after the daemon's two answers: at
			// the story's pace they take a story minute on a busy machine.
			stamp := out.stamp()
			view := memoryView(ctx, st.daemon)
			out.sayStamped(stamp, view)
		}
	}
	return out.sleepUntil(ctx, end)
}

// writeToken writes the instance's /performance token to the token file,
// or a stale one: 64 hex digits, as the stock server's are, not its own.
func (st stage) writeToken(change tokenFileChange) error {
	token := st.inst.Info().PerformanceToken
	if change == tokenStale {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		token = hex.EncodeToString(b)
	}
	return os.WriteFile(st.tokenFile, []byte(token+"\n"), 0o600)
}

// memoryView says what the daemon's status says of memory: memory_high's
// last figure and where it came from, or that memory is unwatched and why.
func memoryView(ctx context.Context, c *daemon.Client) string {
	raw, err := c.Status(ctx)
	var status struct {
		Targets []struct {
			Telemetry struct {
				Rules []struct {
					Rule, State, Source, Reason string
					Value                       float64
					HasValue                    bool `json:"has_value"`
				} `json:"rules"`
			} `json:"telemetry"`
		} `json:"targets"`
	}
	if err := errors.Join(err, json.Unmarshal(raw, &status)); err != nil {
		return "(cannot read the daemon's status: " + err.Error() + ")"
	}
	for _, t := range status.Targets {
		for _, r := range t.Telemetry.Rules {
			switch {
			case r.Rule != monitor.RuleMemoryHigh:
			case r.State == monitor.RuleUnknown.String():
				return fmt.Sprintf("The daemon's status: memory unwatched; %s and %s are unknown (%s).%s", monitor.RuleMemoryHigh, monitor.RuleMemoryGrowth, r.Reason, unwatchedAlert(ctx, c))
			case r.HasValue && r.Source == monitor.MemoryFromPerformance.String():
				return fmt.Sprintf("The daemon's status: memory %.0f MB, from /performance.", r.Value)
			case r.HasValue:
				return fmt.Sprintf("The daemon's status: memory %.0f MB, from the telemetry stream.", r.Value)
			}
		}
	}
	return "The daemon's status: no memory figure yet."
}

// unwatchedAlert says whether memory_unwatched fires and what inhibits
// it, as the daemon's alerts say: " memory_unwatched fires, inhibited by
// check_performance (token refused)." or "".
func unwatchedAlert(ctx context.Context, c *daemon.Client) string {
	alerts, err := c.Alerts(ctx)
	if err != nil {
		return " (cannot read the daemon's alerts: " + err.Error() + ")"
	}
	for _, a := range alerts {
		switch {
		case a.Name != monitor.RuleMemoryUnwatched || a.State != alert.StateFiring:
		case a.Inhibited:
			return fmt.Sprintf(" %s fires, inhibited by %s (%s): not notified.", a.Name, a.InhibitedBy, a.InhibitRule)
		default:
			return fmt.Sprintf(" %s fires.", a.Name)
		}
	}
	return ""
}

// narrator prints the demo's story on the terminal: its own lines and the
// console sink's messages, each stamped with the story time (T+h:mm) and
// wrapped to the terminal's width. It counts the alerts and reviews the
// console sink shows, for the summary.
type narrator struct {
	mu    sync.Mutex
	w     io.Writer
	story *clock.Scaled
	start time.Time
	width int

	fired, resolved []string // alert names, in the order notified
	reviews         []string // review names ("hour-1"), in the order delivered
}

func newNarrator(w io.Writer, story *clock.Scaled, width int) *narrator {
	return &narrator{w: w, story: story, start: story.Now(), width: width}
}

// stampWidth is the width of "T+4:02  ", the stamp before each entry.
const stampWidth = 8

// elapsed is the story time since the start.
func (n *narrator) elapsed() time.Duration { return n.story.Now().Sub(n.start) }

// stamp is the story time as the narration shows it: "T+1:05  ".
func (n *narrator) stamp() string {
	el := n.elapsed()
	s := fmt.Sprintf("T+%d:%02d", int(el.Hours()), int(el.Minutes())%60)
	return s + strings.Repeat(" ", max(stampWidth-len(s), 1))
}

// sleepUntil waits until the story clock reaches at since the start;
// false when ctx ended first.
func (n *narrator) sleepUntil(ctx context.Context, at time.Duration) bool {
	t := time.NewTimer(max(n.story.Wait(at-n.elapsed()), 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// say prints one entry of the narration, stamped.
func (n *narrator) say(text string) { n.sayStamped(n.stamp(), text) }

// sayStamped prints text under a stamp taken before.
func (n *narrator) sayStamped(stamp, text string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.print(stamp, text)
}

// print writes text wrapped under a first-line prefix as wide as the stamp.
func (n *narrator) print(prefix, text string) {
	lead := text[:len(text)-len(strings.TrimLeft(text, " "))]
	indent := strings.Repeat(" ", stampWidth) + lead
	fmt.Fprint(n.w, textwrap.Indent(text, prefix+lead, indent, n.width))
}

// Console lines the summary counts: an alert's state and name (alone, or
// in a group), and a review's title.
var (
	consoleAlert  = regexp.MustCompile(`^(?:ALERT |  )(FIRING|RESOLVED) (\S+)`)
	consoleReview = regexp.MustCompile(`Review (\S+) of `)
)

// Write is the console sink's writer: each message, stamped and wrapped.
func (n *narrator) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	prefix := n.stamp()
	for i, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if m := consoleAlert.FindStringSubmatch(line); m != nil {
			if m[1] == "FIRING" {
				n.fired = append(n.fired, m[2])
			} else {
				n.resolved = append(n.resolved, m[2])
			}
		}
		if m := consoleReview.FindStringSubmatch(line); m != nil && i == 0 {
			n.reviews = append(n.reviews, m[1])
		}
		n.print(prefix, line)
		prefix = strings.Repeat(" ", stampWidth)
	}
	return len(p), nil
}

// intro says what the demo started and where: the status page first.
func (n *narrator) intro(scale float64, base string, logFile *os.File, info sim.Info) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprint(n.w, textwrap.Indent(fmt.Sprintf("spacetime-watch demo: a simulated SpaceTime VR instance, watched by spacetime-watch, on a clock %g times as fast as yours (T+h:mm below is the deployment's time; its first four hours take %s).",
		scale, n.story.Wait(demoEnd).Round(time.Second)), "", "", n.width))
	fmt.Fprintf(n.w, "  Status page  %s/\n", base)
	fmt.Fprintf(n.w, "  Metrics      %s/metrics\n", base)
	if logFile != nil {
		fmt.Fprintf(n.w, "  Logs         %s\n", logFile.Name())
	}
	fmt.Fprintf(n.w, "  Instance     API http://%s, telemetry ws://%s/\n", info.API, info.Telemetry)
	fmt.Fprintln(n.w)
}

// summary says what happened: the alerts fired and resolved, the reviews
// delivered, and where the logs are.
func (n *narrator) summary(finished bool, logFile *os.File) {
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintln(n.w)
	how := "The story is over"
	if !finished {
		how = "The demo was stopped"
	}
	fmt.Fprintf(n.w, "%s at %s.\n", how, strings.TrimSpace(n.stamp()))
	for _, row := range []struct{ head, names string }{
		{"  Alerts fired     ", countNames(n.fired)},
		{"  Alerts resolved  ", countNames(n.resolved)},
		{"  Reviews          ", countNames(n.reviews)},
	} {
		fmt.Fprint(n.w, textwrap.Indent(row.names, row.head, strings.Repeat(" ", len(row.head)), n.width))
	}
	if logFile != nil {
		fmt.Fprintf(n.w, "  Logs             %s\n", logFile.Name())
	}
}

// countNames is "3: fps_low, memory_growth, token_expired", or "none".
func countNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d: %s", len(names), strings.Join(names, ", "))
}
