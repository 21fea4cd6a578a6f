#!/bin/sh
# One-shot setup of the companynews Elasticsearch (run by the es-setup service of
# deploy/docker-stack.yml, in the curlimages/curl image):
#   1. waits for the cluster,
#   2. sets the kibana_system password from the kibana_password secret.
# The logs-* index template is installed by shipper (install_template); to install it by hand:
#   curl -u elastic -X PUT -H 'Content-Type: application/json' \
#        http://elasticsearch:9200/_index_template/shipper-logs --data-binary @index-template.json
# Idempotent; a failure exits non-zero and Swarm runs the task again.
set -eu

ES="${ES_URL:-http://elasticsearch:9200}"
ELASTIC_PASSWORD="$(cat /run/secrets/es_password)"
KIBANA_PASSWORD="$(cat /run/secrets/kibana_password)"

es() {
    # es METHOD PATH [curl args…]: fails on HTTP errors, prints the body.
    method="$1"; path="$2"; shift 2
    curl -fsS -u "elastic:${ELASTIC_PASSWORD}" -X "$method" -H 'Content-Type: application/json' "$ES$path" "$@"
}

tries=0
until es GET '/_cluster/health?wait_for_status=yellow&timeout=10s' >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
        echo "es-setup: Elasticsearch at $ES did not become ready" >&2
        exit 1
    fi
    sleep 5
done

# The password goes in a JSON string: refuse characters that would need escaping.
case "$KIBANA_PASSWORD" in
    *\"* | *\\*) echo "es-setup: the kibana_password secret must not contain \" or \\" >&2; exit 1 ;;
esac
es POST /_security/user/kibana_system/_password -d "{\"password\":\"${KIBANA_PASSWORD}\"}" >/dev/null
echo "es-setup: kibana_system password set"
