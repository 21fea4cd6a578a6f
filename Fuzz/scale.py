#!/usr/bin/env python3
"""Pathological lengths: runs each fuzz target on generated inputs of size n and 4n (repeated
delimiters, deep keys, long partial-chunk runs, wide objects …) and prints the time of each and
their ratio. Linear code takes about 4 times as long for 4 times the input; a ratio above 10 is
flagged as quadratic. libFuzzer's own runs stay short (max_len 1–2 KB), where such costs hide.

    Fuzz/scale.py [SCALE [TARGET]]   # after Fuzz/run.sh --build-only; SCALE multiplies n (default 1)
"""
import json, os, subprocess, sys, tempfile, re

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, ".build", "release", "shipper-fuzz")
scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0

def docker(log, stream="stdout", **extra):
    return json.dumps(dict(log=log, stream=stream, time="2026-11-25T08:15:01Z", **extra), separators=(",", ":")) + "\n"

# (target, name, function of n → bytes); n is a count of repeated units.
CASES = [
    ("docker", "1-byte partial chunks", lambda n: "".join(docker("x") for _ in range(n))),
    ("docker", "attrs keys", lambda n: docker("hi\n", attrs={f"k{i}": "v" for i in range(n)})),
    ("docker", "escapes", lambda n: docker("\u00e9\n\t\"" * n)),
    ("cri", "P chunks", lambda n: "2026-11-25T08:15:01Z stdout P x\n" * n),
    ("auto", "raw lines", lambda n: "x\n" * n),
    ("nginx_access", "X-Forwarded-For list", lambda n: '10.0.0.1 - - [25/Nov/2026:08:15:01 +0000] "GET / HTTP/1.1" 200 1 "-" "-" "' + ", ".join(f"10.0.{i // 250}.{i % 250}" for i in range(n)) + '"'),
    ("nginx_access", "quotes", lambda n: '10.0.0.1 - - [25/Nov/2026:08:15:01 +0000] "' + '" "' * n),
    ("nginx_access", "spaces", lambda n: "1 " * n),
    ("nginx_access", "brackets", lambda n: "[" * n + "]" * n),
    ("nginx_error", "client: repeated", lambda n: "2026/11/25 08:15:01 [error] 7#7: *9 x" + ", client: 1.2.3.4" * n + ', server: x, request: "GET / HTTP/1.1", host: "x"'),
    ("nginx_error", "quoted tails", lambda n: "2026/11/25 08:15:01 [error] 7#7: *9 " + 'a, b: "' * n),
    ("jetty_request", "long request", lambda n: '10.0.0.1 - - [25/Nov/2026:08:15:01 +0000] "GET ' + "/a" * n + ' HTTP/1.1" 200 1 "' + '\\"' * n + '" "-"'),
    ("jetty_server", "stack trace", lambda n: "2026-11-25 08:15:00.123:WARN :oejs.HttpChannel:qtp1-17: /api\njava.lang.IllegalStateException: boom\n" + "\tat com.x.Y.z(Y.java:10)\n" * n),
    ("jetty_server", "braces", lambda n: "2026-11-25 08:15:00.123:INFO :oejs.Server:main: " + "{" * n + "}" * n),
    ("json", "wide object", lambda n: "{" + ",".join(f'"k{i}":{i}' for i in range(n)) + "}"),
    ("json", "dotted key", lambda n: '{"' + ".".join("a" for _ in range(n)) + '":1}'),
    ("json", "array of objects", lambda n: '{"a":[' + ",".join('{"x":1,"x":2}' for _ in range(n)) + "]}"),
    ("json", "deep arrays", lambda n: '{"a":' + "[" * min(n, 60) + "]" * min(n, 60) + "," * 0 + "}" + " " * n),
    ("regex", "long groups", lambda n: "1.2.3.4 [" + "x" * (10 * n) + "] 200 1 true " + "y" * n),
    ("multiline", "continuations", lambda n: "start\n" + "\tat a.B.c(B.java:1)\n" * n),
    ("multiline", "alternating streams", lambda n: "\x02e\n\tat x\n" * n),
    ("timestamp", "long format", lambda n: "%Y" * n + "\n" + "2026" * n),
    ("json_scanner", "long string", lambda n: '"' + "\\u00e9" * n + '"'),
    ("json_roundtrip", "wide object", lambda n: "{" + ",".join(f'"k{i}":"v"' for i in range(n)) + "}"),
    ("config", "many pipelines", lambda n: "pipelines:\n" + "".join(f"  p{i}:\n    stages: []\n" for i in range(n))),
    ("config", "${ that never close", lambda n: "data_dir: " + "${" * n + "\n"),
    ("config", "${A:- that never close", lambda n: "data_dir: " + "${A:-" * n + "\n"),
    ("config", "nested ? keys", lambda n: ("? " * n + "a\n") * 2),
    ("config", "flow nesting", lambda n: "data_dir: " + "[" * n + "]" * n + "\n"),
    ("config", "aliases", lambda n: "tests:\n  - name: t\n    input: x\n    fields:\n      a: &a [1, 2, 3]\n" + "".join(f"      k{i}: *a\n" for i in range(n))),
    ("config", "long unknown key", lambda n: "pipelinez" * n + ": 1\n"),
    ("config", "many stages", lambda n: "pipelines:\n  p:\n    stages:\n" + "      - {type: modify, set: {a: b}}\n" * n),
]

def run(target, data):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data.encode() if isinstance(data, str) else data)
        path = f.name
    try:
        env = dict(os.environ, FUZZ_TARGET=target, SWIFT_BACKTRACE="enable=no", ASAN_OPTIONS="malloc_context_size=0")
        out = subprocess.run([BIN, "-rss_limit_mb=4096", path], env=env, capture_output=True, text=True, timeout=600).stderr
        m = re.search(r"Executed .* in (\d+) ms", out)
        return int(m.group(1)) if m else None
    finally:
        os.unlink(path)

flagged = 0
only = sys.argv[2] if len(sys.argv) > 2 else None
for target, name, make in CASES:
    if only and target != only:
        continue
    n = max(1, int(2500 * scale))
    small, large = run(target, make(n)), run(target, make(4 * n))
    ratio = (large / max(small, 1)) if small is not None and large is not None else None
    bad = ratio is None or (ratio > 10 and large > 200)
    flagged += bad
    print(f"{target:15} {name:24} n={n:<6} {small if small is not None else 'FAIL':>6} ms  4n: {large if large is not None else 'FAIL':>6} ms"
          f"  ×{ratio:.1f}" if ratio is not None else "", "QUADRATIC?" if bad else "")
sys.exit(1 if flagged else 0)
