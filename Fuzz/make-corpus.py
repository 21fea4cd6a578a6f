#!/usr/bin/env python3
"""Writes the seed corpora Fuzz/corpus/<target>/ from the shared samples (../shared/samples, when
present), the bundled pipelines and container logs, and a few hand-written cases. The result is
committed; run this again only to change the seeds. Seeds are small (a few dozen files per target)."""
import hashlib, json, os, random, struct, sys, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(REPO), "shared", "samples")
OUT = os.path.join(HERE, "corpus")

def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()

def lines(*parts):
    return [l for l in read(*parts).split(b"\n") if l]

corpus = {}
def seed(target, data):
    if isinstance(data, str):
        data = data.encode()
    corpus.setdefault(target, []).append(data)

def shared(*parts):
    p = os.path.join(SHARED, *parts)
    return read(p) if os.path.exists(p) else b""

def shared_lines(*parts):
    return [l for l in shared(*parts).split(b"\n") if l]

containers = os.path.join(REPO, "pipelines", "samples", "containers")
docker_logs = []
for d in sorted(os.listdir(containers)):
    for f in sorted(os.listdir(os.path.join(containers, d))):
        if f.endswith("-json.log"):
            docker_logs.append(read(containers, d, f))

# --- decoders -------------------------------------------------------------------------------
for name in ["fluent-bit-dockermode.log", "fluent-bit-dockermode_firstline_detection.log",
             "fluent-bit-dockermode_multiple_lines.log", "fluent-bit-dockermode_splitted_line.log",
             "fluent-bit-dockermode_splitted_multiple_lines.log"]:
    data = shared("docker-json", name)
    if data:
        seed("docker", data)
for log in docker_logs:
    ls = log.split(b"\n")
    seed("docker", b"\n".join(ls[:6]) + b"\n")
    seed("docker", b"\n".join(ls[-4:]))
seed("docker", b'{"log":"partial ","stream":"stdout","time":"2026-11-25T08:15:01.000000001Z"}\n'
               b'{"log":"chunk\\n","stream":"stdout","time":"2026-11-25T08:15:01.000000002Z"}\n'
               b'{"log":"err\\u00e9 \\ud83d\\ude00\\t\\"q\\"\\n","stream":"stderr","time":"2026-11-25T08:15:02Z","attrs":{"tag":"web.1","com.x":"y"}}\n')
seed("docker", b'{"log":"no newline","stream":"stdout","time":"bad time"}\n{"stream":"stdout"}\n{}\nnot json\n{"log":1}\n')

cri = [
    b"2026-11-25T08:15:01.123456789Z stdout F 203.0.113.7 - - [25/Nov/2026:08:15:01 +0000] \"GET / HTTP/1.1\" 200 612 \"-\" \"curl/8.5.0\"",
    b"2026-11-25T08:15:01.223456789+01:00 stderr P first part of a long line ",
    b"2026-11-25T08:15:01.323456789+01:00 stderr P second part ",
    b"2026-11-25T08:15:01.423456789+01:00 stderr F end",
    b"2026-11-25T08:15:02Z stdout F ",
    b"2026-11-25T08:15:03.5Z stdout X unknown tag",
    b"2026-11-25 08:15:03 stdout F not rfc3339",
]
seed("cri", b"\n".join(cri) + b"\n")
seed("cri", b"\n".join(cri[1:4]))
seed("cri", b"2026-11-25T08:15:01.123Z stdout P a\n2026-11-25T08:15:01.124Z stdout P b\n2026-11-25T08:15:01.125Z stderr F c\n")
for l in shared_lines("jetty-server", "jetty94-docs-stderrlog.log")[:3]:
    seed("cri", b"2026-11-25T08:15:00.000000001Z stderr F " + l + b"\n")

for target_seeds in (corpus.get("docker", [])[:4], corpus.get("cri", [])[:2]):
    for s in target_seeds:
        seed("auto", s)
