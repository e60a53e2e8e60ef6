# jobwait: `make run` serves the demo on :8080; `make test` installs what the
# tests need (redis-server, redis-sentinel, promtool, chromium, curl, nginx and its
# Nchan module from Debian's packages) when it is missing and root can, then
# runs the whole suite with the race detector; the tests fetch with npm, into
# the user cache, typescript, eventsource and the OpenAPI linters @redocly/cli
# and @stoplight/spectral-cli, and build helm there from its Go module.
# `make bench-peer` measures jobwait side by side with
# nginx + Nchan (cmd/waitload/peerbench.sh).

GO ?= go
STRESS ?=
NCHAN_MODULE ?= /usr/lib/nginx/modules/ngx_nchan_module.so

.PHONY: run test test-short deps deps-peer vet helm fuzz bench bench-peer tls

run:
	$(GO) run ./cmd/jobwait

test: deps vet helm
	$(GO) test -race -count=1 -timeout 20m ./...

# test-short is the fast tier: the rules under unit tests, nothing but Go
# needed (no redis-server, nginx, Chromium or npm).
test-short:
	$(GO) test -short ./...

# helm builds the helm command that the Helm chart's tests run (pinned in
# deploy/helmbin_test.go) into the user cache, once per machine: on a new
# one that takes minutes, which are then not spent inside the suite's timeout
# (-race: what it compiles, the suite's run uses again).
helm:
	$(GO) test -race -count=1 -timeout 30m -run '^TestHelmBinary$$' ./deploy/

# The checks of deps and deps-peer: each adds its package to $$missing when
# the package is not there.
NEED_REDIS := \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-cli >/dev/null || missing="$$missing redis-tools";
NEED_NCHAN := \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	[ -f $(NCHAN_MODULE) ] || missing="$$missing libnginx-mod-nchan";
INSTALL_MISSING := \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "missing:$$missing — install with: sudo apt-get install -y$$missing" >&2; exit 1; \
		fi; \
	fi

# deps installs the test prerequisites that are missing.
deps:
	@missing=""; \
	$(NEED_REDIS) \
	command -v redis-sentinel >/dev/null || missing="$$missing redis-sentinel"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	$(NEED_NCHAN) \
	$(INSTALL_MISSING)

# deps-peer installs what the side-by-side bench needs, when missing.
deps-peer:
	@missing=""; \
	$(NEED_REDIS) \
	command -v curl >/dev/null || missing="$$missing curl"; \
	$(NEED_NCHAN) \
	$(INSTALL_MISSING)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed" >&2; exit 1; }
	$(GO) vet ./...
	@test -z "$$($(GO) mod tidy -diff)" || { $(GO) mod tidy -diff; echo "go.mod/go.sum not tidy: run go mod tidy" >&2; exit 1; }

# fuzz runs every fuzzer for FUZZTIME each (default 60s).
FUZZTIME ?= 60s
fuzz:
	@for pkg in ./store ./server ./server/eventid ./server/admission; do \
		for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep ^Fuzz); do \
			$(GO) test -run XXX -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

bench:
	$(GO) test -run XXX -bench . -benchmem ./stream/ ./server/ ./server/admission/ ./server/held/

# bench-peer runs jobwait and nginx + Nchan side by side (18,000 waiters,
# two rounds each; about 13 minutes) and prints the table with the ratios.
# Figures are only worth keeping from a quiet machine: see BENCHMARKS.md.
BENCH_PEER_OUT ?= bench-peer
bench-peer: deps-peer
	NCHAN_MODULE=$(NCHAN_MODULE) cmd/waitload/peerbench.sh $(BENCH_PEER_OUT)

# tls makes a self-signed certificate for nginx's TLS (HTTP/2) server in
# deploy/tls, for docker compose's scale profile; use your own in production.
tls:
	@test -f deploy/tls/cert.pem || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
		-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout deploy/tls/key.pem -out deploy/tls/cert.pem
