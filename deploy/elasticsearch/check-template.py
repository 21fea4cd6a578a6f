#!/usr/bin/env python3
"""Checks deploy/elasticsearch/index-template.json against the sources.

1. The file is valid JSON with the shape of a composable index template.
2. Every field path the parsers, decoders and metadata code create with
   FieldPath.intern("a.b") (plus the <namespace>.<name> fields of the access log parsers) is
   mapped: explicitly, or by a dynamic template of its parent object. A path whose parent is
   mapped as a leaf (keyword under an object) would be rejected by Elasticsearch.
3. ECS types of the key fields: ip for *.ip, long for numbers, date for @timestamp.

Run from the repository root: python3 deploy/elasticsearch/check-template.py
"""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy/elasticsearch/index-template.json"
SOURCE_DIRS = ["Sources/StageParsers", "Sources/InputFormats", "Sources/InputTail",
               "Sources/ShipperCore", "Sources/ShipperRuntime", "Sources/StageTransforms"]
# Prefixes the access log parsers build as `namespace + "." + name` (see AccessLogFormat.swift).
NAMESPACES = ["nginx.access", "jetty.access"]
errors = []


def fail(msg):
    errors.append(msg)


try:
    template = json.loads(TEMPLATE.read_text())
except (OSError, json.JSONDecodeError) as e:
    print(f"check-template: {TEMPLATE}: {e}", file=sys.stderr)
    sys.exit(1)

for key in ("index_patterns", "template", "priority"):
    if key not in template:
        fail(f"missing top-level key '{key}'")
if template.get("priority", 0) <= 100:
    fail("priority must be above 100 to override the built-in logs-*-* template")
mappings = template.get("template", {}).get("mappings", {})
props = mappings.get("properties", {})

# Flatten: dotted path -> mapping (leaves have "type" other than object/nested).
leaves, objects = {}, set()


def walk(prefix, node):
    for name, m in node.items():
        path = f"{prefix}{name}"
        if "properties" in m or m.get("type") in ("object", "nested"):
            objects.add(path)
            walk(path + ".", m.get("properties", {}))
        else:
            leaves[path] = m


walk("", props)
dynamic_paths = [d[next(iter(d))].get("path_match", "") for d in mappings.get("dynamic_templates", [])]

# Field paths in the sources.
emitted = set()
for d in SOURCE_DIRS:
    for f in (ROOT / d).rglob("*.swift"):
        text = f.read_text()
        emitted.update(re.findall(r'intern\("([A-Za-z0-9_@.]+)"\)', text))
        for name in re.findall(r'namespace \+ "\.([a-z_]+)"', text):
            for ns in NAMESPACES:
                emitted.add(f"{ns}.{name}")
        if f.name == "JettyRequestParser.swift":   # ns("identity") → jetty.access.identity
            emitted.update(f"jetty.access.{n}" for n in re.findall(r'\bns\("([a-z_]+)"\)', text))
if len(emitted) < 30:
    fail(f"found only {len(emitted)} field paths in the sources; did the code move?")

# A path that is a prefix of another emitted path is an object (e.g. intern("http")).
emitted_objects = {p for p in emitted if any(q.startswith(p + ".") for q in emitted)}


def covered(path):
    if path in leaves:
        return True
    for pattern in dynamic_paths:
        if pattern.endswith(".*") and path.startswith(pattern[:-1]):
            return True
    # Dynamic mapping (strings_as_keyword) covers children of a mapped namespace object.
    parent = path.rsplit(".", 1)[0] if "." in path else ""
    return parent in NAMESPACES and parent in objects


for path in sorted(emitted):
    if path in emitted_objects:
        if path in leaves:
            fail(f"'{path}' holds other fields but is mapped as {leaves[path].get('type')}")
        continue
    if path in objects:
        fail(f"'{path}' is a value in the sources but an object in the template")
    elif not covered(path):
        fail(f"'{path}' is set by the sources but not mapped in the template")
    # No prefix of a value may be mapped as a leaf.
    parts = path.split(".")
    for i in range(1, len(parts)):
        prefix = ".".join(parts[:i])
        if prefix in leaves:
            fail(f"'{path}' needs '{prefix}' to be an object, but it is mapped as {leaves[prefix].get('type')}")

expected_types = {"@timestamp": "date", "source.ip": "ip", "destination.ip": "ip",
                  "http.response.status_code": "long", "event.duration": "long", "log.offset": "long",
                  "error.stack_trace": "wildcard", "message": "text", "tags": "keyword"}
for path, ty in expected_types.items():
    got = leaves.get(path, {}).get("type")
    if got != ty:
        fail(f"'{path}' should be {ty}, is {got}")

unused = sorted(p for p in leaves if p not in emitted)
if errors:
    for e in errors:
        print(f"check-template: {e}", file=sys.stderr)
    sys.exit(1)
print(f"check-template: {len(emitted)} field paths from the sources are mapped; "
      f"mapped but set by configs or metadata only: {', '.join(unused) or 'none'}")
