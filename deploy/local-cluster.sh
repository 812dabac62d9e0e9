#!/usr/bin/env bash
# Run the production topology locally: the one-off release step (migrations, cache
# table, model versions) first, then the long-running processes of deploy/Procfile.
# `release` is not a Procfile process because honcho stops every process when one exits.
#
#   deploy/local-cluster.sh            # uses the environment as it is
#   BIND=127.0.0.1:8000 deploy/local-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v honcho >/dev/null 2>&1; then
    echo "honcho is not installed: pip install honcho (it runs deploy/Procfile)" >&2
    exit 1
fi
for var in DATABASE_URL BROKER_URL S3_BUCKET; do
    if [ -z "${!var:-}" ]; then
        echo "$var is not set: the cluster runs with production settings (see .env.example)" >&2
        exit 1
    fi
done

python manage.py release
exec honcho -f deploy/Procfile start
