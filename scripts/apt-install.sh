#!/usr/bin/env bash
# Installs the Debian packages named as arguments, their services kept from
# starting: the tests and benchmarks run their own instances on their own
# ports (a system Alertmanager would hold :9093 and :9094). Needs root.
# scripts/install-test-deps.sh and tools/benchfleet/install-deps.sh decide
# what is missing; this does the installing.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: apt-install.sh PACKAGE..." >&2; exit 3; }
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d exit 101 tells invoke-rc.d "not now" (a container usually has
# one already; keep it if so).
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=1
fi
cleanup() { if [ "$own_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@" >/dev/null
# Under systemd, a policy that allowed starts may have let the packages we
# just installed start their services, and they are enabled for the next
# boot: stop and disable them (only those).
if [ -d /run/systemd/system ]; then
	for pkg in "$@"; do
		systemctl disable --now "$pkg.service" >/dev/null 2>&1 || true
	done
fi
