#!/usr/bin/env python3
"""ctest grafana_dashboard: the Grafana dashboard (docs/grafana/chatroomd-dashboard.json) and the
example alert rules (docs/prometheus/chatroomd-alerts.yml) refer only to metrics, and labels,
that a live daemon exposes; every panel's PromQL parses (promtool check rules on a generated
file with one recording rule per expression); the alert rules pass promtool check rules and
their unit tests (promtool test rules).

Usage: check_dashboard.py CHATROOMD PROMTOOL SOURCE_DIR
"""

import json
import os
import re
import subprocess
import sys
import tempfile

from live_daemon import Failure, family_of, parse_exposition, run_with_daemon

# Labels Prometheus adds at scrape time; not in the exposition.
TARGET_LABELS = {"instance", "job"}
# Grafana's variables, as Prometheus would see them once Grafana substituted them.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
                "$instance": ".*"}
METRIC = re.compile(r"\b((?:chatroomd|process)_[a-z0-9_]+)(\{[^}]*\})?")
MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def dashboard_exprs(dashboard):
    """(panel title, expr) for every target of every panel, rows' nested panels included."""
    if dashboard.get("__inputs", [{}])[0].get("name") != "DS_PROMETHEUS":
        raise Failure("the dashboard's first __inputs entry is not DS_PROMETHEUS")
    out = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            targets = p.get("targets", [])
            if p.get("type") != "row" and not targets:
                raise Failure("panel %r has no query" % p.get("title"))
            for t in targets:
                for ds in (p.get("datasource"), t.get("datasource")):
                    if ds and ds.get("uid") != "${DS_PROMETHEUS}":
                        raise Failure("panel %r: datasource %r, not ${DS_PROMETHEUS}"
                                      % (p.get("title"), ds))
                out.append((p.get("title"), t["expr"]))

    walk(dashboard["panels"])
    return out


def check_names(where, expr, labels_of):
    """Every chatroomd_/process_ metric `expr` names is exposed, with the labels it uses."""
    names = []
    for m in METRIC.finditer(expr):
        name = m.group(1)
        if name not in labels_of:
            raise Failure("%s: %s is not in the daemon's /metrics" % (where, name))
        names.append(name)
        for label in MATCHER_LABEL.findall(m.group(2) or ""):
            if label not in labels_of[name] | TARGET_LABELS:
                raise Failure("%s: %s has no label %s" % (where, name, label))
    if not names and "up{" not in expr:
        raise Failure("%s: no chatroomd metric in %r" % (where, expr))
    known = set().union(*(labels_of[n] for n in names)) | TARGET_LABELS | {"le"}
    for group in GROUPING.findall(expr):
        for label in filter(None, (s.strip() for s in group.split(","))):
            if label not in known:
                raise Failure("%s: groups by %s, a label none of its metrics has" % (where, label))


def promtool(promtool_bin, *args):
    r = subprocess.run([promtool_bin, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure("promtool %s:\n%s%s" % (" ".join(args), r.stdout, r.stderr))


def check(promtool_bin, source_dir):
    def body(daemon, text):
        types, samples = parse_exposition(text)
        labels_of = {}
        for name, labels, _ in samples:
            labels_of.setdefault(name, set()).update(labels)
            labels_of.setdefault(family_of(name, types), set()).update(labels)
        with open(os.path.join(source_dir, "docs/grafana/chatroomd-dashboard.json")) as f:
            exprs = dashboard_exprs(json.load(f))
        rules = ["groups:", "  - name: dashboard", "    rules:"]
        for i, (title, expr) in enumerate(exprs):
            check_names("panel %r" % title, expr, labels_of)
            for var, value in GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            if "$" in expr:
                raise Failure("panel %r: an unknown Grafana variable in %r" % (title, expr))
            rules += ["      - record: dashboard:expr_%d" % i, "        expr: %s" % json.dumps(expr)]
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
            f.write("\n".join(rules) + "\n")
            f.flush()
            promtool(promtool_bin, "check", "rules", f.name)
        alerts = os.path.join(source_dir, "docs/prometheus/chatroomd-alerts.yml")
        promtool(promtool_bin, "check", "rules", alerts)
        promtool(promtool_bin, "test", "rules",
                 os.path.join(source_dir, "tests/observability/alerts_test.yml"))
        alert_exprs = 0
        with open(alerts) as f:
            # The expressions are the text after `expr:` up to the next key (one- or multi-line).
            for block in re.findall(r"expr: \|?\n?(.*?)\n\s+(?:for|labels):", f.read(), re.S):
                check_names("alert rule", block, labels_of)
                alert_exprs += 1
        if alert_exprs < 5:
            raise Failure("found only %d alert expressions in %s" % (alert_exprs, alerts))
        print("dashboard: %d expressions; alert rules: %d; all names live, promtool happy"
              % (len(exprs), alert_exprs))
    return body


if __name__ == "__main__":
    sys.exit(run_with_daemon(sys.argv[1], check(sys.argv[2], sys.argv[3])))
