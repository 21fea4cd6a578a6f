#!/usr/bin/env python3
"""Writes the demo's container logs, laid out as Docker lays them out on a Swarm node:
containers/<id>/<id>-json.log (json-file driver) and containers/<id>/config.v2.json.

The two containers are the companynews stack's tasks: `static` (nginx) and `dynamic` (Jetty).
Run from this folder; the output is committed so the demo needs no Python.
"""
import json
import os

NGINX_ID = "3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a"
JETTY_ID = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
NODE_ID = "ln4e5jr8q2xh7k1v6m3c9p0ws"


def config(cid, name, image, service, slot, task_id):
    labels = {
        "com.docker.stack.namespace": "companynews",
        "com.docker.swarm.node.id": NODE_ID,
        "com.docker.swarm.service.id": "x" * 25,
        "com.docker.swarm.service.name": service,
        "com.docker.swarm.task": "",
        "com.docker.swarm.task.id": task_id,
        "com.docker.swarm.task.name": f"{service}.{slot}.{task_id}",
    }
    return {
        "ID": cid,
        "Created": "2026-11-25T08:00:00.000000000Z",
        "Path": "/docker-entrypoint.sh",
        "Config": {"Hostname": cid[:12], "Image": image, "Labels": labels},
        "Image": "sha256:" + "ab" * 32,
        "Name": "/" + f"{service}.{slot}.{task_id}",
        "LogPath": f"/var/lib/docker/containers/{cid}/{cid}-json.log",
    }


def line(log, stream, time):
    return json.dumps({"log": log, "stream": stream, "time": time}, separators=(",", ":")) + "\n"


def nginx_lines():
    out = []
    t = "2026-11-25T08:15:%02d.%09dZ"
    access = [
        '203.0.113.7 - - [25/Nov/2026:08:15:01 +0000] "GET / HTTP/1.1" 200 612 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0" "-"',
        '203.0.113.7 - - [25/Nov/2026:08:15:01 +0000] "GET /css/site.css HTTP/1.1" 200 4711 "https://news.example.com/" "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0" "-"',
        '10.0.1.5 - - [25/Nov/2026:08:15:02 +0000] "GET /news/2026/11/launch.html?utm_source=mail HTTP/1.1" 200 18234 "-" "curl/8.5.0" "198.51.100.23, 10.0.0.2"',
        '10.0.1.5 - alice [25/Nov/2026:08:15:03 +0000] "POST /api/comments HTTP/1.1" 201 87 "https://news.example.com/news/2026/11/launch.html" "Mozilla/5.0 (Macintosh) Safari/605.1.15" "-"',
        '198.51.100.99 - - [25/Nov/2026:08:15:04 +0000] "GET /favicon.ico HTTP/1.1" 404 153 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0" "-"',
        '2001:db8::7 - - [25/Nov/2026:08:15:05 +0000] "GET /feed.xml HTTP/2.0" 304 0 "-" "FeedFetcher/1.0" "-"',
        '203.0.113.50 - - [25/Nov/2026:08:15:06 +0000] "\\x16\\x03\\x01\\x00" 400 157 "-" "-" "-"',
    ]
    errors = [
        '2026/11/25 08:15:04 [error] 29#29: *12 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 198.51.100.99, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "news.example.com"',
        '2026/11/25 08:15:07 [error] 29#29: *15 connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.1.5, server: localhost, request: "GET /api/stories HTTP/1.1", upstream: "http://10.0.2.8:8080/api/stories", host: "news.example.com"',
        "2026/11/25 08:15:08 [notice] 1#1: signal 1 (SIGHUP) received from 42, reconfiguring",
    ]
    for i, a in enumerate(access):
        out.append(line(a + "\n", "stdout", t % (1 + i, 120000000 + i)))
    for i, e in enumerate(errors):
        out.append(line(e + "\n", "stderr", t % (4 + 2 * i, 500000000 + i)))
    # A 40 KiB request line: Docker splits it into 16 KiB chunks without a trailing newline.
    big = '203.0.113.9 - - [25/Nov/2026:08:15:09 +0000] "GET /search?q=' + "x" * 40000 + ' HTTP/1.1" 414 0 "-" "scanner/0.1" "-"\n'
    for k in range(0, len(big), 16384):
        out.append(line(big[k:k + 16384], "stdout", t % (9, 900000000)))
    out.sort(key=lambda l: json.loads(l)["time"])
    return out


