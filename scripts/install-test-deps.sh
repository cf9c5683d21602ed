#!/usr/bin/env bash
# Installs what the end-to-end tests need and a fresh machine lacks, from
# Debian's packages: promtool (package prometheus), which lints the daemon's
# /metrics. Runs apt only when something is missing; needs root (CI is root).
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-test-deps: missing ${need[*]}; run as root or: sudo apt-get install ${need[*]}" >&2
	exit 1
fi
echo "install-test-deps: installing ${need[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package starts nothing here, but make sure no stray server holds ports.
command -v promtool >/dev/null
