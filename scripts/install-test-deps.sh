#!/usr/bin/env bash
# Installs what the end-to-end tests need and a fresh machine lacks, from
# Debian's packages: prometheus, whose promtool lints the daemon's /metrics
# and tests deploy/prometheus' rules, and whose server runs the Grafana
# dashboard's queries against the demo; prometheus-alertmanager, two of
# which the Alertmanager sink's test clusters on loopback, and whose amtool
# checks deploy/alertmanager's routing; systemd for
# systemd-analyze, which checks the unit in deploy/systemd; and iproute2 for
# ip, with which the daemon's write-API test adds a non-loopback address
# (slim images lack it); lintian, which checks the .deb that make package
# builds, man (man-db) to render its man page, podman, which builds the
# container image, and ca-certificates, whose bundle the image carries
# (deploy/disttest); chromium, which the status page's browser test
# drives headless (internal/daemon). Runs apt only
# when something is missing; needs root (CI is root).
set -euo pipefail

need=()
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
	need+=(prometheus)
fi
if ! command -v prometheus-alertmanager >/dev/null 2>&1 || ! command -v amtool >/dev/null 2>&1; then
	need+=(prometheus-alertmanager)
fi
# systemd-analyze checks deploy/systemd's unit; it reads the file and needs
# no running systemd.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# ip lives in /usr/sbin, which a user's PATH may lack.
have_ip() { command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ]; }
have_ip || need+=(iproute2)

command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v man >/dev/null 2>&1 || need+=(man-db)
command -v podman >/dev/null 2>&1 || need+=(podman)
[ -s /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-test-deps: missing ${need[*]}; run as root or: sudo apt-get install ${need[*]}" >&2
	exit 1
fi
echo "install-test-deps: installing ${need[*]} from Debian's packages" >&2
"$(dirname "$0")/apt-install.sh" "${need[@]}"
command -v promtool >/dev/null
command -v prometheus >/dev/null
command -v prometheus-alertmanager >/dev/null
command -v amtool >/dev/null
command -v systemd-analyze >/dev/null
command -v lintian >/dev/null
command -v man >/dev/null
command -v podman >/dev/null
[ -s /etc/ssl/certs/ca-certificates.crt ]
have_ip
