// Package discovery reads the targets of the config's target_files, as
// Prometheus's file_sd does: each file matched by a pattern is a YAML or
// JSON list of targets, checked as strictly as the config. A bad file (one
// that does not parse, breaks a rule, or names a target the config or an
// earlier file already has) keeps the targets it last listed; the problem
// is logged with its path and line and counted in
// spacetime_watch_target_file_errors_total. Watch tells the daemon when the
// files' content changes; the daemon then applies Targets through its one
// reload path.
package discovery

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// Options configure New.
type Options struct {
	// Registry receives the discovery metrics. Required.
	Registry prometheus.Registerer
	// Logger logs each bad file's problems. Default: no logging.
	Logger *zap.Logger
	// Getenv expands ${VAR} in the files' *_file paths and names. Default:
	// os.Getenv.
	Getenv func(string) string
}

// Files is the state of the target files: the last good content of each,
// which a bad version of it does not replace. Its methods are safe for
// concurrent use.
type Files struct {
	log    *zap.Logger
	getenv func(string) string

	readErrors prometheus.Counter
	readOK     prometheus.Gauge
	discovered prometheus.Gauge

	mu sync.Mutex
	// good is the last good content of each file matched at the last read.
	good map[string]*config.TargetFile
	// patterns are the last config's target_files; seen the fingerprint of
	// what the last read found there.
	patterns []string
	seen     [sha256.Size]byte
	// repatterned wakes Watch when the patterns changed.
	repatterned chan struct{}
}

// New returns Files that have read nothing yet.
func New(o Options) *Files {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	f := &Files{
		log:    o.Logger.Named("discovery"),
		getenv: o.Getenv,
		readErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "spacetime_watch_target_file_errors_total",
			Help: "Target files that could not be used when read (unreadable, invalid, or naming a target defined elsewhere); each keeps the targets it last listed.",
		}),
		readOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spacetime_watch_target_files_last_read_successful",
			Help: "1 if every target file was used at the last read, 0 if one kept its previous targets because of a problem.",
		}),
		discovered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "spacetime_watch_target_files_targets",
			Help: "Targets read from target files at the last read (besides those of the config file).",
		}),
		good:        map[string]*config.TargetFile{},
		repatterned: make(chan struct{}, 1),
	}
	f.readOK.Set(1)
	o.Registry.MustRegister(f.readErrors, f.readOK, f.discovered)
	return f
}

// Targets returns cfg with the targets of its target files after its own,
// files in path order and each file's targets in file order. It reads every
// file the patterns match now. A file that cannot be used keeps what it
// last listed (nothing, the first time); every such file's problem is in
// the returned error, already logged and counted. The returned config is
// always usable: an error never means "do not apply".
func (f *Files) Targets(cfg *config.Config) (*config.Config, error) {
	paths := match(cfg.TargetFiles)
	// Summed before the read: a change in between is seen by Watch.
	seen := fingerprint(paths)
	out := *cfg
	out.Targets = slices.Clip(cfg.Targets)
	taken := newPlaces()
	for i := range cfg.Targets {
		taken.add(&cfg.Targets[i], fmt.Sprintf("config file targets[%d]", i))
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	good := make(map[string]*config.TargetFile, len(paths))
	var errs []error
	for _, path := range paths {
		tf, err := config.LoadTargetFile(path, cfg.Defaults, f.getenv)
		if err == nil {
			err = taken.clash(tf)
		}
		if err != nil {
			errs = append(errs, err)
			f.readErrors.Inc()
			f.logProblem(path, err, f.good[path])
			if tf = f.good[path]; tf != nil && taken.clash(tf) != nil {
				tf = nil // its old targets clash now too: the earlier place wins
			}
		}
		if tf == nil {
			continue
		}
		good[path] = tf
		for i := range tf.Targets {
			taken.add(&tf.Targets[i], tf.Place(i))
		}
		out.Targets = append(out.Targets, tf.Targets...)
	}
	f.good = good
	if !slices.Equal(f.patterns, cfg.TargetFiles) {
		f.patterns = slices.Clone(cfg.TargetFiles)
		select {
		case f.repatterned <- struct{}{}:
		default:
		}
	}
	f.seen = seen
	f.discovered.Set(float64(len(out.Targets) - len(cfg.Targets)))
	f.readOK.Set(boolGauge(len(errs) == 0))
	return &out, errors.Join(errs...)
}

// Found is one target a target file lists.
type Found struct {
	// Name is the target's name.
	Name string
	// APIURL is its api_url, credentials redacted.
	APIURL string
	// Place is where it is written: "path:line".
	Place string
}

// Found lists the targets the target files gave at the last Targets, in
// the order Targets added them.
func (f *Files) Found() []Found {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Found
	for _, path := range slices.Sorted(maps.Keys(f.good)) {
		tf := f.good[path]
		for i, t := range tf.Targets {
			out = append(out, Found{Name: t.Name, APIURL: t.APIURL.Redacted(), Place: tf.Place(i)})
		}
	}
	return out
}

// logProblem logs each problem of a file that cannot be used, with what
// the daemon does instead.
func (f *Files) logProblem(path string, err error, kept *config.TargetFile) {
	kept0 := 0
	if kept != nil {
		kept0 = len(kept.Targets)
	}
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			f.log.Error("target file problem", zap.String("target_file", path), zap.Int("line", p.Line), zap.String("field", p.Path), zap.String("problem", p.Message))
		}
	}
	f.log.Error("target file not used; it keeps the targets it last listed", zap.String("target_file", path), zap.Int("targets_kept", kept0), zap.Error(err))
}

