#!/usr/bin/env python3
"""A truncated events topic is detected, never used.

On `keepwatch dev-broker` (librdkafka's mock cluster keeps at most 5 MiB per
partition and drops the oldest records past it), with a real node, a real
PostgreSQL and kcat:

  1. A node runs; a tenant signs up and creates monitors through the API.
     Then 6 MiB of records are produced into partition 0 of
     keepwatch.events.v1 with kcat: the dev broker drops the partition's
     oldest records and says so on stderr ("RECORDS LOST ... partition 0").
  2. The node stops cleanly (its snapshots now cover the partition past the
     gap) and the dashboard read model is set back to partition 0's start, as
     a read model restored from an old backup would be. Restarted, the node
     recovers (recovery needs nothing below the gap), but the dashboard
     projection stops with an error naming the topic, the partition and both
     offsets; /readyz answers 503 and says that; the dashboard reads nothing
     from the partial log (its offset stays where it was). (Other projections
     may stop too: the flood outruns them, and the records they had not read
     yet are gone.)
  3. With the node stopped, another 6 MiB goes to partition 0: now recovery
     needs records that are gone, and the node refuses to start with the
     documented error.

Exits non-zero with the reasons.
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import http.client

PARTITIONS = 4
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, body=None, token=None, timeout=15):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = "Bearer " + token
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        return r.status, json.loads(data) if data else None
    except ValueError:
        return r.status, data


def psql(db, sql):
    out = subprocess.run(["psql", db, "-XAtqc", sql], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("psql: %s" % out.stderr)
    return out.stdout.strip()


def flood(kcat, bootstrap, partition, mib):
    """Produces `mib` MiB of 100 KiB records into keepwatch.events.v1/partition."""
    payload = ("x" * (100 * 1024) + "\n") * (mib * 10 + 2)
    out = subprocess.run([kcat, "-P", "-b", bootstrap, "-t", "keepwatch.events.v1", "-p", str(partition),
                          "-X", "message.max.bytes=1000000"],
                         input=payload, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError("kcat: %s" % out.stderr)


def wait_for(what, pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    fail("%s: not within %d s" % (what, timeout))
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keepwatch", required=True)
    ap.add_argument("--pg", required=True, help="ops/pg.sh")
    ap.add_argument("--kcat", required=True)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="kw-kafka-truncation-")
    os.chmod(work, 0o755)
    data = os.path.join(work, "data")
    os.makedirs(data)
    pg_dir = os.path.join(work, "pg")
    pg = subprocess.run([a.pg, "start", pg_dir], capture_output=True, text=True)
    if pg.returncode != 0:
        print("ops/pg.sh start failed:", pg.stderr)
        return 1
    db = pg.stdout.strip()
    broker_log = os.path.join(work, "dev-broker.log")
    node_log = os.path.join(work, "node.log")
    broker = subprocess.Popen([a.keepwatch, "dev-broker", "--partitions", str(PARTITIONS)],
                              stdout=subprocess.PIPE, stderr=open(broker_log, "ab"))
    node = None
    try:
        bootstrap = broker.stdout.readline().decode().strip()
        port = free_port()
        env = dict(os.environ)
        env.update({"KEEPWATCH_LOG_BACKEND": "kafka", "KEEPWATCH_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "KEEPWATCH_NODE_DATA_DIR": data, "KEEPWATCH_DATABASE_URL": db,
                    "KEEPWATCH_GATEWAY_PORT": str(port), "KEEPWATCH_LOG_PARTITIONS": str(PARTITIONS),
                    "KEEPWATCH_SNAPSHOTS_INTERVAL_S": "1", "KEEPWATCH_NODE_LOG_LEVEL": "warn"})

        def start():
            p = subprocess.Popen([a.keepwatch, "serve"], env=env, stdout=open(node_log, "ab"),
                                 stderr=subprocess.STDOUT)
            deadline = time.time() + 60
            while time.time() < deadline and p.poll() is None:
                try:
                    st, body = request(port, "GET", "/readyz", timeout=2)
                    if st in (200, 503) and isinstance(body, dict):
                        return p
                except OSError:
                    pass
                time.sleep(0.1)
            return p

        def readyz():
            try:
                return request(port, "GET", "/readyz", timeout=2)
            except OSError:
                return None, None

        # 1. A tenant and its monitors, then the flood.
        node = start()
        if node.poll() is not None:
            raise RuntimeError("the node did not start")
        st, res = request(port, "POST", "/api/v1/auth/signup",
                          {"email": "o@trunc.test", "password": "password-xyz-1", "tenant_name": "T"})
        if st not in (200, 201):
            raise RuntimeError("signup: %d %s" % (st, res))
        token = res["access_token"]
        for i in range(3):
            st, res = request(port, "POST", "/api/v1/monitors",
                              {"name": "m%d" % i, "kind": "http", "interval_s": 300,
                               "url": "https://example.invalid/%d" % i}, token=token)
            if st != 201:
                raise RuntimeError("create monitor: %d %s" % (st, res))
        flood(a.kcat, bootstrap, 0, 6)
        lost = wait_for("the dev broker says partition 0 lost records",
                        lambda: re.search(r"RECORDS LOST: keepwatch\.events\.v1 partition 0 dropped every "
                                          r"record below offset (\d+)", open(broker_log).read()), 15)
        if lost:
            print("dev broker:", lost.group(0), flush=True)
        status = subprocess.run([a.keepwatch, "dev-broker", "status", bootstrap], capture_output=True, text=True,
                                timeout=60)
        if status.returncode != 1 or "keepwatch.events.v1 partition 0: offsets" not in status.stdout or \
                "RECORDS LOST" not in status.stdout:
            fail("dev-broker status names the lost records and exits 1: %d %s %s" %
                 (status.returncode, status.stdout, status.stderr))
        # The node's snapshots and projections move past the flood.
        time.sleep(3)

        # 2. Clean stop; the dashboard set back to the start of partition 0.
        node.send_signal(signal.SIGTERM)
        if node.wait(timeout=60) != 0:
            fail("clean stop exited with %d" % node.returncode)
        psql(db, "UPDATE projection_offsets SET next_offset = 0 WHERE projection = 'dashboard' "
                 "AND topic = 'keepwatch.events.v1' AND log_partition = 0")
        node = start()
        if node.poll() is not None:
            fail("the node did not start although recovery needs nothing below the gap (exit %d)" %
                 node.returncode)
        else:
            why = wait_for("/readyz says the dashboard stopped on the truncated log",
                           lambda: (lambda r: r[0] == 503 and r[1] and
                                    "projection dashboard stopped" in " ".join(r[1].get("problems", [])) and
                                    r)(readyz()),
                           30)
            if why:
                text = " ".join(why[1]["problems"])
                print("/readyz:", why[0], text, flush=True)
                if not re.search(r"projection dashboard stopped: the log is truncated: keepwatch\.events\.v1 "
                                 r"partition 0 begins at offset \d+ but projection dashboard needs it from "
                                 r"offset 0", text):
                    fail("/readyz problems do not name the topic, partition and both offsets: %s" % text)
            time.sleep(2)
            at = psql(db, "SELECT next_offset FROM projection_offsets WHERE projection = 'dashboard' "
                          "AND topic = 'keepwatch.events.v1' AND log_partition = 0")
            if at != "0":
                fail("the dashboard read from the partial log: its offset moved to %s" % at)
            node.send_signal(signal.SIGKILL)
            node.wait()

        # 3. More records lost below what recovery needs: the node refuses.
        flood(a.kcat, bootstrap, 0, 6)
        time.sleep(1.5)
        node = subprocess.Popen([a.keepwatch, "serve"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            out, _ = node.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            node.kill()
            out, _ = node.communicate()
            fail("the node started on a log truncated below what recovery needs")
        text = out.decode(errors="replace")
        if node.returncode == 0:
            fail("the node exited 0 on a truncated log")
        m = re.search(r"the log is truncated: keepwatch\.events\.v1 partition 0 begins at offset (\d+) but "
                      r"recovery of the write side needs it from offset (\d+)", text)
        if not m:
            fail("the node's error does not name the topic, partition and both offsets: %s" % text[-2000:])
        else:
            print("node refused to start:", m.group(0), flush=True)
    finally:
        if node and node.poll() is None:
            node.kill()
        if broker.poll() is None:
            broker.send_signal(signal.SIGTERM)
            try:
                broker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                broker.kill()
        subprocess.run([a.pg, "stop", pg_dir], capture_output=True)
    if failures:
        print("%d failure(s); logs in %s" % (len(failures), work))
        return 1
    subprocess.run(["rm", "-rf", work])
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
