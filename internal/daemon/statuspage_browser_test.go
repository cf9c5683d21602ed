package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// screenshotEnv, set to 1, makes the browser test write its screenshot of
// a degraded target to docs/status-page.png (the README shows it).
const screenshotEnv = "SPACETIME_WATCH_UPDATE_SCREENSHOT"

// hostileText is what a user or an instance could put in a field: if any
// of it ran, a dialog would open.
const hostileText = `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`

// mainState selects the state cell of target main's row on the fleet page.
const mainState = `'tr.row[data-target="main"] .state'`

// chromium finds Debian's chromium (or Ubuntu's chromium-browser).
func chromium(t *testing.T) string {
	if path, err := exec.LookPath("chromium-browser"); err == nil {
		return path
	}
	return testkit.Tool(t, "chromium")
}

// browserProblems collects what the page must never do: console errors,
// uncaught exceptions, failed requests, dialogs.
type browserProblems struct {
	mu   sync.Mutex
	seen []string
}

func (b *browserProblems) add(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seen = append(b.seen, fmt.Sprintf(format, args...))
}

func (b *browserProblems) list() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.seen...)
}

// TestStatusPageInBrowser drives headless chromium against a daemon
// watching the simulator: the fleet page loads clean with the check grid
// and an FPS sparkline; an FPS drop shows the target degraded within the
// refresh (the page updates itself), recovery shows it ok; the target
// page renders a review; hostile text in a deployment's version and note, a
// silence's comment and the instance's scene shows as text and opens no
// dialog; neither page
// scrolls sideways at 390 px or at 200% zoom.
func TestStatusPageInBrowser(t *testing.T) {
	exe := chromium(t)
	s := simtest.Start(t, sim.Options{Profile: sim.ProfileChecklist, FPSInterval: 50 * time.Millisecond})
	// Two more instances, so that the fleet page (and its screenshot) shows
	// the degraded one first among others that are fine.
	others := []simTarget{{"eu-west-2", simtest.Start(t, sim.Options{Profile: sim.ProfileChecklist})}, {"us-east-1", simtest.Start(t, sim.Options{Profile: sim.ProfileChecklist})}}
	dir := t.TempDir()
	cfg := strings.Replace(configYAML(t, dir, append([]simTarget{{"main", s}}, others...)...), "defaults:\n", "defaults:\n"+fastRules, 1)
	d := startDaemon(t, testkit.WriteFileIn(t, dir, "config.yaml", cfg), daemonSetup{statusPageRefresh: time.Second})

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	var problems browserProblems
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeWarning {
				problems.add("console %s", ev.Type)
			}
		case *runtime.EventExceptionThrown:
			problems.add("exception: %s", ev.ExceptionDetails.Text)
		case *network.EventLoadingFailed:
			problems.add("request failed: %s", ev.ErrorText)
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				problems.add("HTTP %d for %s", int(ev.Response.Status), ev.Response.URL)
			}
		case *page.EventJavascriptDialogOpening:
			problems.add("a dialog opened: %q", ev.Message)
			go func() { _ = chromedp.Run(ctx, page.HandleJavaScriptDialog(false)) }()
		}
	})
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(js string, out any) { run(js, chromedp.Evaluate(js, out)) }
	waitWithin := func(timeout time.Duration, what, js string) {
		t.Helper()
		testkit.Eventually(t, timeout, what, func() (bool, string) {
			var state string
			eval(`(document.querySelector(`+mainState+`)||{}).textContent||""`, &state)
			var ok bool
			eval(js, &ok)
			return ok, "state " + state
		})
	}
	waitFor := func(what, js string) { t.Helper(); waitWithin(30*time.Second, what, js) }
	// fpsLow waits until the daemon reports fps_low in state.
	fpsLow := func(state string) {
		t.Helper()
		waitValue(t, d.reg, 30*time.Second, "spacetime_rule_state", map[string]string{"target": "main", "rule": "fps_low", "state": state}, 1)
	}
	// The page refreshes every second: it shows what the API says within
	// that, plus a fetch.
	const withinRefresh = 3 * time.Second

	run("enable network", network.Enable())
	run("open the fleet page", chromedp.Navigate(d.url+"/"), chromedp.WaitVisible("table.fleet", chromedp.ByQuery))
	waitFor("the check grid and an FPS sparkline with data",
		`document.querySelectorAll("tr.row .grid li.cell").length >= 8 && !!document.querySelector("tr.row svg.spark path.line")`)
	waitFor("main ok", `/\bok\b/.test(document.querySelector(`+mainState+`).textContent)`)

	if err := s.PatchFaults([]byte(`{"fps": 60}`)); err != nil {
		t.Fatal(err)
	}
	fpsLow("firing")
	waitWithin(withinRefresh, "main degraded within the refresh, without a reload", `document.querySelector(`+mainState+`).textContent.includes("degraded")`)
	if os.Getenv(screenshotEnv) == "1" {
		var png []byte
		run("screenshot", chromedp.FullScreenshot(&png, 100))
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "status-page.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PatchFaults([]byte(`{"fps": 90}`)); err != nil {
		t.Fatal(err)
	}
	fpsLow("inactive")
	waitWithin(withinRefresh, "main ok again within the refresh after recovery", `!document.querySelector(`+mainState+`).textContent.includes("degraded")`)

	// Hostile text where users put it: a deployment's version, a silence's comment.
	if code, body := httpDo(t, http.MethodPost, d.url+"/api/v1/deployments", fmt.Sprintf(`{"target":"main","version":%q,"note":%q}`, hostileText, hostileText)); code != http.StatusCreated {
		t.Fatalf("POST deployment: %d %s", code, body)
	}
	if code, body := httpDo(t, http.MethodPost, d.url+"/api/v1/silences", fmt.Sprintf(`{"matchers":["target=main","alert=check_whitelist"],"duration":"1h","comment":%q}`, hostileText)); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("POST silence: %d %s", code, body)
	}
	waitWithin(withinRefresh, "the hostile version on the fleet page", fmt.Sprintf(`document.body.innerText.includes(%q)`, hostileText))

	run("open the target page", chromedp.Navigate(d.url+"/targets/main"), chromedp.WaitVisible("section.review li", chromedp.ByQuery))
	var count float64
	eval(fmt.Sprintf(`document.body.innerText.split(%q).length - 1`, hostileText), &count)
	if count < 3 {
		t.Errorf("the target page shows the hostile text %v times; want the version, the deployment's note and the silence comment", count)
	}

	// The instance's own text: a scene path the check quotes.
	if err := s.PatchFaults([]byte(fmt.Sprintf(`{"scene": %q}`, "res://"+hostileText))); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the hostile scene on the target page", func() (bool, string) {
		run("reload the target page", chromedp.Navigate(d.url+"/targets/main"), chromedp.WaitVisible("main", chromedp.ByQuery))
		var n float64
		eval(fmt.Sprintf(`document.body.innerText.split(%q).length - 1`, "res://"+hostileText), &n)
		return n > 0, fmt.Sprintf("shown %v times", n)
	})

	for _, vp := range []struct {
		name          string
		width, height int64
		scale         float64
	}{{"phone 390px", 390, 844, 3}, {"200% zoom", 640, 450, 2}} {
		for _, path := range []string{"/", "/targets/main"} {
			var fits bool
			run(vp.name+" "+path,
				emulation.SetDeviceMetricsOverride(vp.width, vp.height, vp.scale, vp.width < 500),
				chromedp.Navigate(d.url+path), chromedp.WaitVisible("main", chromedp.ByQuery),
				chromedp.Evaluate(`document.documentElement.scrollWidth <= document.documentElement.clientWidth`, &fits))
			if !fits {
				var sw, cw float64
				eval(`document.documentElement.scrollWidth`, &sw)
				eval(`document.documentElement.clientWidth`, &cw)
				t.Errorf("%s at %s scrolls sideways: %v px of content in %v", path, vp.name, sw, cw)
			}
		}
	}
	if p := problems.list(); len(p) > 0 {
		t.Errorf("the browser saw: %s", strings.Join(p, "; "))
	}
}
