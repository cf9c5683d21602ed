package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/labels"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// AlertsResponse is the body of GET /api/v1/alerts: every tracked alert,
// held and silenced ones included, so that no breach is dropped silently.
type AlertsResponse struct {
	Alerts []alert.Alert `json:"alerts"`
}

// SilencesResponse is the body of GET /api/v1/silences.
type SilencesResponse struct {
	Silences []alert.Silence `json:"silences"`
}

// AddSilenceRequest is the body of POST /api/v1/silences. At least one
// matcher is required, from Matchers, Target or Alert.
type AddSilenceRequest struct {
	// Matchers select the alerts silenced, as amtool writes them:
	// alert=fps_low, target!=canary, alert=~"fps_.*", severity!~"info";
	// an alert is silenced when every matcher matches. Regexes are anchored.
	Matchers []string `json:"matchers,omitempty"`
	// Target is short for the matcher target=Target. Optional.
	Target string `json:"target,omitempty"`
	// Alert is short for the matcher alert=Alert. Optional.
	Alert string `json:"alert,omitempty"`
	// StartsAt is when the silence starts. Default: now.
	StartsAt time.Time `json:"starts_at,omitzero"`
	// Duration is how long the silence lasts from StartsAt, e.g. "2h". Required.
	Duration string `json:"duration"`
	// Comment says why. Required.
	Comment string `json:"comment"`
	// CreatedBy names who asked.
	CreatedBy string `json:"created_by,omitempty"`
	// Force accepts matchers on a target or an alert the daemon does not
	// know (a target not configured yet). Default: false, such a matcher
	// is an error naming the closest known name.
	Force bool `json:"force,omitempty"`
}

// matchers returns the request's matchers, Target and Alert included.
func (r AddSilenceRequest) matchers() (labels.Matchers, []error) {
	var ms labels.Matchers
	var errs []error
	add := func(m labels.Matcher, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		ms = append(ms, m)
	}
	for _, s := range r.Matchers {
		add(labels.ParseMatcher(s))
	}
	if r.Target != "" {
		add(labels.NewMatcher(alert.LabelTarget, labels.MatchEqual, r.Target))
	}
	if r.Alert != "" {
		add(labels.NewMatcher(alert.LabelAlert, labels.MatchEqual, r.Alert))
	}
	return ms, errs
}

// OutboxResponse is the body of GET /api/v1/outbox.
type OutboxResponse struct {
	// Pending counts the notifications waiting per sink.
	Pending map[string]int `json:"pending"`
	// DeadLetters are the notifications each sink gave up on.
	DeadLetters []DeadLetter `json:"dead_letters"`
}

// DeadLetter is a notification a sink gave up on.
type DeadLetter struct {
	Sink    string    `json:"sink"`
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason"`
	Summary string    `json:"summary"`
}

// NotifyTestRequest is the body of POST /api/v1/notify/test.
type NotifyTestRequest struct {
	// Sink restricts the test to one sink; empty tests them all.
	Sink string `json:"sink,omitempty"`
}

// NotifyTestResult is one sink's answer to the test message.
type NotifyTestResult struct {
	Sink      string `json:"sink"`
	Delivered bool   `json:"delivered"`
	Error     string `json:"error,omitempty"`
}

// NotifyTestResponse is the body of POST /api/v1/notify/test.
type NotifyTestResponse struct {
	Results []NotifyTestResult `json:"results"`
}

func registerAlertRoutes(mux *http.ServeMux, a *api) {
	mux.HandleFunc("GET /api/v1/alerts", a.alerts)
	mux.HandleFunc("GET /api/v1/silences", a.silences)
	mux.HandleFunc("POST /api/v1/silences", a.addSilence)
	mux.HandleFunc("DELETE /api/v1/silences/{id}", a.expireSilence)
	mux.HandleFunc("GET /api/v1/outbox", a.outboxList)
	mux.HandleFunc("POST /api/v1/notify/test", a.notifyTest)
}

func (a *api) alerts(w http.ResponseWriter, _ *http.Request) {
	list := a.alerting.manager.Alerts()
	if list == nil {
		list = []alert.Alert{}
	}
	writeJSON(w, http.StatusOK, AlertsResponse{Alerts: list})
}

func (a *api) silences(w http.ResponseWriter, _ *http.Request) {
	list := a.alerting.manager.Silences()
	if list == nil {
		list = []alert.Silence{}
	}
	writeJSON(w, http.StatusOK, SilencesResponse{Silences: list})
}

