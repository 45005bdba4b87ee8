#!/usr/bin/env bash
# Makes sure a real Compose file parser is available for checking collector/compose.yaml
# (no Docker engine is needed for `docker-compose config`): Debian's `docker-compose`
# package. Prints its path, or nothing (exit 0) when it cannot be installed, in which case
# test/collector-compose.test.ts falls back to the compose-spec JSON schema.
set -uo pipefail
log() { printf '[ensure-compose] %s\n' "$*" >&2; }

if command -v docker-compose >/dev/null 2>&1; then command -v docker-compose; exit 0; fi
if [ "$(id -u)" != 0 ]; then log "docker-compose missing and not root; schema fallback"; exit 0; fi
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
added_policy=""
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; added_policy=1; fi
apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends docker-compose >&2 \
  || { apt-get -o DPkg::Lock::Timeout=300 update >&2 && apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends docker-compose >&2; } \
  || log "could not install docker-compose; schema fallback"
[ -n "$added_policy" ] && rm -f "$policy"
command -v docker-compose || true
