#!/usr/bin/env python3
"""ctest promtool_metrics: the live daemon's /metrics, after every kind of traffic, passes
`promtool check metrics` without a single complaint; every family it declares has samples; and
the samples the traffic must have moved did move.

Usage: check_metrics.py CHATROOMD PROMTOOL
"""

import subprocess
import sys

from live_daemon import Failure, family_of, parse_exposition, run_with_daemon

# A counter without _total, a gauge with it, a unit-less duration: promtool must object, or
# its silence below proves nothing.
BAD_EXPOSITION = """# HELP chatroomd_bad_requests Bad.
# TYPE chatroomd_bad_requests counter
chatroomd_bad_requests 1
# HELP chatroomd_bad_open_total Bad.
# TYPE chatroomd_bad_open_total gauge
chatroomd_bad_open_total 1
"""

# (sample name, labels it must carry, lowest value the traffic leaves).
MOVED = [
    ("chatroomd_messages_accepted_total", {}, 1),
    ("chatroomd_deliveries_total", {}, 1),
    ("chatroomd_delivery_latency_seconds_count", {}, 1),
    ("chatroomd_requests_total", {"endpoint": "join", "status": "200"}, 2),
    ("chatroomd_requests_total", {"endpoint": "poll", "status": "200"}, 1),
    ("chatroomd_requests_total", {"endpoint": "history", "status": "200"}, 1),
    ("chatroomd_requests_total", {"endpoint": "reload", "status": "204"}, 1),
    ("chatroomd_requests_total", {"endpoint": "send", "status": "429"}, 1),
    ("chatroomd_error_responses_total", {"code": "bad_cursor"}, 1),
    ("chatroomd_error_responses_total", {"code": "unauthorized"}, 1),
    ("chatroomd_error_responses_total", {"code": "room_not_found"}, 1),
    ("chatroomd_error_responses_total", {"code": "rate_limited"}, 1),
    ("chatroomd_room_migrations_total", {"trigger": "admin"}, 1),
    ("chatroomd_store_batch_writes_count", {}, 1),
    ("chatroomd_store_batch_latency_seconds_count", {}, 1),
    ("chatroomd_loop_lag_seconds_count", {"sect": "normal-1"}, 1),
    ("chatroomd_presence_aggregations_total", {"sect": "normal-1"}, 1),
    ("chatroomd_rooms_by_tier", {"sect": "vip", "tier": "0"}, 1),
    ("chatroomd_build_info", {}, 1),
]


def promtool_check(promtool, text):
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def check(promtool):
    def body(daemon, text):
        code, out = promtool_check(promtool, BAD_EXPOSITION)
        if code == 0:
            raise Failure("promtool check metrics passed a bad exposition: %s" % out)
        code, out = promtool_check(promtool, text)
        if code != 0 or out:
            raise Failure("promtool check metrics (exit %d):\n%s" % (code, out))
        types, samples = parse_exposition(text)
        for name, _, _ in samples:
            if family_of(name, types) is None:
                raise Failure("sample %s has no TYPE line" % name)
        empty = sorted(set(types) - {family_of(n, types) for n, _, _ in samples})
        if empty:
            raise Failure("families without samples after the traffic: %s" % ", ".join(empty))
        for name, labels, least in MOVED:
            value = sum(v for n, l, v in samples
                        if n == name and all(l.get(k) == x for k, x in labels.items()))
            if value < least:
                raise Failure("%s%s is %g, expected at least %g" % (name, labels, value, least))
        print("promtool check metrics: %d families, %d samples, no complaint"
              % (len(types), len(samples)))
    return body


if __name__ == "__main__":
    sys.exit(run_with_daemon(sys.argv[1], check(sys.argv[2])))
