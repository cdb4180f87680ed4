#!/usr/bin/env bash
# Builds the Keepwatch image (ops/deploy/Dockerfile) with docker or podman.
#
#   ops/deploy/image.sh [--tool docker|podman] [--tag NAME] [--jobs N] [--rev REV]
#
# The build context is the committed tree of REV (default HEAD), taken with
# `git archive`: what is built is a commit, never the work tree's stray files
# (build/, data/, uncommitted edits). Uncommitted changes are reported, not
# built. The image is tagged NAME (default keepwatch:latest, what
# docker-compose.yml and kubernetes/keepwatch.yaml run) and labelled with the
# commit. Without --tool: docker if its daemon answers, else podman.
#
# The build runs ops/install-deps.sh and ops/build.sh inside debian:12: about
# 10-20 minutes with 2 jobs on 2 cores, and it needs Debian's package mirrors.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"

tool="" tag="keepwatch:latest" jobs=2 rev="HEAD"
usage() {
  echo "usage: $0 [--tool docker|podman] [--tag NAME] [--jobs N] [--rev REV]" >&2
  exit 2
}
while (($#)); do
  case $1 in
    --tool) [[ $# -ge 2 ]] || usage; tool=$2; shift 2 ;;
    --tag)  [[ $# -ge 2 ]] || usage; tag=$2; shift 2 ;;
    --jobs) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || usage; jobs=$2; shift 2 ;;
    --rev)  [[ $# -ge 2 ]] || usage; rev=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) usage ;;
  esac
done

die() { echo "image.sh: $*" >&2; exit 1; }

if [[ -z $tool ]]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    tool=docker
  elif command -v podman >/dev/null; then
    tool=podman
  else
    die "neither a running docker daemon nor podman found (use --tool to choose)"
  fi
fi
case $tool in
  docker|podman) command -v "$tool" >/dev/null || die "$tool not found" ;;
  *) die "--tool must be docker or podman, not '$tool'" ;;
esac

command -v git >/dev/null || die "git is needed (the context is \`git archive $rev\`)"
commit=$(git -C "$root" rev-parse --verify "$rev^{commit}") || die "no commit '$rev'"
if [[ $rev == HEAD ]] && [[ -n $(git -C "$root" status --porcelain --untracked-files=no) ]]; then
  echo "image.sh: the work tree has uncommitted changes; building $commit without them" >&2
fi

context=$(mktemp -d "${TMPDIR:-/tmp}/keepwatch-image.XXXXXX")
trap 'rm -rf -- "$context"' EXIT
git -C "$root" archive --format=tar "$commit" | tar -x -C "$context"
[[ -f $context/ops/deploy/Dockerfile ]] || die "commit $commit has no ops/deploy/Dockerfile"

echo "image.sh: building $tag from $commit with $tool" >&2
"$tool" build \
  -f "$context/ops/deploy/Dockerfile" \
  -t "$tag" \
  --build-arg "JOBS=$jobs" \
  --label "org.opencontainers.image.revision=$commit" \
  --label "org.opencontainers.image.title=keepwatch" \
  "$context"
echo "image.sh: built $tag ($commit)" >&2
