package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// grafanaDashboard models the fields of Grafana's classic dashboard JSON
// model (https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/)
// that deploy/grafana/spacetime-watch.json uses. It is decoded with
// DisallowUnknownFields, so a misspelt or unmodelled field is an error.
// Panel options and the custom field config are plugin-specific in
// Grafana's schema, hence free-form maps.
type grafanaDashboard struct {
	Annotations          grafanaAnnotations `json:"annotations"`
	Description          string             `json:"description"`
	Editable             bool               `json:"editable"`
	FiscalYearStartMonth int                `json:"fiscalYearStartMonth"`
	GraphTooltip         int                `json:"graphTooltip"`
	ID                   *int               `json:"id"`
	Links                []grafanaLink      `json:"links"`
	Panels               []grafanaPanel     `json:"panels"`
	Refresh              string             `json:"refresh"`
	SchemaVersion        int                `json:"schemaVersion"`
	Tags                 []string           `json:"tags"`
	Templating           grafanaTemplating  `json:"templating"`
	Time                 grafanaTimeRange   `json:"time"`
	Timepicker           struct{}           `json:"timepicker"`
	Timezone             string             `json:"timezone"`
	Title                string             `json:"title"`
	UID                  string             `json:"uid"`
	Version              int                `json:"version"`
	WeekStart            string             `json:"weekStart"`
}

type grafanaAnnotations struct {
	List []grafanaAnnotation `json:"list"`
}

// grafanaAnnotation is a built-in annotation or a Prometheus annotation
// query.
type grafanaAnnotation struct {
	BuiltIn         int                `json:"builtIn"`
	Datasource      *grafanaDatasource `json:"datasource"`
	Enable          bool               `json:"enable"`
	Hide            bool               `json:"hide"`
	IconColor       string             `json:"iconColor"`
	Name            string             `json:"name"`
	Type            string             `json:"type"`
	Expr            string             `json:"expr"`
	Step            string             `json:"step"`
	TitleFormat     string             `json:"titleFormat"`
	TextFormat      string             `json:"textFormat"`
	TagKeys         string             `json:"tagKeys"`
	UseValueForTime bool               `json:"useValueForTime"`
}

type grafanaLink struct {
	Title       string `json:"title"`
	Type        string `json:"type"`
	Icon        string `json:"icon"`
	TargetBlank bool   `json:"targetBlank"`
	Tooltip     string `json:"tooltip"`
	URL         string `json:"url"`
}

type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaTemplating struct {
	List []grafanaVariable `json:"list"`
}

// grafanaVariable is a template variable. Query is a string for a
// datasource variable and an object for a Prometheus query variable.
type grafanaVariable struct {
	Name       string             `json:"name"`
	Label      string             `json:"label"`
	Type       string             `json:"type"`
	Datasource *grafanaDatasource `json:"datasource"`
	Definition string             `json:"definition"`
	Query      json.RawMessage    `json:"query"`
	Current    map[string]any     `json:"current"`
	Hide       int                `json:"hide"`
	IncludeAll bool               `json:"includeAll"`
	Multi      bool               `json:"multi"`
	Options    []any              `json:"options"`
	Refresh    int                `json:"refresh"`
	Regex      string             `json:"regex"`
	Sort       int                `json:"sort"`
}

type grafanaTimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

type grafanaPanel struct {
	ID          int                 `json:"id"`
	Type        string              `json:"type"`
	Title       string              `json:"title"`
	Description string              `json:"description"`
	GridPos     grafanaGridPos      `json:"gridPos"`
	Datasource  *grafanaDatasource  `json:"datasource"`
	Targets     []grafanaTarget     `json:"targets"`
	FieldConfig *grafanaFieldConfig `json:"fieldConfig"`
	Options     map[string]any      `json:"options"`
	// Collapsed and Panels belong to rows: a collapsed row holds its panels.
	Collapsed bool           `json:"collapsed"`
	Panels    []grafanaPanel `json:"panels"`
}

type grafanaGridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// grafanaTarget is a Prometheus query of a panel.
type grafanaTarget struct {
	RefID        string             `json:"refId"`
	Datasource   *grafanaDatasource `json:"datasource"`
	Expr         string             `json:"expr"`
	LegendFormat string             `json:"legendFormat"`
	Range        bool               `json:"range"`
	Instant      bool               `json:"instant"`
}

type grafanaFieldConfig struct {
	Defaults  grafanaFieldDefaults `json:"defaults"`
	Overrides []grafanaOverride    `json:"overrides"`
}

