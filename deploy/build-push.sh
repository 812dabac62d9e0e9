#!/usr/bin/env bash
# Build both images from the workspace root and push them to the ECR repositories that
# Terraform created (output ecr_repository_urls). Needs Docker and the AWS CLI.
#
#   TORCH_INDEX_URL=<PyTorch CPU wheel index> deploy/build-push.sh <web-repo-url> <worker-repo-url> [tag]
#
# The tag defaults to the current commit; pass it to terraform as web_image_tag and
# worker_image_tag. Repositories are immutable: a tag is pushed once.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
    sed -n '2,9p' "$0" >&2
    exit 2
fi
web_repo=$1
worker_repo=$2
tag=${3:-$(git rev-parse --short=12 HEAD)}
: "${TORCH_INDEX_URL:?set TORCH_INDEX_URL to the PyTorch CPU wheel index (docs/deploy.md)}"

registry=${web_repo%%/*}
region=$(echo "$registry" | cut -d. -f4)
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"

docker build -f deploy/Dockerfile --target web -t "$web_repo:$tag" .
docker build -f deploy/Dockerfile --target worker --build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL" \
    -t "$worker_repo:$tag" .
docker push "$web_repo:$tag"
docker push "$worker_repo:$tag"
echo "pushed tag $tag: terraform apply -var web_image_tag=$tag -var worker_image_tag=$tag"
