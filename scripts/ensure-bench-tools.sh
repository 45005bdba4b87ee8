#!/usr/bin/env bash
# Load generators for `npm run bench -- overhead`: wrk (Debian) for HTTP, ghz (Go module) for
# gRPC. Both are native so the server under test, not the load generator, is the bottleneck.
set -euo pipefail
if ! command -v wrk >/dev/null 2>&1; then
  echo "[tailtrace] installing wrk (Debian)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else sudo apt-get install -y -qq wrk >/dev/null; fi
fi
gobin="$(go env GOPATH)/bin"
if [ ! -x "$gobin/ghz" ]; then
  echo "[tailtrace] building ghz (go install, first time only)" >&2
  go install github.com/bojand/ghz/cmd/ghz@v0.120.0
fi
