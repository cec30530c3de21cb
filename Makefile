# RemoteGPU. The two entry points are `make run` and `make test`; see README.md.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go
BIN := $(CURDIR)/bin

# The service binaries, pinned in one place: internal/devstack/tools.go.
TEMPORAL_PKG := $(shell sed -n 's/^[[:space:]]*TemporalPackage[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' internal/devstack/tools.go)
MINIO_PKG := $(shell sed -n 's/^[[:space:]]*MinioPackage[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' internal/devstack/tools.go)

# Debian packages the tests need: OpenLDAP for the LDAP tests, Chromium for
# the browser tests, a PostgreSQL server unless one is installed, and a
# Docker daemon (unless one is installed) with a static busybox for the
# task containers' test image.
APT_PACKAGES := slapd ldap-utils chromium $(if $(wildcard /usr/lib/postgresql/*/bin/postgres),,postgresql) \
	$(if $(shell command -v dockerd),,docker.io) $(if $(wildcard /bin/busybox),,busybox-static) $(if $(shell command -v zip),,zip)

# What the console build depends on.
WEB_SRC := $(shell find web/src web/public -type f 2>/dev/null) \
	$(wildcard web/index.html web/package.json web/*.ts web/*.js web/tsconfig*.json)

# Not spelled $(MAKE) in the recipe, so that `make -n test` does not run it.
TEST_MAKE = $(MAKE)

.PHONY: help run test test-all test-go test-web build web web-deps tools deps apt-deps openapi openapi-check clean

help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## run: install what is missing, build, and run everything locally (state in .data/)
run: tools web build
	bin/remotegpu dev

## test: everything CI runs, against a throwaway stack
test: deps web build openapi-check
	bin/remotegpu testenv -- $(TEST_MAKE) --no-print-directory -k test-all

## test-all: the test suites; expects the environment of `remotegpu testenv`
test-all: test-go test-web

test-go:
	$(GO) test -race -count=1 ./...

test-web: web-deps
	cd web && npm run typecheck
	cd web && npm run test:unit
	cd web && npm run test:e2e

## build: bin/remotegpu
build:
	$(GO) build -o bin/remotegpu ./cmd/remotegpu
	$(GO) build -o bin/remotegpu-agent ./cmd/remotegpu-agent

## web: the console in web/dist, rebuilt when its sources change
web: web/dist/index.html

web-deps: web/node_modules/.installed

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SRC)
	cd web && npm run build
	touch $@

## deps: apt packages, service binaries and npm packages, fetched side by side
deps:
	$(MAKE) --no-print-directory -j3 apt-deps tools web-deps

apt-deps:
	scripts/ensure-apt.sh $(APT_PACKAGES)

## tools: bin/temporal and bin/minio (a few minutes each, once)
tools: bin/temporal bin/minio

bin/temporal:
	@echo "Installing $(TEMPORAL_PKG) into bin/ (about 3 minutes the first time)"
	GOBIN=$(BIN) $(GO) install $(TEMPORAL_PKG)

bin/minio:
	@echo "Installing $(MINIO_PKG) into bin/ (about 3 minutes the first time)"
	GOBIN=$(BIN) GOFLAGS=-mod=mod $(GO) install $(MINIO_PKG)

## openapi: regenerate openapi.yaml from the code
openapi: build
	bin/remotegpu openapi > openapi.yaml.tmp
	mv openapi.yaml.tmp openapi.yaml

openapi-check: build
	@tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; \
	bin/remotegpu openapi > "$$tmp"; \
	if ! diff -u openapi.yaml "$$tmp"; then \
		echo "openapi.yaml is stale: run 'make openapi' and commit it" >&2; exit 1; \
	fi

## clean: remove build outputs and leftovers of interrupted test runs (keeps bin/temporal, bin/minio and .data/)
clean:
	rm -rf bin/remotegpu web/dist .data/test-*
