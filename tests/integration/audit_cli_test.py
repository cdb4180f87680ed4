#!/usr/bin/env python3
"""`keepwatch audit replay|verify|state` read the log itself, on Kafka.

Starts `keepwatch dev-broker`, has a node write a scripted history to it
(kafka_scenario), reads the events topic back with kcat as an auditor's own
tool would, and checks, from outside:

  - verify passes and prints, per tenant, the Merkle root that an
    independent RFC 9162 implementation written here computes over the
    records kcat read;
  - replay writes exactly the tenant's records, in order, with before and
    after of a role change; --from/--to select by time; CSV has the same rows;
  - state at several instants equals what the scripted history gives;
  - bad input (an unparsable time, an unknown tenant) is a clear error;
  - a record appended with one byte changed, and a correctly sealed record
    that does not follow its chain, make verify and replay fail naming the
    record's offset and the expected and found hashes.
Exits non-zero with the reasons.
"""
import argparse
import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile

PARTITIONS = 4
EVENTS = "keepwatch.events.v1"
problems = []


def check(cond, what):
    if not cond:
        problems.append(what)
        print("FAIL:", what, flush=True)


def consume(kcat, bootstrap):
    out = subprocess.run(
        [kcat, "-C", "-b", bootstrap, "-t", EVENTS, "-o", "beginning", "-e", "-J", "-q",
         "-X", "isolation.level=read_committed"],
        check=True, capture_output=True, text=True, timeout=120)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


# --- RFC 9162 section 2.1, written from the RFC, not from Keepwatch's code ---
def mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def seal(rec, prevhash):
    body = dict(rec)
    body.pop("hash", None)
    body["prevhash"] = prevhash
    rec = dict(body)
    rec["hash"] = hashlib.sha256((prevhash + canonical(body)).encode()).hexdigest()
    return rec


def head_message(h):
    return "keepwatch-tree-head-v1\n%s\n%d\n%s\n%s" % (h["tenant"], h["tree_size"], h["root"], h["signed_at"])


# Ed25519 with the openssl command line: the raw keys wrapped in their fixed
# DER prefixes (RFC 8410).
def openssl_verify(work, public_key_hex, message, signature_hex):
    pub = os.path.join(work, "pub.der")
    with open(pub, "wb") as f:
        f.write(bytes.fromhex("302a300506032b6570032100" + public_key_hex))
    with open(os.path.join(work, "msg"), "wb") as f:
        f.write(message.encode())
    with open(os.path.join(work, "sig"), "wb") as f:
        f.write(bytes.fromhex(signature_hex))
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub, "-rawin",
                        "-in", os.path.join(work, "msg"), "-sigfile", os.path.join(work, "sig")],
                       capture_output=True, text=True)
    return r.returncode == 0


def openssl_sign(work, seed, message):
    key = os.path.join(work, "key.der")
    with open(key, "wb") as f:
        f.write(bytes.fromhex("302e020100300506032b657004220420") + seed)
    with open(os.path.join(work, "msg"), "wb") as f:
        f.write(message.encode())
    r = subprocess.run(["openssl", "pkeyutl", "-sign", "-keyform", "DER", "-inkey", key, "-rawin",
                        "-in", os.path.join(work, "msg")], capture_output=True, check=True)
    return r.stdout.hex()


