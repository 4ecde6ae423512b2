# Bakehouse's developer commands. `make test` is the README's test command;
# CI runs it through .ci/run with BAKEHOUSE_INTEGRATION=1 and an engine.
GO ?= go
# The first integration run bootstraps a Debian base image (about a minute)
# before baking; the timeout leaves room for a slow mirror.
TEST_TIMEOUT ?= 30m

.PHONY: test bench deps demo fuzz

# test uses the Docker engine that answers (or starts the private one when
# dockerd is installed); without one, integration tests skip unless
# BAKEHOUSE_INTEGRATION=1.
test:
	scripts/check-tracked.sh
	@host=$$(scripts/start-dockerd.sh 2>/dev/null) && export "$$host"; \
	$(GO) vet ./... && $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

# bench runs the benchmark harness (bench/main.go) against the real Packer
# and Docker engine, then the package benchmarks.
bench:
	cd bench && $(GO) run . 
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout $(TEST_TIMEOUT) ./...

# deps installs Packer, Docker, mmdebstrap and dpkg-dev and starts a private
# engine; use its DOCKER_HOST with: export "$$(scripts/start-dockerd.sh)"
deps:
	scripts/install-deps.sh
	scripts/start-dockerd.sh

# demo bakes the sample package end to end on the embedded default and
# shows the reuse (scripts/demo.sh says each step).
demo:
	scripts/demo.sh

# fuzz runs each fuzz target for FUZZTIME (one target per go test, as Go
# requires), starting from the seeds that plain `go test` runs: the
# conformance cases plus testdata/fuzz. A failing input is written to the
# package's testdata/fuzz/<target>/; commit it with the fix.
FUZZTIME ?= 60s
FUZZ_TARGETS = FuzzParsePackage:. FuzzBakeKey:. FuzzPlanRequest:./http FuzzScrape:./packer FuzzEvaluate:./pipeline
fuzz:
	@status=0; for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; pkg=$${t#*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || status=1; \
	done; exit $$status