// changed reports whether the files the patterns match now differ from
// what the last Targets read, and the patterns' folders to watch.
func (f *Files) changed() (bool, []string) {
	f.mu.Lock()
	patterns, seen := f.patterns, f.seen
	f.mu.Unlock()
	paths := match(patterns)
	return fingerprint(paths) != seen, watchDirs(patterns, paths)
}

// match returns the files the patterns match, sorted, each once. The
// patterns were checked when the config loaded, so Glob cannot fail.
func match(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		m, _ := filepath.Glob(p)
		for _, path := range m {
			if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
				out = append(out, path)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// fingerprint sums the paths and their content: a file added, removed,
// renamed or changed changes it; one touched does not.
func fingerprint(paths []string) [sha256.Size]byte {
	h := sha256.New()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		sum := sha256.Sum256(b)
		fmt.Fprintf(h, "%s\x00%x\x00%v\x00", p, sum, err != nil)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// places records where each target name and API is defined, to refuse a
// second definition and name the first.
type places struct{ names, apis map[string]string }

func newPlaces() places {
	return places{names: map[string]string{}, apis: map[string]string{}}
}

func (p places) add(t *config.Target, place string) {
	p.names[t.Name] = place
	if t.APIURL != nil {
		p.apis[config.InstanceKey(t.APIURL)] = place
	}
}

// clash returns the file's targets that are already defined elsewhere, as
// a *config.ValidationError naming both places.
func (p places) clash(tf *config.TargetFile) error {
	var ps []config.Problem
	for i, t := range tf.Targets {
		if other, dup := p.names[t.Name]; dup {
			ps = append(ps, config.Problem{Path: fmt.Sprintf("[%d].name", i), Line: tf.Lines[i],
				Message: fmt.Sprintf("%q is already defined at %s; target names must be unique across the config and its target files", t.Name, other)})
		}
		if t.APIURL == nil {
			continue
		}
		if other, dup := p.apis[config.InstanceKey(t.APIURL)]; dup {
			ps = append(ps, config.Problem{Path: fmt.Sprintf("[%d].api_url", i), Line: tf.Lines[i],
				Message: fmt.Sprintf("%s is already watched by the target at %s; one target per instance", t.APIURL.Redacted(), other)})
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return &config.ValidationError{File: tf.Path, Source: config.SourceTargetFile, Problems: ps}
}

// watchDirs are the folders to watch: each pattern's own (when it has no
// wildcard) and each matched file's.
func watchDirs(patterns, paths []string) []string {
	var dirs []string
	for _, p := range patterns {
		if d := filepath.Dir(p); !hasMeta(d) {
			dirs = append(dirs, d)
		}
	}
	for _, p := range paths {
		dirs = append(dirs, filepath.Dir(p))
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

func hasMeta(path string) bool { return strings.ContainsAny(path, `*?[\`) }

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
