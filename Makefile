# shop: the two commands are `make run` and `make test` (see README.md).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO           ?= go
GATEWAY_PORT ?= 4566
ENDPOINT     := http://127.0.0.1:$(GATEWAY_PORT)
STACK        := localstack/ministack.sh
DEPLOY       := $(GO) run ./localstack/deploy -endpoint $(ENDPOINT)
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# 13 minutes: infra/apply_test.go keeps 3 of them for destroying its stack,
# and under the full run's load its apply alone takes up to 5.
GOTEST       := $(GO) test -count=1 -timeout 13m
KEYTOOL      := $(GO) run ./infra/keytool -endpoint $(ENDPOINT)
ISSUERS      ?=
PRIVILEGE_REPORT := $(CURDIR)/.local/least-privilege-$(GATEWAY_PORT).txt
TERRAFORM_REPORT := $(CURDIR)/.local/terraform-$(GATEWAY_PORT).txt
EVENTS_REPORT := $(CURDIR)/.local/events-$(GATEWAY_PORT).txt
OBSERVABILITY_REPORT := $(CURDIR)/.local/observability-$(GATEWAY_PORT).txt
FUZZ_REPORT  := $(CURDIR)/.local/fuzz-$(GATEWAY_PORT).txt
CHAOS_TEST_REPORT := $(CURDIR)/.local/chaos-test-$(GATEWAY_PORT).txt
# Orders of make test's chaos run (tests/chaos TestChaos, on an emulator of
# its own beside the other packages); make chaos runs N (500).
TEST_CHAOS_N ?= 100
TERRAFORM    ?= terraform
TFLINT       := $(CURDIR)/bin/tflint
TFLINT_VERSION := v0.64.0
TF_MIRROR    := /opt/tf-plugins
TEST_PARALLEL ?= 8
# Step Functions Wait and Retry intervals in `make test`'s emulators, as a
# fraction of real time (MiniStack's SFN_WAIT_SCALE): the state machines
# keep their production backoff, and a test waits a fifth of it. Not less:
# a compensation's retries must still outlast the payment provider's open
# breaker (10 s), as they do on AWS, or the saga's tests of an unavailable
# provider end in CompensationFailed. `make run` leaves it unset (real
# time). An emulator `make test` reuses keeps its own.
TEST_SFN_WAIT_SCALE ?= 0.2
# The npm package that validates Amazon States Language offline
# (functions/orders/saga_test.go), installed into .local/npm once.
ASL_VALIDATOR_VERSION := 4.0.0
ASL_VALIDATOR := $(CURDIR)/.local/npm/node_modules/.bin/asl-validator
# schemathesis (PyPI), installed into .venv (beside ministack) once; the
# end-to-end package runs it against the stack's OpenAPI document
# (tests/openapi_test.go TestSchemathesis).
SCHEMATHESIS_VERSION := 4.32.5
SCHEMATHESIS := $(CURDIR)/.venv/bin/st
SCOPES       ?=
# Seconds of `go test -fuzz` per Fuzz target in `make fuzz` and `make test`.
FUZZTIME     ?= 3s
export GATEWAY_PORT

.PHONY: help run stop deploy test test-unit chaos fuzz build build-aws generate lint fmt bench token rotate-keys retire-key replay trace

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: ## start MiniStack on 127.0.0.1:$(GATEWAY_PORT), deploy every function, print the API URL (leaves it running)
	@$(STACK) start
	@$(DEPLOY)

stop: ## stop the MiniStack that `make run` started
	@$(STACK) stop

deploy: ## (re)deploy to a running local stack; unchanged resources are left alone
	@$(DEPLOY)

