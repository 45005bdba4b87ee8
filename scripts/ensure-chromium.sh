#!/bin/sh
# Installs Debian's chromium for the HTML report tests when it is missing. Idempotent.
set -e
if command -v chromium >/dev/null 2>&1; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
# serialize with other workers running apt at the same time
exec 9>/tmp/tailtrace-apt.lock
flock 9
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if ! apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
  apt-get update >/dev/null
  apt-get install -y --no-install-recommends chromium >/dev/null
fi
command -v chromium >/dev/null 2>&1
