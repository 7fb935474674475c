"""The real chatroomd on 127.0.0.1:0 with a temporary data directory and JWT auth, driven
through every kind of traffic that makes a metric family move, then scraped.

Shared by check_metrics.py (promtool check metrics) and check_dashboard.py (the dashboard's and
the alert rules' metric names against a live scrape). Standard library only.
"""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

SECRET = "observability-test-secret-0123456789"

MAIN_CONFIG = """
log { level: "warn" }
sects_file: "sects.textproto"
rooms { send_rate_per_s: 1 send_burst: 1 }
presence { aggregation_period_ms: 100 }
traffic {
  tiers { min_online: 0 poll_interval_ms: 0 hold_ms: 0 }
  tiers { min_online: 1000 poll_interval_ms: 1000 hold_ms: 200 }
}
"""

SECTS_CONFIG = """
sects { name: "normal-1" threads: 1 ranges { start: 0 end: 0xFFFFFFFFFFFFFFFF } }
sects { name: "vip" vip: true threads: 1 }
"""


class Failure(Exception):
    pass


class LiveDaemon:
    """Starts chatroomd; stop() ends it (by its PID) and removes the directory."""

    def __init__(self, binary):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="chatroomd-obs-")
        self.config = os.path.join(self.dir, "chatroomd.textproto")
        self.secret = os.path.join(self.dir, "jwt.secret")
        with open(self.config, "w") as f:
            f.write(MAIN_CONFIG)
        with open(os.path.join(self.dir, "sects.textproto"), "w") as f:
            f.write(SECTS_CONFIG)
        with open(self.secret, "w") as f:
            f.write(SECRET + "\n")
        os.mkdir(os.path.join(self.dir, "data"))
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "--config", self.config, "--listen", "127.0.0.1:0",
             "--data-dir", os.path.join(self.dir, "data"), "--jwt-secret-file", self.secret],
            stdout=subprocess.PIPE, stderr=self.stderr, text=True, cwd=self.dir)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            text = self.stderr_text()
            self.stop()
            raise Failure("chatroomd did not start: %r\n%s" % (line, text))
        self.port = int(m.group(1))

    def stderr_text(self):
        self.stderr.flush()
        with open(self.stderr.name) as f:
            return f.read()[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def token(self, user, admin=False):
        args = [self.binary, "token", "--user", user, "--jwt-secret-file", self.secret]
        if admin:
            args.append("--admin")
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

    def request(self, method, path, token=None, body=None, timeout=15):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Authorization": "Bearer " + token} if token else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read().decode()
        conn.close()
        return r.status, data

    def expect(self, status, method, path, token=None, body=None):
        got, data = self.request(method, path, token, body)
        if got != status:
            raise Failure("%s %s: %d, expected %d: %s" % (method, path, got, status, data))
        return json.loads(data) if data.startswith("{") else data

    def drive_traffic(self):
        """Join, a held poll answered by a send, history, online, stats, errors (bad cursor,
        401, 404, 429), a reload and a move to the VIP sect: every family gets samples."""
        alice, bob, admin = self.token("alice"), self.token("bob"), self.token("ops", True)
        room = "obs-room"
        self.expect(200, "POST", "/v1/rooms/%s/join" % room, alice)
        cursor = self.expect(200, "POST", "/v1/rooms/%s/join" % room, bob)["cursor"]
        held = {}

        def poll():
            held["r"] = self.request(
                "GET", "/v1/rooms/%s/poll?cursor=%s&timeout_ms=10000" % (room, cursor), bob)

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.3)  # held by then, or answered at once with the send: either is fine
        self.expect(200, "POST", "/v1/rooms/%s/messages" % room, alice, {"body": "hi"})
        t.join(15)
        if held.get("r", (0,))[0] != 200:
            raise Failure("the held poll was not answered 200: %r" % (held.get("r"),))
        self.expect(200, "GET", "/v1/rooms/%s/messages?limit=10" % room, bob)
        self.expect(200, "GET", "/v1/rooms/%s/online" % room, bob)
        self.expect(200, "GET", "/v1/rooms/%s/stats" % room, bob)
        self.expect(400, "GET", "/v1/rooms/%s/poll?cursor=%%21%%21&timeout_ms=0" % room, bob)
        self.expect(401, "GET", "/v1/rooms/%s/poll?timeout_ms=0" % room)
        self.expect(404, "GET", "/v1/rooms/no-such-room/poll?timeout_ms=0", bob)
        statuses = [self.request("POST", "/v1/rooms/%s/messages" % room, alice,
                                 {"body": "burst %d" % i})[0] for i in range(4)]
        if 429 not in statuses:
            raise Failure("no 429 from a burst past send_burst 1: %r" % statuses)
        self.expect(204, "POST", "/v1/admin/reload", admin)
        self.expect(200, "PUT", "/v1/admin/rooms/%s" % room, admin, {"vip": True})
        self.expect(200, "GET", "/v1/admin/sects", admin)
        time.sleep(1.2)  # an upkeep tick or more: presence and tier gauges published

    def scrape(self):
        status, text = self.request("GET", "/metrics")
        if status != 200:
            raise Failure("GET /metrics: %d" % status)
        return text


def parse_exposition(text):
    """{family: type} from the TYPE lines, and [(sample name, {label: value}, value)]."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$", line)
            if not m:
                raise Failure("unparsable sample line: %r" % line)
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                     m.group(2) or ""))
            samples.append((m.group(1), labels, float(m.group(3))))
    return types, samples


def family_of(sample_name, types):
    if sample_name in types:
        return sample_name
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample_name[: -len(suffix)] if sample_name.endswith(suffix) else None
        if base and types.get(base) == "histogram":
            return base
    return None


def run_with_daemon(binary, body):
    """Starts the daemon, drives the traffic, calls body(daemon, scrape text); 0 or 1."""
    daemon = None
    try:
        daemon = LiveDaemon(binary)
        daemon.drive_traffic()
        body(daemon, daemon.scrape())
        return 0
    except Failure as e:
        print("FAIL:", e)
        if daemon:
            print("---- chatroomd stderr ----\n" + daemon.stderr_text())
        return 1
    finally:
        if daemon:
            daemon.stop()
