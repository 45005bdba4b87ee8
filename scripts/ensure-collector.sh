#!/usr/bin/env bash
# Builds the tailtrace OpenTelemetry Collector from collector/builder-config.yaml with the
# OpenTelemetry Collector Builder and prints the binary's path (the only line on stdout).
#
# Cached OUTSIDE the repo by the hash of the manifest (+ Go version), so a fresh clone on a
# machine that already built it reuses the binary, and an edit to the manifest rebuilds:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/tailtrace/otelcol-<hash>/otelcol-tailtrace
# The Go module and build caches make a rebuild after a manifest edit much faster than the
# first build. Needs Go >= 1.25 on PATH (or /usr/local/go/bin) and the Go module proxy.
# Override the location with TAILTRACE_CACHE_DIR; force a rebuild with TAILTRACE_COLLECTOR_REBUILD=1.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
manifest="$root/collector/builder-config.yaml"
log() { printf '[ensure-collector] %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; else
    log "Go is not installed (need Go >= 1.25 to build the Collector)"; exit 1
  fi
fi

# The builder's version is the core components' version in the manifest (they must match).
version="$(sed -n 's#^ *- gomod: go.opentelemetry.io/collector/receiver/otlpreceiver \(v[0-9.]*\).*#\1#p' "$manifest")"
[ -n "$version" ] || { log "cannot read the core version from $manifest"; exit 1; }

gover="$(go env GOVERSION)"
hash="$( { cat "$manifest"; echo "$gover"; echo "$version"; } | sha256sum | cut -c1-16)"
cache="${TAILTRACE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tailtrace}"
dir="$cache/otelcol-$hash"
bin="$dir/otelcol-tailtrace"
mkdir -p "$cache"

# One build at a time per machine (parallel test runs, CI retries).
exec 9>"$cache/.otelcol.lock"
flock 9

if [ -x "$bin" ] && [ -z "${TAILTRACE_COLLECTOR_REBUILD:-}" ] && "$bin" --version >/dev/null 2>&1; then
  echo "$bin"
  exit 0
fi

start=$(date +%s)
builder="$cache/bin/builder-$version"
if [ ! -x "$builder" ]; then
  log "installing go.opentelemetry.io/collector/cmd/builder@$version"
  tmpbin="$(mktemp -d)"
  GOBIN="$tmpbin" GOFLAGS=-buildvcs=false go install "go.opentelemetry.io/collector/cmd/builder@$version"
  mkdir -p "$cache/bin"
  mv "$tmpbin/builder" "$builder"
  rmdir "$tmpbin"
fi

work="$dir.tmp.$$"
rm -rf "$work"
mkdir -p "$work"
cp "$manifest" "$work/builder-config.yaml"
log "building the Collector ($version, $gover) in $work — the first build takes minutes"
( cd "$work" && GOFLAGS=-buildvcs=false "$builder" --config builder-config.yaml ) >"$work/build.log" 2>&1 || {
  tail -n 60 "$work/build.log" >&2
  mv "$work/build.log" "$cache/otelcol-build-failed.log"
  rm -rf "$work"
  log "build failed; full log: $cache/otelcol-build-failed.log"
  exit 1
}
mv "$work/build/otelcol-tailtrace" "$work/otelcol-tailtrace"
# Keep the binary, the manifest and the log; the generated Go sources are not needed.
rm -rf "$work/build"
rm -rf "$dir"
mv "$work" "$dir"
# Binaries of earlier manifests are stale: keep only this one (plus the builder and Go caches).
for old in "$cache"/otelcol-*; do
  [ "$old" = "$dir" ] || [ ! -d "$old" ] || rm -rf "$old"
done
log "built $bin in $(( $(date +%s) - start ))s"
echo "$bin"
