// Package procmetrics exports the daemon's own process metrics, the
// process_* series every Prometheus exporter has, under the names and help
// texts of client_golang's process collector, at a fraction of its cost per
// scrape.
//
// client_golang's collector reads five files on every scrape. Two of them
// cost most and say little: /proc/stat, read again on every scrape for a
// start time that never changes, and /proc/self/net/netstat, whose
// counters (process_network_receive_bytes_total and
// process_network_transmit_bytes_total) belong to the network namespace,
// not the process: under systemd on a bare-metal host they are the whole
// host's traffic. At one target they were a third of a scrape's CPU. This
// collector reads the start time once, leaves the namespace's counters to
// node_exporter, and per scrape reads /proc/self/stat and counts
// /proc/self/fd (through procfs, as client_golang does) and asks getrlimit
// for the limits. That is Linux; elsewhere New returns client_golang's
// collector.
package procmetrics

import "github.com/prometheus/client_golang/prometheus"

// New returns the collector of this process's process_* series.
func New() prometheus.Collector { return newCollector() }
