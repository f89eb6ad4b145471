SHELL := /bin/bash
# rxray — make help lists the targets.
SWIFT ?= swift
CAPTURE ?= Fixtures/demo/capture.pcapng
HOST ?= Fixtures/demo/host
JOBS ?= 2

.PHONY: help build release run test bench fixtures fixtures-captures lint clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 22

build: ## Debug build of the rxray binary (.build/debug/rxray).
	$(SWIFT) build -j $(JOBS)

release: ## Release build (.build/release/rxray).
	$(SWIFT) build -c release -j $(JOBS)

run: release ## Analyse the bundled demo capture (Fixtures/demo) against its host snapshot: every frame's trace, then the summary.
	.build/release/rxray analyze $(CAPTURE) $(if $(wildcard $(HOST)),--host $(HOST))

test: ## Run every test (unit, capture files, CLI, recorded kernel fixtures). Root-only tests skip with a reason elsewhere.
	$(SWIFT) build -j $(JOBS)
	@# For ReleaseAllocationTests: the release binary, the benchmark generator, the allocation counter.
	$(SWIFT) build -c release -j $(JOBS) --product rxray
	$(SWIFT) build -c release -j $(JOBS) --package-path Benchmarks/Generator --scratch-path .build/benchgen
	$(CC) -O2 -Wall -shared -fPIC -o .build/malloccount.so Benchmarks/c/malloccount.c
	RXRAY_RELEASE_BINARY=$(CURDIR)/.build/release/rxray RXRAY_BENCHGEN=$(CURDIR)/.build/benchgen/release/rxray-benchgen \
	  RXRAY_MALLOCCOUNT=$(CURDIR)/.build/malloccount.so $(SWIFT) test -j $(JOBS) 2>&1 | tee .build/test.log; exit $${PIPESTATUS[0]}

bench: ## Release build in .build-bench, then frames/s, peak RSS and allocations/frame vs a bare libpcap loop and tshark (BENCH_LARGE=1: 10M frames).
	bash Benchmarks/run.sh

fixtures: ## Re-record every kernel fixture (root: network namespaces, tracefs) and the capture-file fixtures.
	bash Fixtures/captures/make.sh
	bash Fixtures/record-all.sh

fixtures-captures: ## Re-make only the small capture files written by tcpdump/tshark/text2pcap.
	bash Fixtures/captures/make.sh

lint: ## Check formatting and that no generated/build files are tracked.
	@! git ls-files | grep -E '(^|/)\.build|Package\.resolved$$' || (echo "build output is tracked" && exit 1)
	@if command -v swift-format >/dev/null; then swift-format lint -r Sources Tests; else echo "swift-format not installed: skipped the format check"; fi

clean: ## Remove build output.
	rm -rf .build
