//go:build linux

package procmetrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

func gather(t testing.TB, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	return byName
}

func value(mf *dto.MetricFamily) float64 {
	m := mf.GetMetric()[0]
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// The series are client_golang's, names, help and types alike, but for the
// network namespace's counters; the figures that do not move agree.
func TestSeriesMatchClientGolang(t *testing.T) {
	theirs := gather(t, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{ReportErrors: true}))
	ours := gather(t, New())

	for name, want := range theirs {
		if strings.HasPrefix(name, "process_network_") {
			if _, ok := ours[name]; ok {
				t.Errorf("%s is exported; it is the network namespace's, not the process's", name)
			}
			continue
		}
		got, ok := ours[name]
		if !ok {
			t.Errorf("%s is missing", name)
			continue
		}
		if got.GetHelp() != want.GetHelp() || got.GetType() != want.GetType() {
			t.Errorf("%s: help %q, type %s; client_golang's: %q, %s", name, got.GetHelp(), got.GetType(), want.GetHelp(), want.GetType())
		}
	}
	if len(ours) != 7 {
		t.Errorf("%d families, want 7: %v", len(ours), ours)
	}
	for _, name := range []string{"process_start_time_seconds", "process_max_fds", "process_virtual_memory_max_bytes"} {
		if got, want := value(ours[name]), value(theirs[name]); got != want {
			t.Errorf("%s = %v, client_golang's %v", name, got, want)
		}
	}
	// Gathered after theirs: the CPU time cannot have gone back.
	if got, want := value(ours["process_cpu_seconds_total"]), value(theirs["process_cpu_seconds_total"]); got < want {
		t.Errorf("process_cpu_seconds_total = %v, below client_golang's earlier %v", got, want)
	}
	for _, name := range []string{"process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds"} {
		got, want := value(ours[name]), value(theirs[name])
		if got <= 0 || got < want/2 || got > want*2 {
			t.Errorf("%s = %v, client_golang's %v", name, got, want)
		}
	}
}

func TestCountsEveryDescriptor(t *testing.T) {
	c := newProcCollector()
	before, err := c.countFDs()
	if err != nil {
		t.Fatal(err)
	}
	// More than one getdents call's worth, so the loop over records and
	// calls is exercised.
	const opened = 300
	dir := t.TempDir()
	for i := range opened {
		f, err := os.Create(filepath.Join(dir, strings.Repeat("f", i%40+1)+string(rune('a'+i%26))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
	}
	after, err := c.countFDs()
	if err != nil {
		t.Fatal(err)
	}
	if after-before != opened {
		t.Errorf("counted %d descriptors, then %d after opening %d", before, after, opened)
	}
}

func TestParseStat(t *testing.T) {
	// proc(5): pid (comm) state ppid ... utime(14) stime(15) ... vsize(23) rss(24) ...
	line := func(comm string) string {
		f := make([]string, 52)
		for i := range f {
			f[i] = "0"
		}
		f[0], f[1], f[2] = "42", "("+comm+")", "S"
		f[13], f[14], f[22], f[23] = "250", "50", "123456", "789"
		return strings.Join(f, " ") + "\n"
	}
	for _, comm := range []string{"spacetime-watch", "a) (b c", ")", "x y z"} {
		s, err := parseStat([]byte(line(comm)))
		if err != nil {
			t.Fatalf("comm %q: %v", comm, err)
		}
		if want := (stat{utime: 250, stime: 50, vsize: 123456, rss: 789}); s != want {
			t.Errorf("comm %q: %+v, want %+v", comm, s, want)
		}
	}
	for name, bad := range map[string]string{
		"no comm":      "42 spacetime-watch S 1",
		"truncated":    "42 (w) S 1 2 3 4 5 6 7 8 9 10 11 12",
		"not a number": strings.Replace(line("w"), " 250 ", " 2x0 ", 1),
	} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("%s: parsed %q", name, bad)
		} else if !strings.Contains(err.Error(), "/proc/self/stat") {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
}

// BenchmarkCollect gathers this collector and client_golang's, each from a
// registry of its own: the cost a scrape pays for the process series.
func BenchmarkCollect(b *testing.B) {
	for name, c := range map[string]prometheus.Collector{
		"procmetrics":   New(),
		"client_golang": collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		b.Run(name, func(b *testing.B) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(c)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