seed("auto", shared("nginx-error", "beats-error.log") or b"raw line\n")
seed("auto", b"plain text line\nanother\n")

# --- parsers --------------------------------------------------------------------------------
for l in shared_lines("nginx-access", "beats-access.log") + shared_lines("nginx-access", "vrl-parse_nginx_log-access.log"):
    seed("nginx_access", l)
seed("nginx_access", b'10.0.0.1 - alice [25/Nov/2026:08:15:01 +0100] "GET /a?b=c HTTP/2.0" 404 0 "-" "-" 0.012 "203.0.113.9, 10.0.0.2" 5f1c3 1764054901.123')
seed("nginx_access", b'2026-11-25T08:15:01+01:00 [2001:db8::1]:443 "POST https://news.example.com /api?x=1 HTTP/1.1" 201 1234 567 0.004 10.0.0.5:8080 "application/json" x=1')
seed("nginx_access", b'\\x16\\x03\\x01 - - [25/Nov/2026:08:15:01 +0000] "\\x16\\x03\\x01\\x00" 400 157 "-" "-"')

errs = shared("nginx-error", "beats-error.log").split(b"\n")
for l in [l for l in errs if l][:4] + shared_lines("nginx-error", "vrl-parse_nginx_log-error.log"):
    seed("nginx_error", l)
if errs:
    seed("nginx_error", b"\n".join(errs[2:5]))  # the multi-line FastCGI entry
seed("nginx_error", b'2026/11/25 08:15:01 [crit] 7#7: *9 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://10.0.0.9:8080/", host: "x"')

for l in (shared_lines("jetty-request", "ops-agent-jetty-access.input.log") + shared_lines("jetty-request", "vrl-parse_common_and_apache_log.log")
          + shared_lines("jetty-request", "jetty12-docs-operations-guide-requestlog-example.log")):
    seed("jetty_request", l)
seed("jetty_request", b'10.0.0.1 - bob [25/Nov/2026:08:15:01 +0000] "GET /x HTTP/1.1" 200 12 "-" "curl/8" 17 203.0.113.1 17000')
seed("jetty_request", b'2026-11-25 08:15:01.123 10.0.0.1 - - "GET /p ?q=1 HTTP/1.1" 200 512 8080 10.0.0.2 53211 100 612')

js = shared_lines("jetty-server", "jetty94-docs-stderrlog.log")
for l in js[:12] + js[40:44]:
    seed("jetty_server", l)
trace = shared("jetty-server", "logstash-java_spec-tomcat-multiline-stacktrace.log")
if trace:
    seed("jetty_server", trace)
seed("jetty_server", b"2026-11-25 08:15:00.123:WARN :oejs.HttpChannel:qtp1-17: /api\njava.lang.IllegalStateException: boom\n\tat com.x.Y.z(Y.java:10)\nCaused by: java.io.IOException: x\n\t... 3 more")
seed("jetty_server", b"2026-11-25 08:15:00.123:INFO :oejs.Server:main: Started Server@1a2b{STARTING}[12.0.15,sto=0] @1234ms")

json_docs = [
    b'{"level":"info","msg":"started","ts":1764054901.123,"caller":"main.go:12","user":{"id":7,"name":"a"}}',
    b'{"@timestamp":"2026-11-25T08:15:01Z","log.level":"WARN","message":"x","http":{"response":{"status_code":503}},"tags":["a","b"]}',
    b'{"a":[1,2.5,-3e10,true,false,null,{"b":{"c":"d"}},[[]]],"e":{},"f":"\\u00e9\\ud83d\\ude00\\n\\"\\\\","g.h":1}',
    b'{"n":-9223372036854775808,"m":9223372036854775807,"big":123456789012345678901234567890,"inf":1e400,"neg":-0.0}',
    b'{"message":{"nested":"obj"},"message.x":1}',
    b'  {"a":1}  ',
    b'{"a":1,"a":2,"a.b":3}',
    b'[1,2]',
    b'"str"',
    b'{"k":"v"',
]
for d in json_docs:
    seed("json", d)
    seed("json_roundtrip", d)
    seed("json_scanner", d)
