package daemon

import (
	"bufio"
	"compress/gzip"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

// exposition is what /metrics serves: the per-target families, which write
// their text themselves (monitor.TextFamily), beside a registry of every
// other collector, gathered and encoded by client_golang. At 1,000 targets
// the per-target families are up to 51,000 series, and gathering them through a
// registry was most of a scrape's CPU and memory (see monitor's
// metrics_text.go).
//
// Every collector is also registered with the daemon's Registry
// (Options.Registry), which so holds everything /metrics shows: what the
// tests and any embedding program gather, and what checks every
// collector's descriptors when it is registered.
//
// The other collectors are gathered through one collector that runs them
// in turn (inTurn): a Registry gathers each registered collector on a
// goroutine of its own, yielding the processor for every one it starts,
// and with a dozen collectors that was a fifth of a small scrape's CPU.
// In turn, a slow collector adds its whole time to the scrape's; none of
// them waits on more than a file: the outbox queue's reads the state
// database, the process's reads /proc.
type exposition struct {
	all    *prometheus.Registry // every collector
	served *prometheus.Registry // inTurn: every collector but the text families

	mu     sync.Mutex
	text   []monitor.TextFamily
	others []prometheus.Collector
}

func newExposition(all *prometheus.Registry) *exposition {
	e := &exposition{all: all, served: prometheus.NewRegistry()}
	e.served.MustRegister(inTurn{e})
	return e
}

// inTurn collects the exposition's other collectors one after another, on
// the goroutine the Registry gives it. It describes nothing, which makes
// it an unchecked collector: the daemon's Registry checked each one's
// descriptors when it was registered, and Gather still checks every
// metric against its family.
type inTurn struct{ e *exposition }

// Describe sends nothing: see inTurn.
func (inTurn) Describe(chan<- *prometheus.Desc) {}

// Collect runs every collector's Collect in turn.
func (c inTurn) Collect(ch chan<- prometheus.Metric) {
	c.e.mu.Lock()
	others := slices.Clone(c.e.others)
	c.e.mu.Unlock()
	for _, o := range others {
		o.Collect(ch)
	}
}

var _ prometheus.Registerer = (*exposition)(nil)

// Register registers c with the daemon's Registry, and for /metrics.
func (e *exposition) Register(c prometheus.Collector) error {
	if err := e.all.Register(c); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if f, ok := c.(monitor.TextFamily); ok {
		e.text = append(e.text, f)
	} else {
		e.others = append(e.others, c)
	}
	return nil
}

// MustRegister registers every collector, and panics on the first error.
func (e *exposition) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := e.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister unregisters c from the daemon's Registry and /metrics. As
// the Registry does, it finds the collector by its descriptors, not by
// identity: an equal collector unregisters the one registered, and an
// unchecked collector (one that describes nothing) cannot be unregistered.
func (e *exposition) Unregister(c prometheus.Collector) bool {
	key := descKey(c)
	if key == "" {
		return false
	}
	e.mu.Lock()
	e.text = slices.DeleteFunc(e.text, func(f monitor.TextFamily) bool { return descKey(f) == key })
	e.others = slices.DeleteFunc(e.others, func(o prometheus.Collector) bool { return descKey(o) == key })
	e.mu.Unlock()
	return e.all.Unregister(c)
}

// descKey identifies a collector by the descriptors it describes, sorted;
// "" for an unchecked collector. Unregistering is rare (a reload, a
// registration rolled back), so describing every collector then is cheap.
func descKey(c prometheus.Collector) string {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	var descs []string
	for d := range ch {
		descs = append(descs, d.String())
	}
	slices.Sort(descs)
	return strings.Join(descs, "\n")
}

// textFormat is the one format /metrics speaks: the text format 0.0.4,
// which every Prometheus reads.
var textFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

// gzipWriters keeps gzip writers (about 2 MB each) between scrapes.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	return w
}}

