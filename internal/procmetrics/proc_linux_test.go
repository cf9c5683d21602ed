//go:build linux

package procmetrics

import (
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