type grafanaFieldDefaults struct {
	Unit     string   `json:"unit"`
	Min      *float64 `json:"min"`
	Max      *float64 `json:"max"`
	Decimals *int     `json:"decimals"`
	Color    *struct {
		Mode string `json:"mode"`
	} `json:"color"`
	Thresholds *grafanaThresholds `json:"thresholds"`
	Mappings   []grafanaMapping   `json:"mappings"`
	Custom     map[string]any     `json:"custom"`
}

type grafanaThresholds struct {
	Mode  string `json:"mode"`
	Steps []struct {
		Color string   `json:"color"`
		Value *float64 `json:"value"`
	} `json:"steps"`
}

// grafanaMapping is a value mapping ("type": "value"), the only kind used.
type grafanaMapping struct {
	Type    string `json:"type"`
	Options map[string]struct {
		Text  string `json:"text"`
		Color string `json:"color"`
		Index int    `json:"index"`
	} `json:"options"`
}

type grafanaOverride struct {
	Matcher struct {
		ID      string `json:"id"`
		Options any    `json:"options"`
	} `json:"matcher"`
	Properties []struct {
		ID    string `json:"id"`
		Value any    `json:"value"`
	} `json:"properties"`
}

// dashboardQuery is one PromQL query of the dashboard: a panel target or
// an annotation.
type dashboardQuery struct {
	where string // "panel title/refId" or "annotation name"
	expr  string
}

func loadDashboard(t *testing.T, root string) grafanaDashboard {
	t.Helper()
	path := filepath.Join(root, "deploy", "grafana", "spacetime-watch.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: trailing data after the dashboard", path)
	}
	return d
}

// queries lists every PromQL query of the dashboard: the targets of every
// panel (rows included, collapsed or not) and the Prometheus annotations.
func (d grafanaDashboard) queries() []dashboardQuery {
	var qs []dashboardQuery
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				qs = append(qs, dashboardQuery{where: p.Title + "/" + tg.RefID, expr: tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			qs = append(qs, dashboardQuery{where: "annotation " + a.Name, expr: a.Expr})
		}
	}
	return qs
}

// TestDashboardSchema decodes the dashboard strictly and checks what
// Grafana would not tell before a user opens it: every panel queries
// Prometheus through the datasource variable and filters on $target, ids
// are unique, the grid holds together, and the panels the issue asks for
// are there with their bands and lines.
func TestDashboardSchema(t *testing.T) {
	d := loadDashboard(t, repoRoot(t))
	if d.UID != "spacetime-watch" || d.Title == "" {
		t.Errorf("uid %q, title %q: want uid spacetime-watch and a title", d.UID, d.Title)
	}
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d: want Grafana 9.4–11 (36–41)", d.SchemaVersion)
	}
	if d.ID != nil {
		t.Errorf("id %d: a provisioned dashboard carries no database id (null)", *d.ID)
	}

	vars := map[string]grafanaVariable{}
	for _, v := range d.Templating.List {
		if _, dup := vars[v.Name]; dup {
			t.Errorf("variable %s defined twice", v.Name)
		}
		vars[v.Name] = v
	}
	if v := vars["datasource"]; v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		t.Errorf("variable datasource: type %q query %s, want a prometheus datasource variable", v.Type, v.Query)
	}
	target := vars["target"]
	var tq struct {
		Query string `json:"query"`
		RefID string `json:"refId"`
	}
	if err := json.Unmarshal(target.Query, &tq); err != nil {
		t.Errorf("variable target: query %s: %v", target.Query, err)
	}
	const targetValues = "label_values(spacetime_up, target)"
	if target.Type != "query" || tq.Query != targetValues || target.Definition != targetValues || !isPromDS(target.Datasource) {
		t.Errorf("variable target: type %q query %q definition %q datasource %+v, want a query variable %s on ${datasource}",
			target.Type, tq.Query, target.Definition, target.Datasource, targetValues)
	}

	ids := map[int]string{}
	var boxes []grafanaPanel
	var check func(ps []grafanaPanel)
	check = func(ps []grafanaPanel) {
		for _, p := range ps {
			if p.ID <= 0 || ids[p.ID] != "" {
				t.Errorf("panel %q: id %d is not a unique positive id (also %q)", p.Title, p.ID, ids[p.ID])
			}
			ids[p.ID] = p.Title
			g := p.GridPos
			if g.W < 1 || g.H < 1 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
				t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
			}
			boxes = append(boxes, p)
			checkPanel(t, p)
			check(p.Panels)
		}
	}
	check(d.Panels)
	for i, a := range boxes {
		for _, b := range boxes[i+1:] {
			if overlap(a.GridPos, b.GridPos) {
				t.Errorf("panels %q %+v and %q %+v overlap", a.Title, a.GridPos, b.Title, b.GridPos)
			}
		}
	}

	var deployments bool
	for _, a := range d.Annotations.List {
		if a.BuiltIn == 1 {
			continue
		}
		if !isPromDS(a.Datasource) || !strings.Contains(a.Expr, "$target") {
			t.Errorf("annotation %q: datasource %+v expr %q, want a Prometheus query on $target", a.Name, a.Datasource, a.Expr)
		}
		if strings.Contains(a.Expr, "spacetime_deployment_start_timestamp_seconds") && a.UseValueForTime {
			deployments = true
		}
	}
	if !deployments {
		t.Error("no deployment annotation (spacetime_deployment_start_timestamp_seconds, value as time)")
	}

	byTitle := map[string]grafanaPanel{}
	for _, p := range boxes {
		byTitle[p.Title] = p
	}
	// The panels the issue lists, by the title this dashboard gives them.
	for _, want := range []string{
		"Checks", "FPS", "Frame time", "Memory", "Memory growth", "Check duration",
		"Telemetry connection", "Alerts firing (spacetime-watch)", "Post-deployment reviews",
		"SLO burn rate", "Notification delivery",
	} {
		if _, ok := byTitle[want]; !ok {
			t.Errorf("no panel %q", want)
		}
	}
	wantLines(t, byTitle["FPS"], []float64{85, 95}, "line+area")
	wantLines(t, byTitle["Memory"], []float64{400 << 20}, "dashed")
	if e := byTitle["Memory growth"].exprs(); !strings.Contains(e, "deriv(spacetime_memory_bytes") {
		t.Errorf("Memory growth: %q does not use deriv(spacetime_memory_bytes)", e)
	}
	if e := byTitle["Check duration"].exprs(); !strings.Contains(e, "quantile_over_time(0.95, spacetime_check_duration_seconds{") {
		t.Errorf("Check duration: %q is not a quantile_over_time over spacetime_check_duration_seconds", e)
	}
}

