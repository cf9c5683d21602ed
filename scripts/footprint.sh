#!/usr/bin/env bash
# Measures the daemon's memory footprint: spacetime-watch run watching one
# simulated target (spacetime-sim, checklist profile, default telemetry
# rates) for DURATION seconds (default 60), then prints its peak RSS
# (VmHWM) and current RSS (VmRSS) from /proc. `make bench` appends this to
# bench.txt; the README quotes that file.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-60}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/" ./cmd/spacetime-watch ./cmd/spacetime-sim
"$work/spacetime-sim" --api.listen-address=127.0.0.1:0 --telemetry.listen-address=127.0.0.1:0 \
	--control.listen-address=127.0.0.1:0 >"$work/sim.json" 2>/dev/null &
for _ in $(seq 50); do [ -s "$work/sim.json" ] && break; sleep 0.1; done
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$work/sim.json"; }
printf '%s\n' "$(field token)" >"$work/token"
cat >"$work/config.yaml" <<YAML
targets:
  - name: footprint
    api_url: http://$(field api)
    telemetry_urls: [ws://$(field telemetry)/]
    token_file: $work/token
YAML
"$work/spacetime-watch" run --config.file="$work/config.yaml" --state.dir="$work/state" \
	--web.listen-address=127.0.0.1:0 --log.level=warn 2>"$work/daemon.log" &
pid=$!
sleep "$duration"
awk -v d="$duration" '/VmHWM/ {hwm=$2} /VmRSS/ {rss=$2}
	END {printf "footprint: spacetime-watch run, 1 simulated target, %ss: peak RSS %.1f MiB, RSS %.1f MiB\n", d, hwm/1024, rss/1024}' /proc/$pid/status
