package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/health"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/secret"
	"github.com/spacetime-vr/spacetime-watch/internal/statuspage"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// Deployment is a deployment as the daemon's API shows it.
type Deployment struct {
	ID                string    `json:"id"`
	Target            string    `json:"target"`
	Version           string    `json:"version"`
	StartedAt         time.Time `json:"started_at"`
	Source            string    `json:"source"`
	InstanceStartedAt time.Time `json:"instance_started_at,omitzero"`
	Note              string    `json:"note,omitempty"`
}

func deploymentFromStore(d store.Deployment) Deployment {
	return Deployment{ID: d.ID, Target: d.Target, Version: d.Version, StartedAt: d.StartedAt, Source: d.Source, InstanceStartedAt: d.InstanceStartedAt, Note: d.Note}
}

// StartDeploymentRequest is the body of POST /api/v1/deployments.
type StartDeploymentRequest struct {
	// Target is the configured target's name. Required.
	Target string `json:"target"`
	// Version is the version being deployed. Required.
	Version string `json:"version"`
	// StartedAt is when the deployment started. Default: now.
	StartedAt time.Time `json:"started_at,omitzero"`
	// Note is free text about the deployment (a ticket, what changed),
	// shown with it on the status page. Optional; at most MaxNoteLength
	// bytes.
	Note string `json:"note,omitempty"`
}

// MaxNoteLength bounds a deployment's note: a line or two, not a file.
const MaxNoteLength = 1024

// DeploymentsResponse is the body of GET /api/v1/deployments.
type DeploymentsResponse struct {
	Deployments []Deployment `json:"deployments"`
}

// StatusResponse is the body of GET /api/v1/status.
type StatusResponse struct {
	Targets []monitor.TargetStatus `json:"targets"`
}

// apiError is every error body of the daemon's API.
type apiError struct {
	Error string `json:"error"`
}

// maxRequestBody bounds API request bodies.
const maxRequestBody = 64 << 10

func newHandler(mon *monitor.Monitor, alerts *alerting, revs *reviews, st *store.Store, reg *exposition, hr *health.Registry, log *zap.Logger, reload http.HandlerFunc, refresh time.Duration, pprof bool) http.Handler {
	api := &api{mon: mon, health: hr, alerting: alerts, reviews: revs, store: st, log: log.Named("api"), now: alerts.manager.Now}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", reg.handler(log.Named("metrics")))
	mux.HandleFunc("GET /-/healthy", api.healthy)
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "spacetime-watch is Ready.")
	})
	mux.HandleFunc("POST /-/reload", reload)
	mux.HandleFunc("PUT /-/reload", reload)
	mux.HandleFunc("GET /api/v1/status", api.status)
	mux.HandleFunc("GET /api/v1/deployments", api.listDeployments)
	mux.HandleFunc("POST /api/v1/deployments", api.startDeployment)
	registerAlertRoutes(mux, api)
	mux.HandleFunc("GET /api/v1/reviews", api.review)
	statuspage.Register(mux, statuspage.Options{
		Source:  pageSource{mon: mon, alerting: alerts, reviews: revs, store: st},
		Now:     alerts.manager.Now,
		Refresh: refresh,
		Logger:  log.Named("statuspage"),
	})
	if pprof {
		registerPprof(mux)
	}
	return mux
}

type api struct {
	mon      *monitor.Monitor
	health   *health.Registry
	alerting *alerting
	reviews  *reviews
	store    *store.Store
	log      *zap.Logger
	now      func() time.Time // the clock of "from now" in requests
}

// healthy answers 200 while every loop of the daemon reported within its
// deadline, and 503 naming the stuck ones otherwise. It never reflects the
// watched instance or a sink, so that neither a broken instance nor a
// Slack outage gets the watcher restarted.
func (a *api) healthy(w http.ResponseWriter, _ *http.Request) {
	if stuck := health.Report(a.health.Stuck(), a.health.Now()); stuck != "" {
		http.Error(w, "spacetime-watch is not healthy: stuck loops:\n"+strings.TrimSuffix(stuck, "\n"), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "spacetime-watch is Healthy.")
}

func (a *api) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, StatusResponse{Targets: a.mon.Status()})
}