// checkPanel checks one panel: rows are bare; every other panel queries
// Prometheus through ${datasource}, each target filtering on $target.
func checkPanel(t *testing.T, p grafanaPanel) {
	t.Helper()
	if p.Type == "row" {
		g := p.GridPos
		if len(p.Targets) > 0 || g.H != 1 || g.W != 24 || g.X != 0 || (!p.Collapsed && len(p.Panels) > 0) {
			t.Errorf("row %q: a row is 24×1 at x 0, has no targets, and holds panels only when collapsed", p.Title)
		}
		return
	}
	if !slices.Contains([]string{"stat", "timeseries", "state-timeline"}, p.Type) {
		t.Errorf("panel %q: type %q is not one this dashboard uses (stat, timeseries, state-timeline)", p.Title, p.Type)
	}
	if p.Title == "" || p.Description == "" || p.FieldConfig == nil || p.Options == nil {
		t.Errorf("panel %q: want a title, a description, fieldConfig and options", p.Title)
	}
	if !isPromDS(p.Datasource) {
		t.Errorf("panel %q: datasource %+v, want prometheus ${datasource}", p.Title, p.Datasource)
	}
	if len(p.Targets) == 0 {
		t.Errorf("panel %q: no targets", p.Title)
	}
	refs := map[string]bool{}
	for _, tg := range p.Targets {
		if tg.RefID == "" || refs[tg.RefID] {
			t.Errorf("panel %q: refId %q empty or repeated", p.Title, tg.RefID)
		}
		refs[tg.RefID] = true
		if !strings.Contains(tg.Expr, `target="$target"`) {
			t.Errorf("panel %q/%s: %q does not filter on target=\"$target\"", p.Title, tg.RefID, tg.Expr)
		}
		if !isPromDS(tg.Datasource) || !tg.Range || tg.Instant {
			t.Errorf("panel %q/%s: want a range query on ${datasource}", p.Title, tg.RefID)
		}
	}
	if p.FieldConfig != nil {
		if th := p.FieldConfig.Defaults.Thresholds; th != nil {
			for i, s := range th.Steps {
				if (i == 0) != (s.Value == nil) || (i > 1 && *s.Value <= *th.Steps[i-1].Value) {
					t.Errorf("panel %q: threshold steps must start with a null base and then increase", p.Title)
					break
				}
			}
		}
	}
}

func (p grafanaPanel) exprs() string {
	var es []string
	for _, tg := range p.Targets {
		es = append(es, tg.Expr)
	}
	return strings.Join(es, "\n")
}

