#!/usr/bin/env bash
# Installs the system pieces the test suite needs when the machine lacks them:
# Chromium for the browser tests, and PostgreSQL when no server answers on 127.0.0.1:5432
# (the test harness then starts a throwaway cluster of its own with initdb).
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
