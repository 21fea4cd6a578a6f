#!/usr/bin/env python3
"""Installs index-template.json on an Elasticsearch (or the repository's es-test-server) and
indexes events shipper produced (NDJSON files) as shipper's elasticsearch output would name
them, logs-<service.name>-YYYY.MM.DD with create actions. Fails when a document is rejected
(a field whose value does not fit its mapping) or when the template's types were not applied.

  python3 deploy/elasticsearch/ingest-check.py http://127.0.0.1:9200 out/*.ndjson
"""
import json
import pathlib
import sys
import urllib.request

TEMPLATE = pathlib.Path(__file__).resolve().parent / "index-template.json"


def call(base, method, path, body=None, content_type="application/json"):
    req = urllib.request.Request(base + path, data=body, method=method, headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, files = sys.argv[1].rstrip("/"), sys.argv[2:]
    ack = call(base, "PUT", "/_index_template/shipper-logs", TEMPLATE.read_bytes())
    if not ack.get("acknowledged"):
        print(f"ingest-check: template not acknowledged: {ack}", file=sys.stderr)
        return 1
    lines, count = [], 0
    for name in files:
        for line in open(name, encoding="utf-8"):
            if not line.strip():
                continue
            event = json.loads(line)
            service = (event.get("service") or {}).get("name", "_")
            day = event["@timestamp"][:10].replace("-", ".")
            lines.append(json.dumps({"create": {"_index": f"logs-{service}-{day}".lower()}}))
            lines.append(line.strip())
            count += 1
    if count == 0:
        print("ingest-check: no events in " + " ".join(files), file=sys.stderr)
        return 1
    result = call(base, "POST", "/_bulk?refresh=true", ("\n".join(lines) + "\n").encode(), "application/x-ndjson")
    rejected = [item["create"] for item in result["items"] if item["create"].get("error")]
    for r in rejected:
        print(f"ingest-check: {r['_index']}: {r['status']} {r['error'].get('reason')}", file=sys.stderr)
    mappings = call(base, "GET", "/logs-*/_mapping")
    problems = []
    for index, m in mappings.items():
        props = m["mappings"].get("properties", {})
        if props.get("@timestamp", {}).get("type") != "date":
            problems.append(f"{index}: @timestamp is not a date (was the template applied?)")
        ip = props.get("source", {}).get("properties", {}).get("ip")
        if ip is not None and ip.get("type") != "ip":
            problems.append(f"{index}: source.ip is {ip}")
    for p in problems:
        print(f"ingest-check: {p}", file=sys.stderr)
    if rejected or problems:
        return 1
    print(f"ingest-check: {count} events indexed into {len(mappings)} indices with the template, none rejected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
