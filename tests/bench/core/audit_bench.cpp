// audit.*: compliance reads of one 1,000,000-event tenant, on the embedded
// log, with the real `keepwatch audit` commands and the real notary.
//
// The tenant's history (tenant.created, then API-call metering: small
// tenant-stream events) is appended straight to a RocksLog, sealed into its
// chain as the node does, so building it takes seconds rather than a million
// command round trips. Then, timed from outside:
//  - `keepwatch audit verify --tenant` (chain, Merkle tree, heads): events/s;
//  - `keepwatch audit replay --tenant --out FILE` (JSON lines): events/s;
//  - `keepwatch audit state --tenant --at <the middle event's time>`: seconds;
//  - a node started on the data directory, its notary caught up (the tree of
//    1,000,000 leaves in its store), then 1,000 inclusion proofs for random
//    events: p99 milliseconds per proof.
#include <sys/wait.h>

#include <random>

#include "actors/host/notary.hpp"
#include "bench_support.hpp"
#include "events/codec.hpp"
#include "events/hash_chain.hpp"
#include "storage/partitioner.hpp"
#include "storage/rocks_log.hpp"

namespace {

using namespace kw;
using namespace kw::bench;

constexpr int partitions = 8;
// KW_AUDIT_BENCH_EVENTS overrides the size (quick runs while profiling).
const std::int64_t events = std::getenv("KW_AUDIT_BENCH_EVENTS") ? std::atoll(std::getenv("KW_AUDIT_BENCH_EVENTS"))
                                                                 : 1'000'000;
const std::string bench_tenant = "compliance-bench";

class sealer final : public storage::chain_sealer {
public:
  result<std::string> seal(const std::string& prev_hash, std::string& value) override {
    return kw::seal(prev_hash, value);
  }
};

event make(std::int64_t seq, timestamp t) {
  event e;
  e.meta.id = new_id();
  e.meta.source = "keepwatch/bench";
  e.meta.subject = e.meta.aggregate = "tenant/" + bench_tenant;
  e.meta.tenant = tenant_id{bench_tenant};
  e.meta.time = t;
  e.meta.seq = seq_no{seq};
  e.meta.actor = actor_ref{"system", "keepwatch", ""};
  e.meta.causation_id = new_id();
  if (seq == 1)
    e.data = tenant_created{"Compliance Bench", "bench", "owner-1", "owner@bench.example"};
  else
    e.data = api_calls_recorded{"2026-12-07", seq};
  return e;
}

int run(const std::vector<std::string>& args) {
  std::string cmd;
  for (auto& a : args) cmd += "'" + a + "' ";
  cmd += ">/dev/null";
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

int main() {
  temp_dir dir("audit-bench");
  dir.keep = std::getenv("KW_AUDIT_BENCH_KEEP") != nullptr;  // profiling: the log stays behind
  if (dir.keep) std::fprintf(stderr, "data directory kept: %s\n", dir.path.c_str());
  timestamp middle{0};
  {
    auto log = storage::rocks_log::open(dir.path + "/log", partitions, std::make_shared<sealer>());
    if (!log) fail(log.err().message);
    const auto p = storage::partition_for(tenant_id{bench_tenant}, partitions);
    const std::int64_t t0 = now().get() - events * 1000;
    std::vector<storage::record> batch;
    for (std::int64_t seq = 1; seq <= events; ++seq) {
      const timestamp t{t0 + seq * 1000};
      if (seq == events / 2) middle = t;
      storage::record r;
      r.key = bench_tenant;
      r.value = encode(make(seq, t));
      r.chained = true;
      batch.push_back(std::move(r));
      if (batch.size() == 4096 || seq == events) {
        if (auto a = (*log)->append_sync(p, std::move(batch)); !a) fail(a.err().message);
        batch.clear();
      }
    }
  }
  const std::string kw_bin = KW_KEEPWATCH_BIN;
  const std::vector<std::string> src = {"-d", dir.path, "-p", std::to_string(partitions)};
  auto cli = [&](std::vector<std::string> a) {
    a.insert(a.begin(), {kw_bin, "audit"});
    a.insert(a.begin() + 3, src.begin(), src.end());
    return a;
  };

  auto t = clock_type::now();
  if (run(cli({"verify", "--tenant", bench_tenant})) != 0) fail("audit verify failed");
  double s = seconds_since(t);
  figure("audit", "verify_events_per_s", events / s, "events/s", ">= 200000");

  t = clock_type::now();
  if (run(cli({"replay", "--tenant", bench_tenant, "--out", dir.path + "/replay.jsonl"})) != 0) fail("audit replay failed");
  s = seconds_since(t);
  figure("audit", "replay_jsonl_events_per_s", events / s, "events/s", ">= 100000");

  t = clock_type::now();
  if (run(cli({"state", "--tenant", bench_tenant, "--at", format_time(middle)})) != 0) fail("audit state failed");
  s = seconds_since(t);
  figure("audit", "state_at_instant_1m_events", s, "s", "<= 5");

  auto o = bench_options(dir.path, false);
  o.partitions = partitions;
  auto n = start_node(std::move(o));
  auto signer = tree_head_signer::open_or_create(dir.path + "/audit-signing.key");
  if (!signer) fail(signer.err().message);
  notary_options no;
  no.dir = dir.path + "/merkle";
  no.signer = *signer;
  no.head_interval = std::chrono::hours(1);
  auto nt = notary::start(*n, no);
  if (!nt) fail(nt.err().message);
  t = clock_type::now();
  if (auto st = (*nt)->catch_up_and_sign(); !st) fail(st.err().message);
  std::fprintf(stderr, "notary caught up with %lld events in %.2f s\n", (long long)events, seconds_since(t));
  const auto size = (*nt)->size(bench_tenant);
  if (size < static_cast<std::uint64_t>(events)) fail("the notary's tree is short");
  auto root = (*nt)->root(bench_tenant, size);
  std::mt19937_64 rng(7);
  std::vector<double> ms;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t index = rng() % size;
    auto t1 = clock_type::now();
    auto proof = (*nt)->inclusion_proof(bench_tenant, index, size);
    ms.push_back(seconds_since(t1) * 1000);
    if (!proof) fail(proof.err().message);
    if (i < 10) {
      auto leaf = n->log().read(storage::topic::events, storage::partition_for(tenant_id{bench_tenant}, partitions),
                                log_offset{static_cast<std::int64_t>(index)}, 1);
      if (!leaf || leaf->empty() ||
          !merkle::verify_inclusion(merkle::leaf_hash(leaf->front().value), index, size, *proof, *root))
        fail("an inclusion proof does not verify");
    }
  }
  figure("audit", "inclusion_proof_p99_1m_events", percentile(ms, 99), "ms", "<= 10");
  (*nt)->stop();
  return 0;
}
