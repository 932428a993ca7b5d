# Parley — the commands a developer needs. `make help` lists them.
SHELL := /bin/bash
SERVICES := auth-service user-service chat-service api-gateway frontend
GO_PKGS = $(shell go list -m -f '{{.Dir}}/...')
GO_TEST_FLAGS ?= -race -count=1 -timeout 75m
# staticcheck is pinned here and fetched through the module proxy by go run.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

FUZZTIME ?= 10s

.PHONY: help run build offline-images test test-go test-js test-fuzz vet lint fmt clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

run: ## build and run all five services locally (SQLite under ./data)
	@./scripts/run-local.sh

build: ## build the service binaries into ./bin
	@mkdir -p bin
	@for s in $(SERVICES); do (cd $$s && CGO_ENABLED=0 go build -trimpath -o ../bin/$$s .) || exit 1; done
	@echo "binaries in ./bin"

offline-images: ## base images for `docker-compose up --build` without a registry (stand-ins from local Go)
	@./scripts/offline-images.sh

test: vet lint test-go test-js test-fuzz ## run every test (vet, staticcheck, Go with -race, JavaScript, browser, containers, fuzzing)

vet: ## go vet every module
	go vet $(GO_PKGS)

lint: ## gofmt and staticcheck every module
	@unformatted=$$(gofmt -l $(patsubst %/...,%,$(GO_PKGS))); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go run $(STATICCHECK) $(GO_PKGS)

test-go: ## go test -race every module of go.work
	go test $(GO_TEST_FLAGS) $(GO_PKGS)

test-js: ## the SPA's pure-logic tests
	node --test frontend/jstest/

test-fuzz: ## run every Go fuzz target for FUZZTIME (10s) each
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

fmt: ## gofmt every module
	gofmt -w $(patsubst %/...,%,$(GO_PKGS))

clean: ## remove binaries and local data
	rm -rf bin data test-output
