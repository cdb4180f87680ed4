#!/usr/bin/env python3
"""Tampering with the embedded log is named by `keepwatch audit verify`.

A node writes a scripted history with signed tree heads to the embedded log
(kafka_scenario embedded DIR). An auditor keeps the heads (`audit heads`).
Then, each on a fresh copy of the stopped node's data directory, the log is
edited directly (log_tamper) as someone with the disk could:

  - one byte of a record changed      -> verify names its offset (hash mismatch)
  - one record removed                -> names the offset where the link breaks
  - two records swapped               -> names the first of them
  - the tail cut off (heads with it)  -> the chain alone still verifies; the
                                         held heads show the cut
  - the tail rewritten with freshly computed hashes
                                      -> the chain verifies; a signed head
                                         recorded after the change, and the
                                         held heads, show the rewrite
and replay stops at the first bad offset. Exits non-zero with the reasons.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kafka_contract_test import murmur2  # noqa: E402  (Kafka's partitioner, written from its spec)

PARTITIONS = 4  # the scenario's node (tests/unit/actors/host/node_fixture.hpp)
problems = []


def check(cond, what):
    if not cond:
        problems.append(what)
        print("FAIL:", what, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keepwatch", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--tamper", required=True)
    args = ap.parse_args()
    kw = args.keepwatch
    work = tempfile.mkdtemp(prefix="kw-tamper-")
    try:
        pristine = os.path.join(work, "pristine")
        r = subprocess.run([args.scenario, "embedded", pristine], capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            sys.exit(f"scenario failed ({r.returncode}): {r.stderr[-4000:]}")
        pk = next(l.split()[1] for l in r.stdout.splitlines() if l.startswith("public-key "))

        def audit(data, *a):
            return subprocess.run([kw, "audit", *a, "-d", data, "-p", str(PARTITIONS)],
                                  capture_output=True, text=True, timeout=120)

        ok = audit(pristine, "verify", "--public-key", pk)
        check(ok.returncode == 0 and "0 tenants with problems" in ok.stdout,
              f"the untouched log verifies: {ok.stdout}{ok.stderr}")
        held = os.path.join(work, "heads.jsonl")
        h = audit(pristine, "heads", "--tenant", "acme")
        with open(held, "w") as f:
            f.write(h.stdout)
        heads = [json.loads(x) for x in h.stdout.splitlines()]
        check(len(heads) == 2, f"acme has two signed heads: {h.stdout}")
        rp = audit(pristine, "replay", "--tenant", "acme")
        acme = [json.loads(x) for x in rp.stdout.splitlines()]
        offsets = [x["offset"] for x in acme]
        part = (murmur2(b"acme") & 0x7FFFFFFF) % PARTITIONS
        first_head = next(x["index"] for x in acme if x["type"] == "keepwatch.tenant.tree_head_signed.v1")

        def tampered(name, *op):
            data = os.path.join(work, name)
            shutil.copytree(pristine, data)
            t = subprocess.run([args.tamper, data, op[0], str(part), *map(str, op[1:])],
                               capture_output=True, text=True, timeout=60)
            if t.returncode != 0:
                sys.exit(f"log_tamper {op}: {t.stderr}")
            return data

        def verify(data, *extra):
            return audit(data, "verify", "--public-key", pk, "--tenant", "acme", *extra)

        o3 = offsets[3]
        d = tampered("flip", "flip", o3)
        v = verify(d)
        check(v.returncode == 1 and f"chain broken at offset {o3}," in v.stdout and "hash mismatch" in v.stdout
              and "expected" in v.stdout, f"a changed byte is named: {v.stdout}")
        rr = audit(d, "replay", "--tenant", "acme")
        check(rr.returncode == 1 and f"offset {o3}" in rr.stderr and len(rr.stdout.splitlines()) == 3,
              f"replay stops before the changed record: {rr.stderr}")

        d = tampered("remove", "remove", o3)
        v = verify(d)
        check(v.returncode == 1 and f"chain broken at offset {offsets[4] - 1}," in v.stdout and "removed or reordered" in v.stdout,
              f"a removed record is named: {v.stdout}")

        d = tampered("swap", "swap", offsets[3], offsets[4])
        v = verify(d)
        check(v.returncode == 1 and f"chain broken at offset {offsets[3]}," in v.stdout,
              f"swapped records are named: {v.stdout}")

        # The tail cut just before the first head: what is left is a valid
        # chain; only the heads the auditor kept show that history is missing.
        cut_at = offsets[first_head]
        d = tampered("cut", "cut", cut_at)
        v = verify(d)
        check(v.returncode == 0, f"a cut chain alone verifies (why heads are kept): {v.stdout}")
        v = verify(d, "--heads", held)
        check(v.returncode == 1 and f"the log holds only {first_head} (the history was cut)" in v.stdout,
              f"the held heads show the cut: {v.stdout}")

        # Event 3 rewritten, every later hash recomputed: the chain verifies,
        # but the head recorded after it signs the old root.
        d = tampered("reseal", "reseal", o3)
        ch = audit(d, "verify", "--tenant", "acme")
        check("chain broken" not in ch.stdout, f"the resealed chain links up: {ch.stdout}")
        v = verify(d)
        check(v.returncode == 1 and "(the history was rewritten)" in v.stdout and
              f"head at offset {cut_at}," in v.stdout, f"the recorded head shows the rewrite: {v.stdout}")
        v = verify(d, "--heads", held)
        check(v.returncode == 1 and v.stdout.count("held head of") == 2, f"both held heads show it: {v.stdout}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if problems:
        print(f"{len(problems)} problem(s)")
        sys.exit(1)
    print("audit tamper on the embedded log: ok")


if __name__ == "__main__":
    main()
