#!/usr/bin/env python3
"""The analytics contract, checked by an independent consumer.

Starts `keepwatch dev-broker`, has a node write a scripted history to it
(kafka_scenario), then reads every topic back with kcat, Debian's Kafka
client, as an analytics team would, and checks what events/README.md
promises: every record is JSON that validates against its JSON Schema; the
key is the tenant and the partition is murmur2(tenant) mod P; the ce_*
headers agree with the record; each aggregate's records arrive in seq order
with no gap; each tenant's domain events form an unbroken SHA-256 chain.
Exits non-zero (with the reasons) when any promise is broken.
"""
import argparse
import collections
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile

import jsonschema

PARTITIONS = 4


def murmur2(data: bytes) -> int:
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    n = len(data) // 4
    for i in range(n):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = data[4 * n:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def consume(kcat, bootstrap, topic):
    out = subprocess.run(
        [kcat, "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-J", "-q",
         "-X", "isolation.level=read_committed"],
        check=True, capture_output=True, text=True, timeout=120)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keepwatch", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--kcat", default="kcat")
    ap.add_argument("--schemas", required=True)
    args = ap.parse_args()

    problems = []
    broker = subprocess.Popen([args.keepwatch, "dev-broker", "--partitions", str(PARTITIONS)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        bootstrap = broker.stdout.readline().strip()
        if not bootstrap.startswith("127.0.0.1:"):
            sys.exit(f"dev-broker printed no bootstrap address: {bootstrap!r}")
        with tempfile.TemporaryDirectory() as data:
            run = subprocess.run([args.scenario, bootstrap, data], capture_output=True, text=True,
                                 timeout=180)
            if run.returncode != 0:
                sys.exit(f"scenario failed ({run.returncode}): {run.stdout}\n{run.stderr[-4000:]}")
        events = consume(args.kcat, bootstrap, "keepwatch.events.v1")
        checks = consume(args.kcat, bootstrap, "keepwatch.checks.v1")
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()

    schemas = {}
    for path in pathlib.Path(args.schemas).glob("*.json"):
        schemas[path.stem] = json.loads(path.read_text())

    def check_record(msg, topic):
        raw = msg["payload"]
        try:
            rec = json.loads(raw)
        except ValueError as e:
            problems.append(f"{topic}@{msg['offset']}: not JSON: {e}")
            return None
        schema = schemas.get(rec.get("type"))
        if schema is None:
            problems.append(f"{topic}@{msg['offset']}: no schema for type {rec.get('type')!r}")
            return None
        try:
            jsonschema.Draft202012Validator(schema).validate(rec)
        except jsonschema.ValidationError as e:
            problems.append(f"{topic}@{msg['offset']} {rec['type']}: schema: {e.message}")
        if msg["key"] != rec["tenantid"]:
            problems.append(f"{topic}@{msg['offset']}: key {msg['key']!r} is not the tenant")
        want = (murmur2(rec["tenantid"].encode()) & 0x7FFFFFFF) % PARTITIONS
        if msg["partition"] != want:
            problems.append(f"{topic}@{msg['offset']}: tenant {rec['tenantid']} in partition "
                            f"{msg['partition']}, murmur2 says {want}")
        h = msg.get("headers") or []
        headers = dict(zip(h[0::2], h[1::2]))
        for name, value in (("ce_type", rec["type"]), ("ce_id", rec["id"]), ("ce_specversion", "1.0"),
                            ("content-type", "application/cloudevents+json")):
            if headers.get(name) != value:
                problems.append(f"{topic}@{msg['offset']}: header {name}={headers.get(name)!r}, "
                                f"want {value!r}")
        if canonical(rec) != raw:
            problems.append(f"{topic}@{msg['offset']}: value is not canonical JSON")
        return rec

    # Domain events: per-aggregate seq from 1 without a gap; per-tenant chain.
    seqs = collections.defaultdict(list)
    chains = collections.defaultdict(list)
    types = collections.Counter()
    for msg in sorted(events, key=lambda m: (m["partition"], m["offset"])):
        rec = check_record(msg, "events")
        if rec is None:
            continue
        types[rec["type"]] += 1
        seqs[rec["aggregate"]].append(rec["seq"])
        chains[rec["tenantid"]].append(rec)
    for aggregate, s in seqs.items():
        if s != list(range(1, len(s) + 1)):
            problems.append(f"events: {aggregate} seqs {s} are not 1..{len(s)} in order")
    for tenant, recs in chains.items():
        prev = ""
        for rec in recs:
            body = dict(rec)
            h = body.pop("hash")
            if rec["prevhash"] != prev:
                problems.append(f"chain {tenant}: {rec['id']} prevhash does not follow")
            if hashlib.sha256((rec["prevhash"] + canonical(body)).encode()).hexdigest() != h:
                problems.append(f"chain {tenant}: {rec['id']} hash mismatch")
            prev = h

    check_seqs = collections.defaultdict(list)
    for msg in sorted(checks, key=lambda m: (m["partition"], m["offset"])):
        rec = check_record(msg, "checks")
        if rec is None:
            continue
        types[rec["type"]] += 1
        if "hash" in rec or "prevhash" in rec:
            problems.append(f"checks@{msg['offset']}: a check result carries a hash")
        check_seqs[rec["aggregate"]].append(rec["seq"])
    for aggregate, s in check_seqs.items():
        if s != list(range(1, len(s) + 1)):
            problems.append(f"checks: {aggregate} seqs {s} are not 1..{len(s)} in order")

    # The scenario exercises every current event type; all of them must have
    # arrived. Older versions ("deprecated" schemas) are only read, never written.
    current = {t for t, s in schemas.items() if not s.get("deprecated")}
    missing = sorted(current - set(types))
    if missing:
        problems.append(f"types never seen: {missing}")
    if set(chains) != {"acme", "globex", "initech"}:
        problems.append(f"tenants seen: {sorted(chains)}")

    print(f"{len(events)} domain events, {len(checks)} check results, {len(types)} types, "
          f"{len(chains)} tenant chains")
    if problems:
        print("\n".join(problems))
        print(f"0 passed, 1 failed")
        return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