func (a *api) addSilence(w http.ResponseWriter, r *http.Request) {
	var req AddSilenceRequest
	if !decodeBody(w, r, a, &req, `{"matchers": ["alert=fps_low", ...], "target": ..., "alert": ..., "starts_at": ... (each optional), "duration": "2h", "comment": ..., "force": false}`) {
		return
	}
	ms, errs := req.matchers()
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d <= 0 {
		errs = append(errs, fmt.Errorf("duration %q: want a positive duration such as 2h or 30m", req.Duration))
	}
	if len(errs) > 0 {
		a.fail(w, http.StatusBadRequest, fmt.Errorf("silence: %w", errors.Join(errs...)))
		return
	}
	if err := a.silenceNames().check(ms, req.Force); err != nil {
		a.fail(w, http.StatusBadRequest, err)
		return
	}
	start := req.StartsAt
	if start.IsZero() {
		start = a.now()
	}
	s, err := a.alerting.manager.AddSilence(alert.Silence{Matchers: ms, StartsAt: start, EndsAt: start.Add(d), Comment: req.Comment, CreatedBy: req.CreatedBy})
	if err != nil {
		a.fail(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusCreated, s)
}

// expireSilence ends the silence whose ID, or unique ID prefix, is in the
// path, and answers it.
func (a *api) expireSilence(w http.ResponseWriter, r *http.Request) {
	s, err := a.alerting.manager.ExpireSilence(r.PathValue("id"))
	switch {
	case errors.Is(err, alert.ErrSilenceNotFound):
		a.fail(w, http.StatusNotFound, err)
	case errors.Is(err, alert.ErrSilenceAmbiguous), errors.Is(err, alert.ErrSilenceEnded):
		a.fail(w, http.StatusConflict, err)
	case err != nil:
		a.fail(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, s)
	}
}

func (a *api) outboxList(w http.ResponseWriter, _ *http.Request) {
	pending, err := a.alerting.outbox.Pending()
	if err != nil {
		a.fail(w, http.StatusInternalServerError, err)
		return
	}
	dead, err := deadLetters(a.alerting.outbox)
	if err != nil {
		a.fail(w, http.StatusInternalServerError, err)
		return
	}
	out := OutboxResponse{Pending: pending, DeadLetters: dead}
	writeJSON(w, http.StatusOK, out)
}

// summarize says in one line what a dead letter held.
func summarize(d store.DeadLetter) string {
	var m alert.Message
	if err := json.Unmarshal(d.Payload, &m); err != nil {
		return "undecodable notification"
	}
	switch m.Kind {
	case alert.KindAlerts:
		names := make([]string, 0, len(m.Alerts))
		for _, al := range m.Alerts {
			names = append(names, fmt.Sprintf("%s %s on %s", al.Name, al.State, al.Target))
		}
		if len(names) > 3 {
			names = append(names[:3], fmt.Sprintf("+%d more", len(m.Alerts)-3))
		}
		return strings.Join(names, ", ")
	default:
		return string(m.Kind) + ": " + m.Title
	}
}

func (a *api) notifyTest(w http.ResponseWriter, r *http.Request) {
	var req NotifyTestRequest
	if r.ContentLength != 0 && !decodeBody(w, r, a, &req, `{"sink": ... (optional)}`) {
		return
	}
	sinks := a.alerting.sinkNames()
	if req.Sink != "" {
		if !slices.Contains(sinks, req.Sink) {
			a.fail(w, http.StatusNotFound, fmt.Errorf("no sink named %q (configured: %s)", req.Sink, strings.Join(sinks, ", ")))
			return
		}
		sinks = []string{req.Sink}
	}
	msg := alert.Message{
		Kind:  alert.KindTest,
		Title: "spacetime-watch test notification",
		Text:  "This is a test sent by the command spacetime-watch notify test. Nothing is wrong.",
	}
	out := NotifyTestResponse{Results: []NotifyTestResult{}}
	for _, s := range sinks {
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		err := a.alerting.outbox.SendTest(ctx, s, msg)
		cancel()
		res := NotifyTestResult{Sink: s, Delivered: err == nil}
		if err != nil {
			res.Error = err.Error()
		}
		out.Results = append(out.Results, res)
	}
	writeJSON(w, http.StatusOK, out)
}

// decodeBody decodes a JSON request body strictly; on failure it answers
// 400 with the expected shape and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, a *api, v any, shape string) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		a.fail(w, http.StatusBadRequest, fmt.Errorf("body must be JSON %s: %w", shape, err))
		return false
	}
	return true
}
