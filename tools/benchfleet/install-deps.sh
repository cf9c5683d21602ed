#!/usr/bin/env bash
# Installs what make bench-fleet needs and a fresh machine lacks, from
# Debian's packages: prometheus-blackbox-exporter, the HTTP prober the
# benchmark runs beside the daemon's scheduled checks (on a port of its
# own; the package's service is not started). Runs apt only when it is
# missing; needs root then.
set -euo pipefail

if command -v prometheus-blackbox-exporter >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-fleet: prometheus-blackbox-exporter is missing; run as root or: sudo apt-get install prometheus-blackbox-exporter" >&2
	exit 1
fi
echo "bench-fleet: installing prometheus-blackbox-exporter from Debian's packages" >&2
"$(dirname "$0")/../../scripts/apt-install.sh" prometheus-blackbox-exporter
command -v prometheus-blackbox-exporter >/dev/null