// wantLines checks that a panel draws thresholds at values in style.
func wantLines(t *testing.T, p grafanaPanel, values []float64, style string) {
	t.Helper()
	if p.FieldConfig == nil || p.FieldConfig.Defaults.Thresholds == nil {
		t.Errorf("panel %q: no thresholds", p.Title)
		return
	}
	var got []float64
	for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
		if s.Value != nil {
			got = append(got, *s.Value)
		}
	}
	for _, v := range values {
		if !slices.Contains(got, v) {
			t.Errorf("panel %q: thresholds %v lack %v", p.Title, got, v)
		}
	}
	ts, _ := p.FieldConfig.Defaults.Custom["thresholdsStyle"].(map[string]any)
	if ts["mode"] != style {
		t.Errorf("panel %q: thresholdsStyle %v, want mode %q (drawn)", p.Title, ts, style)
	}
}

func isPromDS(ds *grafanaDatasource) bool {
	return ds != nil && ds.Type == "prometheus" && ds.UID == "${datasource}"
}

func overlap(a, b grafanaGridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// grafanaDatasourceProvisioning models Grafana's data source provisioning
// file (https://grafana.com/docs/grafana/latest/administration/provisioning/#data-sources),
// the fields used.
type grafanaDatasourceProvisioning struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name      string `yaml:"name"`
		Type      string `yaml:"type"`
		UID       string `yaml:"uid"`
		Access    string `yaml:"access"`
		URL       string `yaml:"url"`
		IsDefault bool   `yaml:"isDefault"`
		Editable  bool   `yaml:"editable"`
		JSONData  struct {
			TimeInterval string `yaml:"timeInterval"`
			HTTPMethod   string `yaml:"httpMethod"`
		} `yaml:"jsonData"`
	} `yaml:"datasources"`
}

// grafanaDashboardProvisioning models Grafana's dashboard provider file
// (https://grafana.com/docs/grafana/latest/administration/provisioning/#dashboards).
type grafanaDashboardProvisioning struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name                  string `yaml:"name"`
		OrgID                 int    `yaml:"orgId"`
		Folder                string `yaml:"folder"`
		Type                  string `yaml:"type"`
		DisableDeletion       bool   `yaml:"disableDeletion"`
		AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `yaml:"path"`
			FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// TestGrafanaProvisioning decodes the provisioning files strictly and
// checks that they agree with the example Prometheus config: Grafana's
// $__rate_interval is built on the data source's timeInterval, which must
// be Prometheus' scrape_interval; and the smoothness SLI counts scrapes
// only when Prometheus evaluates rules as often as it scrapes.
func TestGrafanaProvisioning(t *testing.T) {
	root := repoRoot(t)
	var ds grafanaDatasourceProvisioning
	decodeYAMLStrict(t, filepath.Join(root, "deploy", "grafana", "provisioning", "datasources", "prometheus.yml"), &ds)
	var dp grafanaDashboardProvisioning
	decodeYAMLStrict(t, filepath.Join(root, "deploy", "grafana", "provisioning", "dashboards", "spacetime-watch.yml"), &dp)
	var prom struct {
		Global struct {
			ScrapeInterval     string `yaml:"scrape_interval"`
			EvaluationInterval string `yaml:"evaluation_interval"`
		} `yaml:"global"`
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &prom); err != nil {
		t.Fatal(err)
	}

	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || dp.APIVersion != 1 || len(dp.Providers) != 1 {
		t.Fatalf("want apiVersion 1, one data source and one dashboard provider: %+v %+v", ds, dp)
	}
	src, prov := ds.Datasources[0], dp.Providers[0]
	if src.Type != "prometheus" || src.Access != "proxy" || src.URL == "" || src.UID == "" {
		t.Errorf("data source %+v: want a prometheus data source, server (proxy) access, a url and a fixed uid", src)
	}
	if src.JSONData.TimeInterval != prom.Global.ScrapeInterval {
		t.Errorf("data source timeInterval %q, Prometheus scrape_interval %q: they must agree", src.JSONData.TimeInterval, prom.Global.ScrapeInterval)
	}
	if prom.Global.EvaluationInterval != prom.Global.ScrapeInterval {
		t.Errorf("prometheus.yml: evaluation_interval %q != scrape_interval %q", prom.Global.EvaluationInterval, prom.Global.ScrapeInterval)
	}
	if prov.Type != "file" || !filepath.IsAbs(prov.Options.Path) {
		t.Errorf("dashboard provider %+v: want type file and an absolute path", prov)
	}
}
