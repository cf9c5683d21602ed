package statuspage

import (
	"bytes"
	"cmp"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/secret"
)

// CSP is the pages' Content-Security-Policy: everything from the daemon
// itself, no inline script or style.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Options configure Register.
type Options struct {
	// Source is the daemon's state. Required.
	Source Source
	// Now is the page's clock. Default clock.Now.
	Now func() time.Time
	// Refresh is how often the page refreshes itself. Default
	// config.DefaultStatusPageRefresh.
	Refresh time.Duration
	// PageSize is the fleet view's rows per page. Default
	// config.DefaultStatusPageSize.
	PageSize int
	// Logger logs rendering failures. Default: none.
	Logger *zap.Logger
}

// Register adds the pages to mux: the fleet view at GET /, a target's page
// at GET /targets/{name}, the CSS and script under GET /static/.
func Register(mux *http.ServeMux, o Options) {
	if o.Now == nil {
		o.Now = clock.Now
	}
	o.Refresh = cmp.Or(o.Refresh, config.DefaultStatusPageRefresh)
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	static, _ := fs.Sub(staticFS, "static") // a constant path of the embed
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		f := BuildFleet(o.Source, o.Now(), o.Refresh, FleetQuery{Filter: r.URL.Query().Get("q"), Page: page, Size: o.PageSize})
		write(w, o.Logger, func(b *bytes.Buffer) error { return RenderFleet(b, f) })
	})
	mux.HandleFunc("GET /targets/{name}", func(w http.ResponseWriter, r *http.Request) {
		t, ok := BuildTarget(r.Context(), o.Source, r.PathValue("name"), o.Now(), o.Refresh)
		if !ok {
			http.Error(w, "no target of that name: the fleet view at / lists them", http.StatusNotFound)
			return
		}
		write(w, o.Logger, func(b *bytes.Buffer) error { return RenderTarget(b, t) })
	})
}

// write renders into a buffer, so that a failure is a clean 500, and
// sends it through the secret redactor: a reason or a dead letter may
// quote a sink's answer.
func write(w http.ResponseWriter, log *zap.Logger, render func(*bytes.Buffer) error) {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		log.Error("status page did not render", zap.Error(err))
		http.Error(w, "the status page did not render: see the daemon's log", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(secret.CleanBytes(b.Bytes()))
}
