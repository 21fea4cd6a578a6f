# Sourced by Benchmarks/e2e.sh, ab.sh and live.sh: the pipeline each generated input goes through,
# the container it is logged by, the shipper config and the test server of a run.
# bench_stages KIND sets `flow` (a one-line description) and `stages` (YAML, indented for
# `pipelines.<name>.stages:`); returns 1 for an unknown KIND.
bench_stages() {
    case $1 in
    nginx)
        flow="nginx_access"
        stages='
      - type: parse
        parsers: [{type: nginx_access, format: main}, nginx_access]'
        ;;
    jetty)
        # The stages of pipelines/jetty.yaml.
        flow="multiline java -> jetty_request, jetty_server"
        stages='
      - type: multiline
        mode: java
      - type: parse
        parsers: [jetty_request, jetty_server]
      - type: modify
        set: {event.dataset: jetty}'
        ;;
    *) return 1 ;;
    esac
}

# bench_config STATE_DIR CONTAINERS_DIR KIND OUTPUTS_YAML [MAX_SIZE]: prints the shipper config of a
# benchmark run (tail -> the KIND pipeline of `bench_stages` -> disk buffer, fsync 500ms, max_size
# MAX_SIZE (default 256MiB) -> OUTPUTS_YAML, the entries under `outputs:`, each line indented two
# spaces and starting with a newline).
bench_config() {
    local flow stages
    bench_stages "$3" || return 1
    cat <<YAML
data_dir: $1
drain_timeout: 600s
log: {level: warning}
telemetry: {address: "127.0.0.1:0"}
sources:
  containers: {type: docker, paths: ["$2/*/*-json.log"]}
pipelines:
  $3:
    stages:$stages
buffer: {path: $1/buffer, fsync: 500ms, max_size: ${5:-256MiB}}
outputs:$4
YAML
}

# container_log CONTAINERS_DIR KIND ID_CHAR: makes the directory of a container (id: 64 × ID_CHAR)
# with the config.v2.json of a Swarm task of service bench_KIND (image nginx or jetty) and sets
# `log` to the path of its json-file log (not created).
container_log() {
    local image id
    case $2 in
    nginx) image=nginx:1.27 ;;
    jetty) image=jetty:12.0-jdk21 ;;
    *) return 1 ;;
    esac
    id=$(printf "$3%.0s" {1..64})
    mkdir -p "$1/$id"
    echo '{"ID":"'$id'","Name":"/bench_'$2'.1.x","Config":{"Image":"'$image'","Labels":{"com.docker.swarm.service.name":"bench_'$2'"}}}' \
        >"$1/$id/config.v2.json"
    log="$1/$id/$id-json.log"
}

# start_es SERVER_DIR OUT_DIR [PORT]: starts SERVER_DIR/es-test-server on PORT (default 0: any free
# one) with --no-sources (SERVER_FLAGS replaces that), its output in OUT_DIR/es.out and es.err;
# sets `es_pid`, and `es_port` once it listens.
start_es() {
    "$1/es-test-server" --port "${3:-0}" --no-mapping-emulation ${SERVER_FLAGS---no-sources} >"$2/es.out" 2>"$2/es.err" &
    es_pid=$!
    for _ in $(seq 100); do grep -q listening "$2/es.out" 2>/dev/null && break; sleep 0.1; done
    es_port=$(head -1 "$2/es.out" | sed 's/.*://')
}

# stop_es: stops the server of start_es (it writes its summary, `documents: N, …`, to es.out).
stop_es() {
    kill -TERM "$es_pid" 2>/dev/null || true
    wait "$es_pid" || true
    es_pid=
}
