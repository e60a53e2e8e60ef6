# jobwait: `make run` serves the demo on :8080; `make test` installs what the
# tests need (redis-server, redis-sentinel, promtool, chromium, nginx from Debian's packages) when it is
# missing and root can (npm then fetches typescript for the check of
# web/jobwait.d.ts), then runs the whole suite with the race detector.

GO ?= go
APT_PACKAGES := redis-server redis-tools redis-sentinel prometheus chromium nginx nodejs npm
STRESS ?=

.PHONY: run test deps vet fuzz bench tls

run:
	$(GO) run ./cmd/jobwait

test: deps vet
	$(GO) test -race -count=1 -timeout 20m ./...

# deps installs the test prerequisites that are missing.
deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-cli >/dev/null || missing="$$missing redis-tools"; \
	command -v redis-sentinel >/dev/null || missing="$$missing redis-sentinel"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "missing:$$missing — install with: sudo apt-get install -y$$missing" >&2; exit 1; \
		fi; \
	fi

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed" >&2; exit 1; }
	$(GO) vet ./...
	@test -z "$$($(GO) mod tidy -diff)" || { $(GO) mod tidy -diff; echo "go.mod/go.sum not tidy: run go mod tidy" >&2; exit 1; }

# fuzz runs every fuzzer for FUZZTIME each (default 60s).
FUZZTIME ?= 60s
fuzz:
	@for pkg in ./store ./server; do \
		for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep ^Fuzz); do \
			$(GO) test -run XXX -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

bench:
	$(GO) test -run XXX -bench . -benchmem ./stream/ ./server/

# tls makes a self-signed certificate for nginx's TLS (HTTP/2) server in
# deploy/tls, for docker compose's scale profile; use your own in production.
tls:
	@test -f deploy/tls/cert.pem || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
		-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout deploy/tls/key.pem -out deploy/tls/cert.pem