def run(keepwatch, *args):
    return subprocess.run([keepwatch, "audit", *args], capture_output=True, text=True, timeout=120)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keepwatch", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--kcat", default="kcat")
    args = ap.parse_args()
    kw = args.keepwatch

    broker = subprocess.Popen([kw, "dev-broker", "--partitions", str(PARTITIONS)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        b = broker.stdout.readline().strip()
        if not b.startswith("127.0.0.1:"):
            sys.exit(f"dev-broker printed no bootstrap address: {b!r}")
        with tempfile.TemporaryDirectory() as data:
            r = subprocess.run([args.scenario, b, data], capture_output=True, text=True, timeout=180)
            if r.returncode != 0:
                sys.exit(f"scenario failed ({r.returncode}): {r.stderr[-4000:]}")
            public_key = next(l.split()[1] for l in r.stdout.splitlines() if l.startswith("public-key "))
            with open(os.path.join(data, "audit-signing.key"), "rb") as f:
                seed = f.read()
        msgs = consume(args.kcat, b)
        by_tenant = {}
        for m in msgs:
            by_tenant.setdefault(m["key"], []).append(m)
        acme = by_tenant["acme"]
        acme_recs = [json.loads(m["payload"]) for m in acme]

        # verify: every chain intact, roots as computed independently here.
        v = run(kw, "verify", "--kafka", b)
        check(v.returncode == 0, f"verify of an untouched log exits 0, not {v.returncode}: {v.stdout}{v.stderr}")
        for tenant, ms in by_tenant.items():
            root = mth([m["payload"].encode() for m in ms]).hex()
            check(f"tenant {tenant}: {len(ms)} events, chain intact, merkle root {root}," in v.stdout,
                  f"verify prints {tenant}'s RFC 9162 root {root}: {v.stdout}")
        check(f"{len(by_tenant)} tenants, {len(msgs)} events, 4 signed heads" in v.stdout and
              "0 tenants with problems" in v.stdout, v.stdout)
        one = run(kw, "verify", "--kafka", b, "--tenant", "globex")
        check(one.returncode == 0 and "tenant globex:" in one.stdout and "tenant acme" not in one.stdout,
              f"verify --tenant globex: {one.stdout}{one.stderr}")

        # replay: the tenant's records, in log order, with what changed.
        rp = run(kw, "replay", "--kafka", b, "--tenant", "acme")
        check(rp.returncode == 0, f"replay exits 0: {rp.stderr}")
        lines = [json.loads(x) for x in rp.stdout.splitlines()]
        check([x["hash"] for x in lines] == [r["hash"] for r in acme_recs],
              "replay writes exactly acme's records, in log order")
        check([x["offset"] for x in lines] == [m["offset"] for m in acme], "replay names each record's offset")
        role = [x for x in lines if x["type"] == "keepwatch.tenant.member_role_changed.v1"]
        check(len(role) == 1 and {"path": "/tenant/members/u2/role", "before": "admin", "after": "member"}
              in role[0]["changes"], f"the role change shows before and after: {role}")
        check([x["actor"] for x in lines] == [r["actor"] for r in acme_recs] and
              [x["time"] for x in lines] == [r["time"] for r in acme_recs],
              "replay says who, from where and when, as recorded")
        t_from, t_to = acme_recs[2]["time"], acme_recs[5]["time"]
        rng = run(kw, "replay", "--kafka", b, "--tenant", "acme", "--from", t_from, "--to", t_to)
        got = [json.loads(x)["seq"] for x in rng.stdout.splitlines()]
        want = [r["seq"] for r in acme_recs if t_from <= r["time"] <= t_to]
        check(rng.returncode == 0 and got == want, f"--from/--to select {want}, got {got}")
        cv = run(kw, "replay", "--kafka", b, "--tenant", "acme", "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(cv.stdout)))
        check(cv.returncode == 0 and [r["hash"] for r in rows] == [r["hash"] for r in acme_recs],
              "CSV has the same rows")
        check(json.loads(rows[0]["data"])["name"] == acme_recs[0]["data"]["name"], "CSV carries the data")

        # state at instants of the scripted history.
        def state_at(t):
            s = run(kw, "state", "--kafka", b, "--tenant", "acme", "--at", t)
            check(s.returncode == 0, f"state --at {t}: {s.stderr}")
            return json.loads(s.stdout) if s.returncode == 0 else {}
        added = next(r for r in acme_recs if r["type"] == "keepwatch.tenant.member_added.v1")
        changed = next(r for r in acme_recs if r["type"] == "keepwatch.tenant.member_role_changed.v1")
        s1 = state_at(added["time"])
        check(s1.get("state", {}).get("members", {}).get("u2", {}).get("role") == "admin",
              f"at the member's addition they are admin: {s1.get('state')}")
        s2 = state_at(changed["time"])
        check(s2.get("state", {}).get("members", {}).get("u2", {}).get("role") == "member",
              "after the role change they are member")
        s0 = state_at("2000-01-01")
        check(s0.get("state") is None and s0.get("events_applied") == 0, "before the first event: no state")
        monitors_created = [r["data"]["monitor_id"] for r in acme_recs
                            if r["type"] == "keepwatch.monitor.created.v2"]
        deleted = [r["subject"].split("/", 1)[1] for r in acme_recs if r["type"] == "keepwatch.monitor.deleted.v1"]
        s_end = state_at("2100-01-01")
        check(sorted(s_end.get("state", {}).get("monitors", [])) ==
              sorted(m for m in monitors_created if m not in deleted),
              f"at the end, the tenant's monitors: {s_end.get('state', {}).get('monitors')}")

        bad = run(kw, "state", "--kafka", b, "--tenant", "acme", "--at", "yesterday")
        check(bad.returncode != 0 and "YYYY-MM-DD" in bad.stderr, f"a bad time is a clear error: {bad.stderr}")
        none = run(kw, "replay", "--kafka", b, "--tenant", "nobody")
        check(none.returncode != 0 and "no events" in none.stderr, f"an unknown tenant: {none.stderr}")

        # Signed heads: 2 for acme, 1 each for globex and initech (deleted).
        work = tempfile.mkdtemp()
        heads = {}
        for tenant in by_tenant:
            h = run(kw, "heads", "--kafka", b, "--tenant", tenant)
            check(h.returncode == 0, f"audit heads {tenant}: {h.stderr}")
            heads[tenant] = [json.loads(x) for x in h.stdout.splitlines()]
        check({t: len(h) for t, h in heads.items()} == {"acme": 2, "globex": 1, "initech": 1},
              f"heads per tenant: { {t: len(h) for t, h in heads.items()} }")
        for tenant, hs in heads.items():
            leaves = [m["payload"].encode() for m in by_tenant[tenant]]
            for h in hs:
                check(mth(leaves[:h["tree_size"]]).hex() == h["root"],
                      f"{tenant}'s head at {h['tree_size']} signs the RFC 9162 root of its first events")
                check(openssl_verify(work, public_key, head_message(h), h["signature"]),
                      f"openssl verifies {tenant}'s head at {h['tree_size']} with the exported key")
                forged = dict(h, tree_size=h["tree_size"] - 1)
                check(not openssl_verify(work, public_key, head_message(forged), h["signature"]),
                      "a head with another size does not verify")
        pk = run(kw, "public-key", "--key-file", os.path.join(work, "none"))
        check(pk.returncode != 0, "public-key with a missing key file is an error")
        vh = run(kw, "verify", "--kafka", b, "--public-key", public_key)
        check(vh.returncode == 0 and "4 signed heads," in vh.stdout and "0 tenants with problems" in vh.stdout,
              f"verify checks every recorded head: {vh.stdout}{vh.stderr}")
        other_key = "ab" * 32
        vo = run(kw, "verify", "--kafka", b, "--public-key", other_key, "--tenant", "globex")
        check(vo.returncode == 1 and "signed by key" in vo.stdout, f"heads under another key fail: {vo.stdout}")
        held = os.path.join(work, "heads.jsonl")
        with open(held, "w") as f:
            for hs in heads.values():
                for h in hs:
                    f.write(json.dumps(h) + "\n")
        vk = run(kw, "verify", "--kafka", b, "--public-key", public_key, "--heads", held)
        check(vk.returncode == 0 and "4 held heads extended" in vk.stdout, f"held heads: {vk.stdout}{vk.stderr}")
        # Heads signed with the notary's own key for histories the log does not
        # hold: as if acme's tail had been cut, or its first events rewritten.
        n_acme = len(by_tenant["acme"])
        cut = {"tenant": "acme", "tree_size": n_acme + 3, "root": "11" * 32, "signed_at": "2026-12-07T10:00:00.000000Z"}
        rewritten = {"tenant": "acme", "tree_size": 5, "root": "22" * 32, "signed_at": "2026-12-07T10:00:00.000000Z"}
        kid = hashlib.sha256(bytes.fromhex(public_key)).hexdigest()[:16]
        for h in (cut, rewritten):
            h["key_id"] = kid
            h["signature"] = openssl_sign(work, seed, head_message(h))
            check(openssl_verify(work, public_key, head_message(h), h["signature"]), "the test signs like the notary")
        with open(held, "a") as f:
            f.write(json.dumps(cut) + "\n" + json.dumps(rewritten) + "\n")
        vc = run(kw, "verify", "--kafka", b, "--public-key", public_key, "--heads", held, "--tenant", "acme")
        check(vc.returncode == 1 and f"the log holds only {n_acme} (the history was cut)" in vc.stdout
              and "(the history was rewritten)" in vc.stdout, f"cut and rewritten histories are caught: {vc.stdout}")

        # Tampering, as someone with write access to the topic would.
        part = acme[0]["partition"]
        raw = next(m["payload"] for m in reversed(acme) if '"correlationid":"test"' in m["payload"])
        flipped = raw.replace('"correlationid":"test"', '"correlationid":"tesT"', 1)
        subprocess.run([args.kcat, "-P", "-b", b, "-t", EVENTS, "-p", str(part), "-k", "acme"],
                       input=flipped + "\n", text=True, check=True, timeout=60)
        after = [m for m in consume(args.kcat, b) if m["key"] == "acme"]
        bad_offset = after[-1]["offset"]
        v2 = run(kw, "verify", "--kafka", b, "--tenant", "acme")
        check(v2.returncode == 1 and f"offset {bad_offset}" in v2.stdout and "hash mismatch" in v2.stdout
              and "expected" in v2.stdout and "found" in v2.stdout,
              f"a changed byte is named by offset: {v2.stdout}{v2.stderr}")
        rp2 = run(kw, "replay", "--kafka", b, "--tenant", "acme")
        check(rp2.returncode == 1 and f"offset {bad_offset}" in rp2.stderr,
              f"replay stops at the changed record: {rp2.stderr}")
        check(len(rp2.stdout.splitlines()) == len(acme), "replay wrote only the records before the break")

        # A correctly sealed record that skips its chain's head (as after a removal).
        glx = [json.loads(m["payload"]) for m in by_tenant["globex"]]
        skipped = seal(dict(glx[-1], seq=glx[-1]["seq"] + 1), glx[-2]["hash"])
        gpart = by_tenant["globex"][0]["partition"]
        subprocess.run([args.kcat, "-P", "-b", b, "-t", EVENTS, "-p", str(gpart), "-k", "globex"],
                       input=canonical(skipped) + "\n", text=True, check=True, timeout=60)
        v3 = run(kw, "verify", "--kafka", b)
        check(v3.returncode == 1 and "tenant globex: chain broken" in v3.stdout and "prevhash mismatch" in v3.stdout
              and glx[-1]["hash"] in v3.stdout, f"a broken link is named: {v3.stdout}")
        check("2 tenants with problems" in v3.stdout and "tenant initech:" in v3.stdout,
              f"the other tenants still verify: {v3.stdout}")
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            broker.kill()

    if problems:
        print(f"{len(problems)} problem(s)")
        sys.exit(1)
    print("audit CLI on Kafka: ok")


if __name__ == "__main__":
    main()