func (a *api) listDeployments(w http.ResponseWriter, r *http.Request) {
	ds, err := a.store.Deployments(r.URL.Query().Get("target"))
	if err != nil {
		a.fail(w, http.StatusInternalServerError, err)
		return
	}
	out := DeploymentsResponse{Deployments: make([]Deployment, 0, len(ds))}
	for _, d := range ds {
		out.Deployments = append(out.Deployments, deploymentFromStore(d))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) startDeployment(w http.ResponseWriter, r *http.Request) {
	var req StartDeploymentRequest
	if !decodeBody(w, r, a, &req, `{"target": ..., "version": ..., "started_at": RFC 3339 (optional)}`) {
		return
	}
	var missing []string
	if strings.TrimSpace(req.Target) == "" {
		missing = append(missing, "target")
	}
	if strings.TrimSpace(req.Version) == "" {
		missing = append(missing, "version")
	}
	if len(missing) > 0 {
		a.fail(w, http.StatusBadRequest, fmt.Errorf("missing %s", strings.Join(missing, " and ")))
		return
	}
	if len(req.Note) > MaxNoteLength {
		a.fail(w, http.StatusBadRequest, fmt.Errorf("note: %d bytes, at most %d: keep it to a line or two and link to the rest", len(req.Note), MaxNoteLength))
		return
	}
	d, err := a.mon.StartDeployment(req.Target, req.Version, req.Note, req.StartedAt)
	switch {
	case errors.Is(err, monitor.ErrUnknownTarget):
		a.fail(w, http.StatusNotFound, err)
		return
	case err != nil:
		a.fail(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusCreated, deploymentFromStore(d))
}

// LatestReview is the review= value that asks GET /api/v1/reviews for the
// latest review that fell due (as delivered), or before the first falls
// due, the first one computed now (review.Service.Latest). No review is
// named so: names are hour-N, minute-N or second-N.
const LatestReview = "latest"

// review computes a review now (GET /api/v1/reviews?target=T&review=hour-4
// [&deployment=ID]), or shows the latest (review=latest); without review=,
// it lists the reviews delivered for the deployment.
func (a *api) review(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	target, dep, name := q.Get("target"), q.Get("deployment"), q.Get("review")
	if target == "" {
		a.fail(w, http.StatusBadRequest, errors.New("missing target (?target=NAME)"))
		return
	}
	if name == "" {
		list, err := a.reviews.svc.Reviews(target, dep)
		if err != nil {
			a.fail(w, reviewErrCode(err), err)
			return
		}
		writeJSON(w, http.StatusOK, ReviewsResponse{Reviews: list})
		return
	}
	var (
		rv  review.Review
		err error
	)
	if name == LatestReview {
		rv, err = a.reviews.svc.Latest(r.Context(), target, dep)
	} else {
		rv, err = a.reviews.svc.OnDemand(r.Context(), target, dep, name)
	}
	if err != nil {
		a.fail(w, reviewErrCode(err), err)
		return
	}
	writeJSON(w, http.StatusOK, ReviewResponse{Review: rv, Text: review.Text(rv), Markdown: review.Markdown(rv)})
}

func reviewErrCode(err error) int {
	if errors.Is(err, review.ErrNotFound) {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// ReviewResponse is the body of GET /api/v1/reviews?review=...: the review
// and its renderings.
type ReviewResponse struct {
	Review   review.Review `json:"review"`
	Text     string        `json:"text"`
	Markdown string        `json:"markdown"`
}

// ReviewsResponse lists delivered reviews.
type ReviewsResponse struct {
	Reviews []review.Review `json:"reviews"`
}

func (a *api) fail(w http.ResponseWriter, code int, err error) {
	if code >= 500 {
		a.log.Error("API request failed", zap.Error(err))
	}
	writeJSON(w, code, apiError{Error: err.Error()})
}

// Every API answer passes through the redactor: an error text, a dead
// letter's reason or an alert's summary may quote a sink's answer.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	_, _ = w.Write(secret.CleanBytes(buf.Bytes()))
}
