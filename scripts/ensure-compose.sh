#!/usr/bin/env bash
# Makes sure a real Compose file parser is available for checking collector/compose.yaml
# (no Docker engine is needed for `docker-compose config`): Debian's `docker-compose`
# package. Prints its path; exits 1 when it cannot be installed (`npm test` stops there).
set -uo pipefail
log() { printf '[ensure-compose] %s\n' "$*" >&2; }

if command -v docker-compose >/dev/null 2>&1; then command -v docker-compose; exit 0; fi
if [ "$(id -u)" != 0 ]; then log "docker-compose missing and not root: apt-get install docker-compose"; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
# While installing, a temporary policy-rc.d (only if the machine has none) keeps package
# scripts from starting services.
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; added_policy=1; fi
trap '[ -n "$added_policy" ] && rm -f "$policy"' EXIT
apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends docker-compose >&2 \
  || { apt-get -o DPkg::Lock::Timeout=300 update >&2 && apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends docker-compose >&2; } \
  || { log "could not install docker-compose (Debian package)"; exit 1; }
command -v docker-compose
