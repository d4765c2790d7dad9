#!/usr/bin/env python3
"""Scrapes a /metrics URL, parses it with the Prometheus Python client's own text-format parser
(Debian's python3-prometheus-client), checks what the format requires of every bootcfg_ family
(a TYPE and a HELP line; histograms with cumulative buckets ending in +Inf equal to _count), and
prints each sample as one normalized line: NAME{k="v",...} VALUE (labels sorted).
Usage: metrics_scrape.py URL [BEARER-TOKEN]"""

import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

url = sys.argv[1]
req = urllib.request.Request(url)
if len(sys.argv) > 2:
    req.add_header("Authorization", "Bearer " + sys.argv[2])
with urllib.request.urlopen(req, timeout=10) as r:
    ctype = r.headers.get("Content-Type", "")
    text = r.read().decode()
if not ctype.startswith("text/plain"):
    sys.exit("Content-Type %r is not Prometheus' text format" % ctype)

declared = {}
for line in text.splitlines():
    if line.startswith("# TYPE ") or line.startswith("# HELP "):
        parts = line.split(" ", 3)
        declared.setdefault(parts[2], set()).add(parts[1])

problems = []
for family in text_string_to_metric_families(text):
    if not family.name.startswith("bootcfg_"):
        continue
    raw = family.name + ("_total" if family.type == "counter" else "")
    if declared.get(raw, declared.get(family.name)) != {"TYPE", "HELP"}:
        problems.append("%s: missing TYPE or HELP" % family.name)
    if family.type == "histogram":
        series = {}
        for s in family.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, {})[s.name[len(family.name):] + s.labels.get("le", "")] = s.value
        for key, v in series.items():
            buckets = sorted(((float(k[len("_bucket"):]), n) for k, n in v.items()
                              if k.startswith("_bucket")))
            counts = [n for _, n in buckets]
            if counts != sorted(counts) or buckets[-1][0] != float("inf") or counts[-1] != v["_count"]:
                problems.append("%s%s: buckets not cumulative up to +Inf = _count" % (family.name, key))
    for s in family.samples:
        labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        value = int(s.value) if float(s.value).is_integer() else s.value
        print("%s{%s} %s" % (s.name, labels, value))
if problems:
    sys.exit("\n".join(problems))