# make test owns the emulator only if it started it: `ensure` says which on
# its last line, and the trap stops it on every exit path, failures included.
# (Its output is captured and echoed, not tee'd to /dev/stderr: reopening
# that truncates a log file that stdout and stderr both go to, such as CI's.)
# go vet and the compilation of every test binary run while the emulator
# starts and the deployer deploys: neither needs the other. Then `make fuzz`
# (every Fuzz target for FUZZTIME, one fuzzing worker) runs beside the test
# packages rather than before them, which would delay them by its two
# minutes; the recipe waits for it whatever the tests did, so it never
# outlives the run, and a failing target fails the run, its output printed.
# The end-to-end package ends by checking every AWS call the functions made
# against their roles' policies (tests/main_test.go); go test hides a passing
# package's output, so the report goes to a file, printed at the end (and a
# missing report means the check never ran, which fails the run).
# Then it scans every function's log group for the secrets the run used and
# checks the EMF metric lines against the specification
# (tests/observability_test.go): its report is printed the same way. The same
# holds for infra/apply_test.go, which applies Terraform under a prefix of
# its own to an emulator of its own (SHOP_TERRAFORM_OWN_EMULATOR: the
# provider cannot survive a create whose response the loaded shared emulator
# lost), deploys the local deployer's stack beside it, runs the end-to-end
# suite against the Terraform stack, diffs the two, wants an empty plan and
# destroys it: its one paragraph (or why it skipped) is printed last, and a
# missing one fails the run. It reuses the host zips the deploy has just
# built (build/local).
# Test packages run TEST_PARALLEL at a time, and so do the parallel tests
# inside each: they mostly wait on the emulator, not on the CPU. MiniStack
# under that load now and then applies a write and loses its response; the
# SDK retries, and every conditional write is safe to retry (shared/store),
# so the retry is recognised instead of conflicting with itself.
test: ## every test: format, vet, unit, integration (emulator), deploy, end-to-end
	@unformatted=$$(gofmt -l $$(find . -name '*.go' -not -path './.venv/*' -not -path './build/*' -not -path './.local/*')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@mkdir -p $(CURDIR)/.local; ( $(GO) vet ./... && $(GO) test -count=1 -run '^$$' ./... > /dev/null ) & prep=$$!; \
	  ensured=$$(SFN_WAIT_SCALE=$(TEST_SFN_WAIT_SCALE) $(STACK) ensure) || { echo "$$ensured"; exit 1; }; echo "$$ensured"; owner=$${ensured##*$$'\n'}; \
	  trap 'if [ "$$owner" = started ]; then $(STACK) stop; fi' EXIT; \
	  $(DEPLOY); \
	  wait $$prep || { echo "go vet or the test build failed"; exit 1; }; \
	  ( FUZZFLAGS='-parallel 1'; $(FUZZ) ) > $(FUZZ_REPORT) 2>&1 & fuzz=$$!; \
	  export AWS_ENDPOINT_URL=$(ENDPOINT) AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
	    SHOP_REQUIRE_EMULATOR=1 SHOP_DEPLOY_TEST_ENDPOINT=$(ENDPOINT) SHOP_PRIVILEGE_REPORT=$(PRIVILEGE_REPORT) SHOP_EVENTS_REPORT=$(EVENTS_REPORT) SHOP_OBSERVABILITY_REPORT=$(OBSERVABILITY_REPORT) \
	    SHOP_TERRAFORM_REPORT=$(TERRAFORM_REPORT) SHOP_TERRAFORM_ARTIFACTS=$(CURDIR)/build/local SHOP_TERRAFORM_OWN_EMULATOR=1 \
	    SFN_WAIT_SCALE=$(TEST_SFN_WAIT_SCALE) SHOP_CHAOS_N=$(TEST_CHAOS_N) SHOP_CHAOS_REPORT=$(CHAOS_TEST_REPORT); \
	  rm -f $(PRIVILEGE_REPORT) $(TERRAFORM_REPORT) $(EVENTS_REPORT) $(OBSERVABILITY_REPORT) $(CHAOS_TEST_REPORT); \
	  test "$$($(CURDIR)/.venv/bin/python -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" = $(SCHEMATHESIS_VERSION) || \
	    $(CURDIR)/.venv/bin/pip install --disable-pip-version-check --quiet schemathesis==$(SCHEMATHESIS_VERSION); export SHOP_SCHEMATHESIS=$(SCHEMATHESIS); \
	  if command -v npm >/dev/null 2>&1; then \
	    test -x $(ASL_VALIDATOR) || npm install --silent --no-audit --no-fund --prefix $(CURDIR)/.local/npm asl-validator@$(ASL_VALIDATOR_VERSION); \
	    export SHOP_ASL_VALIDATOR=$(ASL_VALIDATOR); \
	  fi; \
	  tests=0; $(GOTEST) -p $(TEST_PARALLEL) -parallel $(TEST_PARALLEL) ./... || tests=$$?; \
	  wait $$fuzz || { cat $(FUZZ_REPORT); echo "a fuzz target failed"; exit 1; }; tail -n 1 $(FUZZ_REPORT); \
	  test $$tests -eq 0 || exit $$tests; \
	  test -s $(PRIVILEGE_REPORT) || { echo "no least-privilege report: the end-to-end check did not run"; exit 1; }; \
	  test -s $(EVENTS_REPORT) || { echo "no events report: the end-to-end run did not check its events against the catalog"; exit 1; }; \
	  test -s $(OBSERVABILITY_REPORT) || { echo "no observability report: the end-to-end run did not scan its logs for secrets and metrics"; exit 1; }; \
	  test -s $(TERRAFORM_REPORT) || { echo "no Terraform report: infra/apply_test.go did not run"; exit 1; }; \
	  test -s $(CHAOS_TEST_REPORT) || { echo "no chaos report: tests/chaos TestChaos did not run"; exit 1; }; \
	  echo; cat $(PRIVILEGE_REPORT); echo; cat $(EVENTS_REPORT); echo; cat $(OBSERVABILITY_REPORT); echo; cat $(CHAOS_TEST_REPORT); echo; cat $(TERRAFORM_REPORT); \
	  command -v npm >/dev/null 2>&1 || echo "npm: NOT FOUND: asl-validator did not check the saga's definition (functions/orders TestSagaDefinitionValidates skipped)"; \
	  command -v kubectl >/dev/null 2>&1 || echo "kubectl: NOT FOUND: the generated Knative kustomization was not built (infra/generate TestKustomizationBuilds skipped)"

# Every Fuzz target of every package, found by go test -list (a new one is
# fuzzed without editing this file), one after another (go test -fuzz takes
# one target per run), FUZZTIME each. The seeds (f.Add and testdata/fuzz)
# already run as plain tests in `go test ./...`; this explores beyond them.
# A failure leaves the input under the package's testdata/fuzz: commit it
# with the fix, and it stays a regression test.
FUZZ = log=$$(mktemp); trap 'rm -f $$log' EXIT; \
  targets=$$($(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ { t[n++] = $$1 } /^ok / { for (i = 0; i < n; i++) print $$2, t[i]; n = 0 }'); \
  test -n "$$targets" || { echo "fuzz: no Fuzz targets found"; exit 1; }; \
  while read -r pkg target; do \
  $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $${FUZZFLAGS:-} $$pkg > $$log 2>&1 \
  || { cat $$log; echo "fuzz: $$pkg $$target FAILED (the failing input is under the package's testdata/fuzz/$$target)"; exit 1; }; \
  echo "fuzz: $$target ($$pkg) ok"; \
  done <<< "$$targets"; \
  echo "fuzz: $$(wc -l <<< "$$targets") targets, $(FUZZTIME) each: no failure"
fuzz: ## run every go test -fuzz target for FUZZTIME (default 3s) each
	@$(FUZZ)

# make chaos: N concurrent orders (default 500) from many users over 50
# units of 5 products, with declined, timing-out, failing and flaky
# payments, racing cancels, duplicate submissions and deliveries, poison
# events and faults from the fault switch, against the running local stack
# (make run; deployed with SHOP_FAULTS=1, as the deployer always does), then
# the invariant checker's table (tests/chaos). It exits non-zero on any
# violation; the table is also in $(CHAOS_REPORT).
N            ?= 500
CHAOS_DEADLINE ?= 3m
CHAOS_REPORT := $(CURDIR)/.local/chaos-$(GATEWAY_PORT).txt
chaos: ## N concurrent orders under faults, then the invariant checker (needs make run): make chaos N=100
	@mkdir -p $(CURDIR)/.local
	@AWS_ENDPOINT_URL=$(ENDPOINT) AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
	  $(GO) run ./tests/chaos -n $(N) -deadline $(CHAOS_DEADLINE) -report $(CHAOS_REPORT)

test-unit: ## tests that need no emulator (integration and end-to-end tests skip)
	$(GOTEST) ./...

token: ## print an operator token for the local stack: make -s token SCOPES='inventory:write'
	@$(KEYTOOL) token -scopes '$(SCOPES)'

rotate-keys: ## add a new active signing key for every issuer of the manifests (or ISSUERS=users,operator); old keys keep verifying
	@$(KEYTOOL) rotate $(if $(ISSUERS),-services $(ISSUERS))

retire-key: ## remove an old key once nothing can use it (refused with the time it may go): make retire-key ISSUER=users KID=...
	@$(KEYTOOL) retire -service $(ISSUER) -kid $(KID)

replay: ## replay archived events to the consumers (they deduplicate): make replay FROM=2h [TO=1h] [TYPES=shop.order.created.v1,...]
	@$(GO) run ./infra/replay -endpoint $(ENDPOINT) -from '$(FROM)' $(if $(TO),-to '$(TO)') $(if $(TYPES),-types '$(TYPES)')

trace: ## one order's journey on the local stack, as text and a Mermaid diagram: make trace ORDER=<id>
	@test -n '$(ORDER)' || { echo "usage: make trace ORDER=<order id> (the id POST /v1/orders answered)"; exit 2; }
	@$(GO) run ./localstack/trace -order '$(ORDER)'

build: ## build every function for this machine into build/local/<name>.zip
	$(GO) run ./localstack/deploy -build-only -out build/local

build-aws: ## build every function for AWS (linux/arm64) into build/aws/<name>.zip, read by infra/
	$(GO) run ./localstack/deploy -build-only -goarch arm64 -out build/aws

generate: ## rewrite the files made from the deployment model (infra/deployment.json, infra/knative/) after a manifest change
	$(GO) run ./infra/generate

# Terraform's own checks need the terraform binary, and validate needs the
# AWS provider: from the machine's mirror when there is one ($(TF_MIRROR)),
# else the registry. Init goes to a temporary data directory with the
# committed lock file read-only, so the tree stays as it is. Without
# terraform, lint says so and skips those two. tflint is built once into
# bin/ (ignored) and reused; its terraform ruleset is built in.
lint: ## gofmt, go vet, staticcheck, terraform fmt + validate, tflint
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.venv/*' -not -path './build/*' -not -path './.local/*')); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@if ! command -v $(TERRAFORM) >/dev/null 2>&1; then \
	  echo "lint: TERRAFORM NOT FOUND: skipping terraform fmt and terraform validate (install Terraform >= 1.6)"; \
	else \
	  tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  if [ -d $(TF_MIRROR) ]; then \
	    printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' $(TF_MIRROR) > "$$tmp/cli.tfrc"; \
	    export TF_CLI_CONFIG_FILE="$$tmp/cli.tfrc"; \
	  fi; \
	  export TF_DATA_DIR="$$tmp/data" CHECKPOINT_DISABLE=1; \
	  echo "$(TERRAFORM) fmt -check -recursive infra"; $(TERRAFORM) fmt -check -recursive -diff infra; \
	  $(TERRAFORM) -chdir=infra init -backend=false -input=false -lockfile=readonly -no-color > "$$tmp/init.log" || { cat "$$tmp/init.log"; exit 1; }; \
	  echo "$(TERRAFORM) validate infra"; $(TERRAFORM) -chdir=infra validate -no-color; \
	fi
	@test -x $(TFLINT) || { echo "building tflint $(TFLINT_VERSION) into bin/ (once; about 2 minutes)"; GOBIN=$(CURDIR)/bin $(GO) install github.com/terraform-linters/tflint@$(TFLINT_VERSION); }
	@echo "tflint --recursive (infra)"; cd infra && $(TFLINT) --recursive --config "$(CURDIR)/infra/.tflint.hcl"

fmt: ## format the Go code
	gofmt -w $$(find . -name '*.go' -not -path './.venv/*' -not -path './build/*' -not -path './.local/*')

# make bench (tests/bench) runs its sections in order and writes
# build/bench/report.md and report.json. Like make run it ensures the local
# stack and deploys (the cost and load sections need it; cold start and warm
# do not), and like make test it stops the emulator only if it started it.
# BENCH_FLAGS passes flags to the program (e.g. -only coldstart -pairs 61).
BENCH_FLAGS ?=
bench: ## performance report (cold start, warm cost per layer, round trips and cost, load) into build/bench
	@ensured=$$($(STACK) ensure) || { echo "$$ensured"; exit 1; }; echo "$$ensured"; owner=$${ensured##*$$'\n'}; \
	  trap 'if [ "$$owner" = started ]; then $(STACK) stop; fi' EXIT; \
	  $(DEPLOY); \
	  AWS_ENDPOINT_URL=$(ENDPOINT) AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
	    $(GO) run ./tests/bench -out build/bench $(BENCH_FLAGS)
