# Dispersy in Go: protocol core, simulator, real peer.
# `make sim` runs the default scenario; `make test` is what CI runs.

GO          ?= go
GOBIN       := $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
SCENARIO    ?= scenarios/sim-10k.yaml
SEED        ?=
FUZZTIME    ?= 30s
# packages cheap enough for the race detector on every run (realnet/sqlstore
# is single-goroutine code whose SQLite engine is slow under the detector)
RACE_PKGS   := ./protocol/... ./natmodels/... ./realnet/ ./scenarios/... ./internal/...

.PHONY: all build test vet staticcheck unit race tools sim bench bench-peer bench-engine fuzz determinism results results-100k results-emulation results-emulation-scale emul-debug-tools clean

all: build

build:
	$(GO) build ./...

## test: vet, staticcheck, the architecture (spine) check and all tests, the race detector where affordable
test: vet staticcheck tools unit race

## tools: what tests use besides Go. tshark (the pcap test opens a capture with it) is installed with
## apt-get only when it is missing and apt-get can run; otherwise that one test skips and says why.
tools:
	@command -v tshark >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing tshark with apt-get"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends tshark >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends tshark >/dev/null 2>&1; } || \
	    echo "apt-get could not install tshark: TestPcapTshark will skip"; \
	  else echo "no apt-get (or not root): tshark not installed, TestPcapTshark will skip"; fi; }

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

## sim: run the default scenario (SCENARIO=..., SEED=...): 10,000 peers behind the NAT mix, 1 % loss,
## Weibull churn and 300 messages; prints the walker, puncture and sync tables and the plots' paths
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
	$(GO) test -run '^$$' -fuzz '^FuzzParseTrace$$' -fuzztime $(FUZZTIME) ./scenarios/
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

## results: regenerate the figures in results/ and the generated blocks of results/README.md (minutes);
## results-100k: the 100,000- and 1,000,000-node runs (an hour or more)
SIM := $(GO) run ./cmd/sim
results:
	$(SIM) run scenarios/sim-10k.yaml --quiet --out results/sim-10k
	$(SIM) run scenarios/partition-10k.yaml --quiet --out results/partition-10k
	$(SIM) run scenarios/walker-10k.yaml --quiet --out results/walker-10k
	$(SIM) run scenarios/puncture-matrix.yaml --quiet --out results/puncture-matrix
	$(SIM) run scenarios/puncture-matrix-eager.yaml --quiet --out results/puncture-matrix-eager
	for s in sync-1k sync-1k-dispersy sync-1k-noskip sync-1k-100 sync-idle-1k sync-idle-1k-dispersy sync-idle-1k-noskip sync-10k sync-10k-mix sync-10k-mix-dispersy permissions-2k permissions-10k; do \
		$(SIM) run scenarios/$$s.yaml --quiet --out results/$$s || exit 1; done
	$(SIM) sweep scenarios/sweep-sync.yaml --set nodes=1000,3000,10000 --seeds 1-5 --jobs 1 --quiet \
		--metric sync.convergence.t99,sync.convergence.t100,sync.coverage,wall_seconds --out results/sweeps/sync-sizes
	rm -rf results/sweeps/sync-sizes/runs
	mkdir -p results/bench-engine
	for n in 10000 100000; do $(SIM) bench-engine --nodes $$n --duration 20s --json > results/bench-engine/hold-$$n.json || exit 1; done
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./protocol/... ./simnet/... ./natmodels/... > results/bench.txt
	$(SIM) results

results-100k:
	$(SIM) run scenarios/churn-100k.yaml --quiet --out results/churn-100k
	$(SIM) run scenarios/walker-100k-fast.yaml --quiet --out results/walker-100k-fast
	$(SIM) run scenarios/walker-100k-ed25519.yaml --quiet --out results/walker-100k-ed25519
	$(SIM) run scenarios/sync-100k-one.yaml --quiet --out results/sync-100k-one
	$(SIM) run scenarios/sync-100k.yaml --quiet --out results/sync-100k
	$(SIM) run scenarios/walker-100k-1h.yaml --quiet --no-plots --out results/walker-100k-1h
	GOMEMLIMIT=16GiB $(SIM) run scenarios/walker-1m.yaml --quiet --no-plots --out results/walker-1m
	$(SIM) bench-engine --nodes 1000000 --duration 20s --json > results/bench-engine/hold-1000000.json
	$(SIM) results

## results-emulation: the 30-peer scenario on the simulator and on the netns testbed (root; 10 minutes of
## wall time), side by side in results/emulation.md and results/emulation.json
EMUL_SCENARIO ?= scenarios/emulation/emulation-30.yaml
EMUL_OUT      ?= results/emulation-30
results-emulation:
	$(GO) build -o $(EMUL_OUT)/peer ./cmd/peer
	$(GO) build -o $(EMUL_OUT)/sim ./cmd/sim
	$(EMUL_OUT)/sim run $(EMUL_SCENARIO) --quiet --out $(EMUL_OUT)/sim-run
	for s in 1 2 3 4 5 6 7 8 9 10; do \
		$(EMUL_OUT)/sim run $(EMUL_SCENARIO) --seed $$s --quiet --out $(EMUL_OUT)/sim-seeds/$$s > /dev/null || exit 1; done
	$(EMUL_OUT)/sim run $(EMUL_SCENARIO) --backend netns --peer-bin $(EMUL_OUT)/peer --out $(EMUL_OUT)/netns
	$(GO) run ./realnet/emul/cmd/emulcompare --json results/emulation.json $(EMUL_OUT)/sim-run/summary.json \
		$(EMUL_OUT)/netns/summary.json $(EMUL_OUT)/sim-seeds/*/summary.json > results/emulation.md
	rm -rf $(EMUL_OUT)/peer $(EMUL_OUT)/sim $(EMUL_OUT)/netns/peers $(EMUL_OUT)/sim-seeds
	cat results/emulation.md

## results-emulation-scale: emulations of EMUL_SCALE peers (root; about 4 minutes each), what each
## costs the machine in results/emulation-scale.md (a size that fails is reported and skipped)
EMUL_SCALE ?= 100 250 500 1000
results-emulation-scale:
	$(GO) build -o results/emulation-scale/peer ./cmd/peer
	for n in $(EMUL_SCALE); do \
		sed -e "s/^nodes: .*/nodes: $$n/" -e "s/^name: .*/name: emulation-scale-$$n/" scenarios/emulation/emulation-scale.yaml \
			> results/emulation-scale/scale-$$n.yaml; \
		$(GO) run ./cmd/sim run results/emulation-scale/scale-$$n.yaml --backend netns --quiet \
			--peer-bin results/emulation-scale/peer --out results/emulation-scale/$$n > /dev/null \
			|| echo "emulation of $$n peers failed"; \
		rm -rf results/emulation-scale/$$n/peers results/emulation-scale/scale-$$n.yaml; \
	done
	rm -f results/emulation-scale/peer
	$(GO) run ./realnet/emul/cmd/emulcompare --scale $$(ls -d results/emulation-scale/*/) > results/emulation-scale.md
	cat results/emulation-scale.md

## emul-debug-tools: nft and conntrack, to look inside an emulation's namespaces by hand
## (`ip netns exec NS nft list ruleset`); the testbed itself needs neither (it speaks netlink)
emul-debug-tools:
	@command -v nft >/dev/null && command -v conntrack >/dev/null || \
		{ timeout 120 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 300 \
		  apt-get install -y -q --no-install-recommends nftables conntrack; }

clean:
	rm -rf results/runs
