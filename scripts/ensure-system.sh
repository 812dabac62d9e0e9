#!/usr/bin/env bash
# Installs the system pieces the test suite needs when the machine lacks them:
# Chromium for the browser tests, PostgreSQL when no server answers on 127.0.0.1:5432
# (the test harness then starts a throwaway cluster of its own with initdb), and Redis
# when none answers on 127.0.0.1:6379 (started here, keeping nothing on disk).
# Terraform (deploy lint and the apply-to-emulator test) must already be on the PATH,
# with the AWS provider's plugin files under TF_PLUGIN_DIR; it is not a Debian package.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
if ! redis_up; then
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if ! redis_up; then
  echo "Starting a Redis server on 127.0.0.1:6379 (no persistence)"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
command -v terraform >/dev/null 2>&1 || {
  echo "terraform is not installed: the deploy lint and tests need it (see docs/deploy.md)" >&2
  exit 1
}
