# Sourced by Benchmarks/e2e.sh and Benchmarks/ab.sh: the pipeline each generated input goes through.
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