// handler serves /metrics: the families of both parts, sorted by name, in
// the text format, gzipped when the client accepts it and the body is
// longer than gzipAbove. A collector that
// fails is logged and left out, as promhttp's ContinueOnError does.
func (e *exposition) handler(log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mfs, err := e.served.Gather()
		if err != nil {
			log.Warn("collecting metrics", zap.Error(err))
		}
		e.mu.Lock()
		text := slices.Clone(e.text)
		e.mu.Unlock()
		slices.SortFunc(text, func(a, b monitor.TextFamily) int { return strings.Compare(a.FamilyName(), b.FamilyName()) })

		w.Header().Set("Content-Type", string(textFormat))
		out := &lazyGzip{w: w, gzip: acceptsGzip(r)}
		defer out.close()
		bw := bodyBuffers.Get().(*bufio.Writer)
		bw.Reset(out)
		defer func() {
			bw.Reset(io.Discard) // the pool must not keep the response alive
			bodyBuffers.Put(bw)
		}()
		if err := writeFamilies(bw, mfs, text); err != nil {
			log.Debug("writing /metrics", zap.Error(err)) // the client went away
			return
		}
		out.last = true // what the buffer holds is the rest of the body
		if err := bw.Flush(); err != nil {
			log.Debug("writing /metrics", zap.Error(err))
		}
	})
}

// gzipAbove is the size of the buffer in front of the response: a body
// that fits in it goes out in one write, uncompressed, since a gzip writer
// (2 MB or so of tables) costs more than the bytes it saves; a longer one
// is gzipped, when the client accepts it.
const gzipAbove = 32 << 10

// bodyBuffers keeps the buffers in front of /metrics' responses between
// scrapes: one of gzipAbove bytes was a quarter of what a small scrape
// allocated.
var bodyBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, gzipAbove) }}

// lazyGzip is /metrics' response body: uncompressed when the whole body
// comes in the final flush of the buffer in front of it, else gzipped if
// the client accepts it.
type lazyGzip struct {
	w    http.ResponseWriter
	gzip bool // the client accepts gzip
	last bool // the next write is the buffer's final flush
	gz   *gzip.Writer
}

func (l *lazyGzip) Write(p []byte) (int, error) {
	if l.gz == nil {
		if !l.gzip || l.last {
			l.gzip = false // once raw, raw to the end
			return l.w.Write(p)
		}
		l.w.Header().Set("Content-Encoding", "gzip")
		l.gz = gzipWriters.Get().(*gzip.Writer)
		l.gz.Reset(l.w)
	}
	return l.gz.Write(p)
}

// close ends the gzip stream, if one began, and returns its writer.
func (l *lazyGzip) close() {
	if l.gz != nil {
		_ = l.gz.Close()
		l.gz.Reset(io.Discard) // the pool must not keep the response alive
		gzipWriters.Put(l.gz)
		l.gz = nil
	}
}

// writeFamilies writes both lists, each sorted by name, merged in name order.
func writeFamilies(w *bufio.Writer, mfs []*dto.MetricFamily, text []monitor.TextFamily) error {
	enc := expfmt.NewEncoder(w, textFormat)
	for len(mfs) > 0 || len(text) > 0 {
		if len(text) == 0 || (len(mfs) > 0 && mfs[0].GetName() < text[0].FamilyName()) {
			if err := enc.Encode(mfs[0]); err != nil {
				return err
			}
			mfs = mfs[1:]
			continue
		}
		if err := text[0].WriteText(w); err != nil {
			return err
		}
		text = text[1:]
	}
	return nil
}

// acceptsGzip reports whether the request's Accept-Encoding gives gzip a
// weight above zero: its own entry's, or else the * entry's (RFC 9110,
// 12.5.3). A weight that does not parse counts as 1.
func acceptsGzip(r *http.Request) bool {
	star := -1.0 // no * entry
	for enc := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(enc), ";")
		name = strings.TrimSpace(name)
		q := 1.0
		if v, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		switch {
		case strings.EqualFold(name, "gzip"):
			return q > 0
		case name == "*":
			star = q
		}
	}
	return star > 0
}
