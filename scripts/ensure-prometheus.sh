#!/usr/bin/env bash
# Makes sure a `prometheus` binary (Debian's package) is installed and prints its path (the
# only line on stdout). Tests never use a system service: they start their own Prometheus on
# a free loopback port with their own config and data dir (test/support/prometheus.ts).
#
# While installing, a temporary policy-rc.d (only if the machine has none) stops the package's
# postinstall from starting the system service on :9090. If some service is running anyway
# (an earlier install, a developer's own), it is left alone: nothing here depends on it.
set -euo pipefail
log() { printf '[ensure-prometheus] %s\n' "$*" >&2; }

if command -v prometheus >/dev/null 2>&1; then
  command -v prometheus
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    log "prometheus is missing and this is not root: apt-get install prometheus"; exit 1
  fi
else
  SUDO=""
fi

start=$(date +%s)
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then
  # 101 = "action forbidden": invoke-rc.d does not start the service during the install.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  added_policy=1
fi
cleanup() { if [ -n "$added_policy" ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
# Retry once: a stale package list is the usual reason the first install fails.
if ! $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends prometheus >&2; then
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update >&2
  $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends prometheus >&2
fi
log "installed $(prometheus --version 2>&1 | head -n1) in $(( $(date +%s) - start ))s"
command -v prometheus