for log in docker_logs:
    seed("json_scanner", log.split(b"\n")[0])
seed("json_scanner", b'[' * 40 + b']' * 40)
seed("json_scanner", b'{"a":[{"b":[{"c":null}]}]} ')
seed("json_scanner", b'0')
seed("json_scanner", b'-1.5E+3')

seed("regex", b'203.0.113.7 [25/Nov/2026:08:15:01 +0100] 200 0.25 true the rest of the line')
seed("regex", b'10.0.0.1 [2026-11-25T08:15:01Z] 503 12 False upstream timed out')
seed("regex", b'login user=alice id=42 t=2026-11-25T08:15:01.5+01:00')
seed("regex", b'\xff\xfe user=\xc3\xa9 id=99999999999999999999')

# --- stages ---------------------------------------------------------------------------------
if trace:
    seed("multiline", trace)
seed("multiline", b"\n".join(js[:10]))
seed("multiline", b"2026-11-25 08:15:00 ERROR boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)\nCaused by: java.io.IOException\n\t... 2 more\n2026-11-25 08:15:01 INFO next\n")
seed("multiline", b"\x02stderr line one\nstdout line\n\x02\tat continued.On(Stderr.java:1)\n  indented\n\nSuppressed: x.Y\n[CIRCULAR REFERENCE: x]\n25/Nov/2026:08:15:01 start\nOct 25 08:15:01 syslog\nTue Oct 25 08:15:01 2026\n")
for t in ["25/Nov/2026:08:15:01 +0000", "2026-11-25T08:15:01.123456789+01:00", "2026-11-25 08:15:01,123",
          "Nov 25 08:15:01", "Tue Nov 25 08:15:01 2026", "261125 8:15:01", "08:15:01 PM 329 2026",
          "1764054901", "1764054901123", "1764054901123456", "1764054901123456789", "1764054901.5",
          "2026-03-29 02:30:00 CET", "11/25/26 08:15", "November 25, 2026 8:15 pm"]:
    seed("timestamp", t)
for fmt, val in [("%d/%b/%Y:%H:%M:%S %z", "25/Nov/2026:08:15:01 +0000"), ("rfc3339", "2026-11-25T08:15:01Z"),
                 ("%Y-%m-%dT%H:%M:%S.%f", "2026-03-29T02:30:00.5"), ("%s", "-62135596800"), ("%j %Y %T", "366 2024 23:59:60"),
                 ("unix_ns", "-9223372036854775808"), ("%y %B %e %I %p", "69 February 29 12 AM")]:
    seed("timestamp", fmt + "\n" + val)

# --- config ---------------------------------------------------------------------------------
for f in sorted(os.listdir(os.path.join(REPO, "pipelines"))):
    if f.endswith(".yaml"):
        seed("config", read(REPO, "pipelines", f))
