# spacetime-watch: every target works on a fresh machine that has Go, gcc and apt.

GO         ?= go
GOFLAGS    ?=
PKGS       := ./...
# FUZZTIME counts inputs, not seconds: Go 1.26's fuzzing engine can fail a
# clean run with "context deadline exceeded" when a -fuzztime duration ends
# while a worker is mid-input (a race in the engine, fixed in Go 1.27); a
# count has no deadline to race. 150,000 inputs take 10 to 15 s here.
FUZZTIME   ?= 150000x
BENCHOUT   ?= bench.txt
STATICCHECK_VERSION := v0.8.2
NFPM_VERSION := v2.48.0
# Where make build writes the binaries, completions and man page, and where
# make package writes the .deb.
BIN        ?= bin
DIST       ?= dist
# make image: the image's name (tagged $(VERSION)) and its base.
IMAGE      ?= ghcr.io/spacetime-vr/spacetime-watch
BASE       ?= scratch
DEB_MAINTAINER ?= spacetime-watch maintainers <spacetime-watch@spacetime-vr.github.io>

# The build's identity, as the Prometheus projects stamp it into
# github.com/prometheus/common/version: the release from VERSION (the top
# entry of CHANGELOG.md), the rest from git and the build machine.
# "-modified" marks a build from a tree with uncommitted changes, as the
# go command's own stamp does.
VERSION    := $(shell cat VERSION)
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -modified)
BRANCH     ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
BUILD_USER ?= $(shell id -un)@$(shell hostname)
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS    := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) \
              -X $(VERSION_PKG).Branch=$(BRANCH) -X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
              -X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

.PHONY: all build package image test test-unit test-dist test-clock test-deploy fuzz systemd-exposure crash-figures chaos bench bench-fleet lint fmt-check vet demo deps clean

all: lint test build

# manfix completes kingpin's man page: the version in .TH, and the
# one-line summary after the name that whatis and apropos read.
manfix = sed -e '1s/.*/.TH $(1) 1 "" "$(1) $(VERSION)"/' -e '/^\.SH "NAME"$$/{n;s/$$/ \\- $(2)/;}'

## build: the two static binaries into ./bin, the version stamped in; the shell completions and the man page beside them
build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...
	mkdir -p $(BIN)/completion $(BIN)/man
	$(BIN)/spacetime-watch --completion-script-bash >$(BIN)/completion/spacetime-watch.bash
	$(BIN)/spacetime-watch --completion-script-zsh >$(BIN)/completion/_spacetime-watch
	$(BIN)/spacetime-watch --help-man | $(call manfix,spacetime-watch,watch SpaceTime VR deployments) >$(BIN)/man/spacetime-watch.1
	$(BIN)/spacetime-sim --help-man | $(call manfix,spacetime-sim,a SpaceTime VR instance to break on purpose) >$(BIN)/man/spacetime-sim.1