def jetty_lines():
    t = "2026-11-25T08:15:%02d.%09dZ"
    out = []
    server = [
        "2026-11-25 08:14:58.101:INFO::main: Logging initialized @412ms to org.eclipse.jetty.util.log.StdErrLog",
        "2026-11-25 08:14:59.377:INFO:oejs.Server:main: jetty-9.4.56.v20240826; built: 2024-08-26T17:15:05.868Z; git: ec6782ff5ead824dabdcf47fa98f90a4aedff401; jvm 17.0.13+11",
        "2026-11-25 08:15:00.012:INFO:oejsh.ContextHandler:main: Started o.e.j.w.WebAppContext@5f2108b5{companynews,/,file:///var/lib/jetty/webapps/ROOT/,AVAILABLE}{/var/lib/jetty/webapps/ROOT.war}",
        "2026-11-25 08:15:00.045:INFO:oejs.AbstractConnector:main: Started ServerConnector@6d21714c{HTTP/1.1, (http/1.1)}{0.0.0.0:8080}",
        "2026-11-25 08:15:00.046:INFO:oejs.Server:main: Started @2371ms",
    ]
    for i, s in enumerate(server):
        out.append(line(s + "\n", "stderr", "2026-11-25T08:15:00.%09dZ" % (1000 + i)))
    trace = [
        "2026-11-25 08:15:07.311:WARN:oejs.HttpChannel:qtp1989972246-17: /api/stories",
        "java.lang.IllegalStateException: story cache not ready",
        "\tat com.example.companynews.StoryCache.get(StoryCache.java:88)",
        "\tat com.example.companynews.StoriesServlet.doGet(StoriesServlet.java:41)",
        "\tat javax.servlet.http.HttpServlet.service(HttpServlet.java:687)",
        "\tat org.eclipse.jetty.servlet.ServletHolder.handle(ServletHolder.java:799)",
        "Caused by: java.sql.SQLTransientConnectionException: pool-1 - Connection is not available, request timed out after 30000ms.",
        "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
        "\tat com.example.companynews.StoryCache.load(StoryCache.java:120)",
        "\t... 12 more",
    ]
    for i, s in enumerate(trace):
        out.append(line(s + "\n", "stderr", t % (7, 311000000 + i)))
    requests = [
        '10.0.0.2 - - [25/Nov/2026:08:15:02 +0000] "GET /api/stories HTTP/1.1" 200 5120 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"',
        '10.0.0.2 - - [25/Nov/2026:08:15:03 +0000] "POST /api/comments HTTP/1.1" 201 87 "https://news.example.com/news/2026/11/launch.html" "Mozilla/5.0 (Macintosh) Safari/605.1.15"',
        '10.0.0.2 - - [25/Nov/2026:08:15:07 +0000] "GET /api/stories HTTP/1.1" 500 342 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"',
    ]
    for i, r in enumerate(requests):
        out.append(line(r + "\n", "stdout", t % (2 + i * 2, 700000000 + i)))
    out.sort(key=lambda l: json.loads(l)["time"])
    return out


def write(cid, cfg, lines):
    d = os.path.join("containers", cid)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.v2.json"), "w") as f:
        json.dump(cfg, f, separators=(",", ":"))
    with open(os.path.join(d, cid + "-json.log"), "w") as f:
        f.writelines(lines)


write(NGINX_ID, config(NGINX_ID, "static", "nginx:1.27-alpine", "companynews_static", 1, "q1w2e3r4t5y6u7i8o9p0a1s2d"), nginx_lines())
write(JETTY_ID, config(JETTY_ID, "dynamic", "jetty:9.4-jre17", "companynews_dynamic", 1, "z9x8c7v6b5n4m3l2k1j0h9g8f"), jetty_lines())
