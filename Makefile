# Thermo's Makefile. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/thermo?sslmode=disable
export TEST_DATABASE_URL ?= postgres://postgres:postgres@127.0.0.1:5432/thermo_test?sslmode=disable
export REDIS_URL ?= redis://127.0.0.1:6379/0
export HTTP_ADDR ?= :8080

GO ?= go
BIN := bin/thermo
GOBIN := $(shell $(GO) env GOPATH)/bin
SQLC_VERSION := v1.31.1

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z\/_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: services
services: ## Install (apt-get) and start PostgreSQL and Redis if missing
	@scripts/services.sh

.PHONY: build
build: ## Build bin/thermo
	$(GO) build -o $(BIN) ./cmd/thermo

.PHONY: run
run: services build ## Start everything: migrate, demo tenants, serve on :8080 in dev mode
	@scripts/run.sh

.PHONY: test
test: services ## Run the whole suite against real PostgreSQL and Redis
	$(GO) test -race -count=1 -timeout 12m ./...

.PHONY: test/short
test/short: services ## Run the suite without the race detector (faster)
	$(GO) test -count=1 -timeout 12m ./...

.PHONY: screenshot
screenshot: ## Refresh docs/dashboard.png with the browser test (needs chromium)
	$(GO) test -count=1 -run TestBrowser_Dashboard ./e2e/ -update-screenshot

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

.PHONY: generate
generate: ## Regenerate sqlc code from postgres/queries
	@test -x $(GOBIN)/sqlc || { echo "installing sqlc $(SQLC_VERSION) (needs cgo; takes a few minutes)"; $(GO) install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION); }
	$(GOBIN)/sqlc generate

.PHONY: verify
verify: generate lint ## Check generated code is current and the code is clean
	@git diff --exit-code -- postgres/ || { echo "generated code is stale: run make generate and commit"; exit 1; }

.PHONY: bench
bench: services build ## Run benchmarks (BENCH=ingest|batch|queries|aggregate|all, BENCH_QUICK=1 for the <5 min mode, BENCH_RUNS=3)
	@mkdir -p bin/bench
	set -o pipefail; $(GO) run ./bench -bench $(or $(BENCH),all) $(if $(BENCH_QUICK),-quick) -runs $(or $(BENCH_RUNS),3) -dir bin/bench | tee bin/bench/results.md

.PHONY: clean
clean: ## Remove build output
	rm -rf bin
