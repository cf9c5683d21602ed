package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
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
}

// demoStory is a deployment's first four hours: an FPS drop, a memory
// leak with its projection, an expired token and an API outage, each
// resolved, between the hour-1 and hour-4 reviews.
var demoStory = []storyStep{
	{10 * time.Minute, "Injecting an FPS drop to ~60: a heavy scene loads and the GPU cannot keep 90. fps_low fires once FPS stays below 85 for 1m.", `{"fps": 60}`, false},
	{30 * time.Minute, "FPS back to 90: the heavy scene is unloaded. fps_low resolves.", `{"fps": 90}`, false},
	{75 * time.Minute, "Injecting a memory leak of 5 MB/min from 300 MB: textures loaded and never freed. memory_growth fires with the time left until the 400 MB ceiling.", `{"memory_growth_mb_per_min": 5}`, false},
	{90 * time.Minute, "The leak is fixed: memory back to 300 MB and flat. memory_growth resolves.", `{"memory_mb": 300, "memory_growth_mb_per_min": 0}`, false},
	{demoTokenTTL, "The instance's API token expires: the stock server signs one JWT per process (valid 2h here) and never renews it. One alert, token_expired: the checks it explains are inhibited.", "", false},
	{140 * time.Minute, "Restarting the instance (same version): the new process signs a new token, which the daemon reads from GET /status. token_expired resolves.", "", true},
	{160 * time.Minute, "Taking the API down (connection refused; telemetry still flows). One alert, check_instance_up: the checks it explains are inhibited.", `{"api_down": true}`, false},
	{180 * time.Minute, "The API is back. check_instance_up resolves.", `{"api_down": false}`, false},
}

// demoTokenTTL is how long the simulated instance's JWT lasts.
const demoTokenTTL = 2 * time.Hour

// demoEnd is when the story ends: just after the hour-4 review.
const demoEnd = 4*time.Hour + 2*time.Minute

// playStory injects each step into inst when the story clock reaches it,
// narrating why, until end or ctx. It reports whether it reached end.
func playStory(ctx context.Context, steps []storyStep, end time.Duration, story *clock.Scaled, inst *sim.Sim, out *narrator) bool {
	out.say("The daemon is watching the instance and has recorded a new deployment: the hour-1 review falls due at T+1:00, the hour-4 review at T+4:00.")
	for _, step := range steps {
		if step.At > end || !out.sleepUntil(ctx, step.At) {
			break
		}
		out.say(step.Say)
		if step.Faults != "" {
			if err := inst.PatchFaults([]byte(step.Faults)); err != nil {
				out.say("(the instance refused the fault: " + err.Error() + ")")
			}
		}
		if step.Restart {
			inst.Restart("")
		}
	}
	return out.sleepUntil(ctx, end)
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
func (n *narrator) say(text string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.print(n.stamp(), text)
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