## package: the Debian package, $(DIST)/spacetime-watch_<VERSION>_<arch>.deb (nfpm, from the Go module proxy)
# deploy/deb/nfpm.yaml names its files as staged in $(DIST)/deb: the unit
# pointing at /usr/bin, the man page and changelog gzipped as Debian wants.
package: build
	rm -rf $(DIST)/deb && mkdir -p $(DIST)/deb
	cp $(BIN)/spacetime-watch $(BIN)/spacetime-sim $(BIN)/completion/* deploy/deb/config.yaml deploy/deb/copyright deploy/deb/lintian-overrides \
		deploy/deb/postinst deploy/deb/prerm deploy/deb/postrm deploy/systemd/spacetime-watch.default deploy/systemd/spacetime-watch.socket deploy/config.example.yaml $(DIST)/deb/
	sed 's|^ExecStart=/usr/local/bin/spacetime-watch |ExecStart=/usr/bin/spacetime-watch |' deploy/systemd/spacetime-watch.service >$(DIST)/deb/spacetime-watch.service
	gzip -9n -c $(BIN)/man/spacetime-watch.1 >$(DIST)/deb/spacetime-watch.1.gz
	gzip -9n -c $(BIN)/man/spacetime-sim.1 >$(DIST)/deb/spacetime-sim.1.gz
	gzip -9n -c CHANGELOG.md >$(DIST)/deb/changelog.gz
	cd $(DIST)/deb && VERSION=$(VERSION) GOARCH=$$($(GO) env GOARCH) DEB_MAINTAINER='$(DEB_MAINTAINER)' \
		$(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION) package --config $(CURDIR)/deploy/deb/nfpm.yaml --packager deb --target ..

## image: the container image $(IMAGE):$(VERSION), built with podman from the static binary (Dockerfile)
image: build
	rm -rf $(DIST)/image && mkdir -p $(DIST)/image/empty
	cp $(BIN)/spacetime-watch /etc/ssl/certs/ca-certificates.crt $(DIST)/image/
	podman build --quiet --build-arg BASE=$(BASE) --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
		--build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) -f Dockerfile -t $(IMAGE):$(VERSION) $(DIST)/image

## deps: everything the tests need: Go modules, and Debian packages (prometheus, prometheus-alertmanager, systemd) when missing
deps:
	$(GO) mod download
	./scripts/install-test-deps.sh

## test: every test, end-to-end ones included, plus a short fuzz run of the frame decoder
test: deps fmt-check vet test-unit test-clock test-deploy test-dist fuzz systemd-exposure crash-figures

# deploy/disttest builds, installs and purges the .deb and builds the image
# (as root): it runs alone in test-dist, without -race, which it has no use for.
DIST_PKG   := ./deploy/disttest
UNIT_PKGS   = $(filter-out $(shell $(GO) list $(DIST_PKG)),$(shell $(GO) list $(PKGS)))

# SPACETIME_WATCH_E2E=1 turns a missing end-to-end tool (promtool) into a
# failure instead of a skip: make test installs it, so it must be there.
test-unit:
	SPACETIME_WATCH_E2E=1 $(GO) test -race -count=1 -timeout 8m $(UNIT_PKGS)

# The .deb and the image, as a user gets them (needs root; see deploy/disttest).
test-dist:
	SPACETIME_WATCH_E2E=1 $(GO) test -count=1 -timeout 10m $(DIST_PKG)

# The tests with fixed dates (testkit.BaseTime) again, with that date moved
# 3 years back and 3 years ahead: a test that passes only near the day it
# was written is a time bomb. Only those tests (tools/clocktests finds the
# tests that reach the base date, and runs a package whole when its TestMain
# or package variables take it): the rest have no fixed date to move.
test-clock:
	@sel=$$($(GO) run ./tools/clocktests) || exit 1; \
	for years in -3 3; do \
		echo "test-clock: base date moved $$years years"; \
		echo "$$sel" | while read -r pkg run; do \
			SPACETIME_WATCH_TEST_BASE_SHIFT_YEARS=$$years $(GO) test -count=1 -timeout 8m -run "$$run" $$pkg || exit 1; \
		done || exit 1; \
	done

# deploy/k8stest is its own Go module, so that k8s.io/api and the
# Prometheus Operator's types stay out of the daemon's dependency graph.
test-deploy:
	cd deploy/k8stest && $(GO) vet ./... && $(GO) test -count=1 -timeout 8m ./...

# The outbox crash test's figures: SIGKILL at each cut point of the send
# path, losses (must be 0) and duplicates (only after-confirm, at most 1).
crash-figures:
	@$(GO) test -count=1 -run '^TestOutboxCrashAtEveryCutPoint$$' -v ./internal/alert/ | sed -n 's/.*\(cut point .*\)/outbox crash test: \1/p'

# The unit's exposure as systemd-analyze security rates it (≤ 2.0, asserted by the test).
systemd-exposure:
	@SPACETIME_WATCH_E2E=1 $(GO) test -count=1 -run '^TestSecurityExposure$$' -v ./deploy/systemd/ | grep '^systemd exposure:'

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/spacetime/

## chaos: the daemon under random faults for about 9 minutes with the build (sims broken and restarted, fake Slack 429/5xx/timeouts, a real Alertmanager, SIGKILLs, good and bad SIGHUPs, the state corrupted once); prints its seed and figures, exits 1 on any loss (CHAOS_SEED replays a run, CHAOS_DURATION=2m shortens it; not part of make test)
chaos: build
	./scripts/install-test-deps.sh
	nice -n 10 $(GO) run ./tools/chaos --daemon=$(BIN)/spacetime-watch

## bench: benchmarks and the daemon's 60 s footprint, figures written to $(BENCHOUT) (the README quotes this file)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 $(PKGS) | tee $(BENCHOUT)
	./scripts/footprint.sh 60 | tee -a $(BENCHOUT)

## bench-fleet: the daemon watching 1, 100 and 1,000 simulated instances beside a bare reader and blackbox_exporter; figures to bench/fleet.json and BENCHMARKS.md (not part of test; under 10 minutes on 2 cores: the line under BENCHMARKS.md's table gives the last run's time)
# tools/benchfleet/install-deps.sh installs prometheus-blackbox-exporter
# when missing. BENCH_FLEET_FLAGS passes flags to the tool (e.g.
# --instances=1,100 --keep).
bench-fleet:
	./tools/benchfleet/install-deps.sh
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/bench/ ./cmd/spacetime-watch ./cmd/spacetime-sim ./tools/benchfleet ./tools/benchfleet/barereader
	$(BIN)/bench/benchfleet --bin=$(BIN)/bench --json=bench/fleet.json --markdown=BENCHMARKS.md $(BENCH_FLEET_FLAGS)

## lint: gofmt, go vet and staticcheck
lint: fmt-check vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

## demo: the daemon against an embedded simulated instance
demo:
	$(GO) run ./cmd/spacetime-watch demo

clean:
	rm -rf $(BIN) $(DIST) $(BENCHOUT)
