# Dispersy in Go: protocol core, simulator, real peer.
# `make sim` runs the default scenario; `make test` is what CI runs.

GO          ?= go
GOBIN       := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
SCENARIO    ?= scenarios/walker-10k.yaml
SEED        ?=
FUZZTIME    ?= 30s
# packages cheap enough for the race detector on every run (realnet/sqlstore
# is single-goroutine code whose SQLite engine is slow under the detector)
RACE_PKGS   := ./protocol/... ./natmodels/... ./realnet/ ./scenarios/... ./internal/...

.PHONY: all build test vet staticcheck unit race sim bench bench-peer fuzz determinism results results-100k clean

all: build

build:
	$(GO) build ./...

## test: vet, staticcheck, the architecture (spine) check and all tests, the race detector where affordable
test: vet staticcheck unit race

vet:
	$(GO) vet ./...

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

unit:
	$(GO) test -count=1 ./...

race:
	$(GO) test -count=1 -race $(RACE_PKGS)

## sim: run the default scenario (SCENARIO=..., SEED=...)
sim:
	$(GO) run ./cmd/sim run $(SCENARIO) $(if $(SEED),--seed $(SEED))

## bench: Go benchmarks (event queue, codec, NAT tables, crypto)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./protocol/... ./simnet/... ./natmodels/...

## bench-peer: the peer's benchmarks (publish latency and rate, loopback sync, the SQLite store) into results/peer-bench.txt
bench-peer:
	$(GO) test -run '^$$' -bench 'PublishDurable|PublishConcurrent' -benchtime 1000x -count 5 ./realnet/ > results/peer-bench.txt
	$(GO) test -run '^$$' -bench 'Sync$$' -benchtime 2000x -count 5 ./realnet/ >> results/peer-bench.txt
	$(GO) test -run '^$$' -bench . -benchtime 2000x -count 3 ./realnet/sqlstore/ >> results/peer-bench.txt

## fuzz: every fuzz target for FUZZTIME each
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./protocol/wire/
	$(GO) test -run '^$$' -fuzz '^FuzzHandlePacket$$' -fuzztime $(FUZZTIME) ./protocol/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./scenarios/
	$(GO) test -run '^$$' -fuzz '^FuzzParsePublishRequest$$' -fuzztime $(FUZZTIME) ./realnet/
	$(GO) test -run '^$$' -fuzz '^FuzzParseMessagesQuery$$' -fuzztime $(FUZZTIME) ./realnet/
	$(GO) test -run '^$$' -fuzz '^FuzzParsePermissionRequest$$' -fuzztime $(FUZZTIME) ./realnet/
	$(GO) test -run '^$$' -fuzz '^FuzzParseUndoRequest$$' -fuzztime $(FUZZTIME) ./realnet/
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) ./cmd/peer/

## determinism: the same scenario and seed twice, under GOMAXPROCS=1 and 2, must give one trace hash
determinism:
	GOMAXPROCS=1 $(GO) run ./cmd/sim run scenarios/walker-small.yaml --quiet --out /tmp/det-1 > /dev/null
	GOMAXPROCS=2 $(GO) run ./cmd/sim run scenarios/walker-small.yaml --quiet --out /tmp/det-2 > /dev/null
	@h1=$$(grep trace_hash /tmp/det-1/summary.json); h2=$$(grep trace_hash /tmp/det-2/summary.json); \
	  echo "$$h1"; echo "$$h2"; test "$$h1" = "$$h2"

## results: regenerate the committed figures in results/ (minutes; results-100k: the 100,000-node runs)
results:
	$(GO) run ./cmd/sim run scenarios/walker-10k.yaml --quiet --out results/walker-10k
	$(GO) run ./cmd/sim run scenarios/puncture-matrix.yaml --quiet --out results/puncture-matrix
	$(GO) run ./cmd/sim run scenarios/puncture-matrix-eager.yaml --quiet --out results/puncture-matrix-eager
	for s in sync-1k sync-1k-dispersy sync-1k-noskip sync-1k-100 sync-idle-1k sync-idle-1k-dispersy sync-idle-1k-noskip sync-10k sync-10k-mix sync-10k-mix-dispersy permissions-2k permissions-10k; do \
		$(GO) run ./cmd/sim run scenarios/$$s.yaml --quiet --out results/$$s || exit 1; done
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./protocol/... ./simnet/... ./natmodels/... > results/bench.txt

results-100k:
	$(GO) run ./cmd/sim run scenarios/walker-100k-fast.yaml --quiet --out results/walker-100k-fast
	$(GO) run ./cmd/sim run scenarios/walker-100k-ed25519.yaml --quiet --out results/walker-100k-ed25519
	$(GO) run ./cmd/sim run scenarios/sync-100k-one.yaml --quiet --out results/sync-100k-one
	$(GO) run ./cmd/sim run scenarios/sync-100k.yaml --quiet --out results/sync-100k

clean:
	rm -rf results/runs
