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