seed("config", read(REPO, "deploy", "shipper.yaml"))
seed("config", """data_dir: /tmp/x
buffer: {path: /tmp/x/b, max_size: 4KiB, fsync: 1ms, segment_size: 1KiB}
telemetry: {address: 127.0.0.1:0, health: {output_failing_after: 1s, buffer_high_water: 0.5}}
log: {level: debug, format: json}
sources:
  c: {type: cri, paths: ["/var/log/containers/*.log"], max_line_bytes: 1KiB, read_from: end}
outputs:
  es:
    type: elasticsearch
    hosts: ["http://127.0.0.1:9200"]
    index: "logs-%{service.name}-%Y.%m.%d"
    batch: {max_bytes: 1MiB, max_events: 10, timeout: 10ms}
  f: {type: file, path: "out/%{service.name}.ndjson", max_size: 1MiB, gzip: true}
pipelines:
  p:
    match: {any: [{stream: stderr}, {log.level: {in: [ERROR, WARN]}}], not: {url.path: {matches: '^/health'}}}
    stages:
      - {type: multiline, mode: start, pattern: '^\\d{4}-', max_lines: 3, max_bytes: 100, flush_timeout: 1ms}
      - {type: parse, field: message, keep_original: true, parsers: [json, {type: regex, pattern: '^(?<a.b>\\w+) (?<n>\\d+)$', types: {n: int}}]}
      - {type: modify, rename: {a.b: c}, copy: {c: d}, set: {e: "%{c}-x"}, remove: [n], add_tags: [t]}
      - {type: filter, drop: {c: {prefix: z}}}
      - {type: timestamp, field: d, formats: [unix_ms, "%Y"], timezone: "-03:30"}
tests:
  - name: t
    format: cri
    fields: {stream: stderr}
    input: |
      2026-11-25T08:15:01Z stderr F {"a":1}
      2026-11-25T08:15:01Z stderr P hello
      2026-11-25T08:15:01Z stderr F  42
    expect: [{a: 1}, {c: hello}]
    absent: [n]
""")
seed("config", "pipelines:\n  x:\n    stages:\n      - type: parse\n        parsers: [{type: nginx_access, format: '$remote_addr [$time_local] \"$request\" $status ${X:-$y}'}]\n"
               "tests:\n  - name: a\n    input: '1.2.3.4 [25/Nov/2026:08:15:01 +0000] \"GET / HTTP/1.1\" 200 -'\n    expect: [{url.path: /}]\n")
seed("config", "pipelines: {}\n")
seed("config", "{pipelines: [1, 2], sources: 'x', unknown: &a [*a]}\n")

# --- buffer ---------------------------------------------------------------------------------
def record_op(doc, attrs=0):
    out = bytes([attrs << 4])  # op 0: a valid record
    for k in range(attrs):
        out += bytes([3]) + b"svc" + bytes([4]) + b"web1"
    out += struct.pack("<QqQ", 0xF00D, 100 * len(doc), 1764054901000000000) + bytes([len(doc)]) + doc
    return out

doc = b'{"message":"hello"}'
seed("buffer", b"\x01\x01" + record_op(doc) * 3)                                   # clean
seed("buffer", b"\x01\x01" + record_op(doc, 2) * 2 + b"\x05\x10" + b"garbage!" * 2)  # garbage tail
seed("buffer", b"\x01\x01" + record_op(doc) * 2 + b"\x06\x40")                     # zero tail
seed("buffer", b"\x01\x01" + record_op(doc) * 3 + b"\x07\x20\x00\x03" + b"\x09\x03" + record_op(doc))  # bit flip, new segment
seed("buffer", b"\x01\x01" + record_op(doc) * 3 + b"\x08\x05" + b"\x09\x43" + record_op(doc))         # cut, skipped id
seed("buffer", b"\x01\x01" + record_op(doc) * 3 + b"\x09\x00\x00\x1f\x00" + b"\x09\x02\x00\x00\x00")   # ledgers r and gone
seed("buffer", b"\x01\x01" + record_op(doc) + b"\x04\x1a" + bytes(26) + b"\x09\x01\x08SBLGjunk")      # bad payload, bad ledger
seed("buffer", b"\x00\x00" + b"\x1f\x00\x00\x00" + b"\x00" * 40)                     # raw segment
rng = random.Random(7)
for k in range(4):
    seed("buffer", bytes([1, 1]) + b"".join(record_op(bytes(rng.randrange(256) for _ in range(rng.randrange(40)))) for _ in range(3))
         + bytes([rng.choice([5, 6, 7, 8, 9]) for _ in range(1)]) + bytes(rng.randrange(256) for _ in range(12)))

# --- write ----------------------------------------------------------------------------------
for target, seeds in sorted(corpus.items()):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    for s in seeds[:40]:
        with open(os.path.join(d, hashlib.sha1(s).hexdigest()[:16]), "wb") as f:
            f.write(s)
    print(f"{target}: {min(len(seeds), 40)} seeds")
