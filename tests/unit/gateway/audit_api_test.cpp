// The audit API (gateway/audit_routes.cpp) through real HTTP against a real
// node, on both logs, with the notary signing heads:
//  - the role table: owner and auditor 200; admin, member, viewer 403;
//    another tenant (X-Tenant-ID, or its event id) 404; no credential 401;
//    a platform admin naming the tenant 200;
//  - the events between two times, streamed (chunked), equal what
//    `keepwatch audit replay` gives for the same bounds;
//  - inclusion and consistency proofs, and the heads' signatures, checked
//    by a verifier written here from RFC 9162 (2.1.3.2, 2.1.4.2) and
//    events/README.md alone — no Keepwatch Merkle code — against roots the
//    test computes itself from the streamed records;
//  - a changed record ends the stream with an error line naming its offset,
//    seq, expected and found hash;
//  - bad query values are 4xx naming the parameter, and change nothing;
//  - a long history arrives in many chunks with every line in order, and
//    clients that leave mid-stream give their audit read slots back.
#include <fstream>
#include <sstream>
#include <thread>

#include <sodium.h>

#include "actors/host/notary.hpp"
#include "cluster/audit.hpp"
#include "gateway/api_fixture.hpp"

namespace kw::test {
namespace {

// ------------------------------------------------- an independent verifier

using bytes = std::string;

bytes sha256(const bytes& in) {
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(out, reinterpret_cast<const unsigned char*>(in.data()), in.size());
  return bytes(reinterpret_cast<const char*>(out), sizeof out);
}
bytes leaf_of(const bytes& record) { return sha256(std::string(1, '\0') + record); }
bytes node_of(const bytes& l, const bytes& r) { return sha256(std::string(1, '\1') + l + r); }

std::string hex(const bytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}
bytes unhex(const std::string& h) {
  bytes b;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) b += char(std::stoi(h.substr(i, 2), nullptr, 16));
  return b;
}

// MTH (RFC 9162 2.1.1) of raw records, by its recursive definition.
bytes mth(const std::vector<bytes>& leaves, std::size_t lo, std::size_t hi) {
  const std::size_t n = hi - lo;
  if (n == 0) return sha256("");
  if (n == 1) return leaf_of(leaves[lo]);
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  return node_of(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

// RFC 9162 2.1.3.2.
bool verify_inclusion(std::uint64_t index, std::uint64_t size, const bytes& leaf, const std::vector<bytes>& path,
                      const bytes& root) {
  if (index >= size) return false;
  std::uint64_t fn = index, sn = size - 1;
  bytes r = leaf;
  for (const auto& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = node_of(p, r);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = node_of(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

// RFC 9162 2.1.4.2.
bool verify_consistency(std::uint64_t first, std::uint64_t second, const bytes& first_hash, const bytes& second_hash,
                        std::vector<bytes> path) {
  if (first == second) return path.empty() && first_hash == second_hash;
  if (path.empty() || first == 0 || first > second) return false;
  if ((first & (first - 1)) == 0) path.insert(path.begin(), first_hash);
  std::uint64_t fn = first - 1, sn = second - 1;
  if (fn & 1)
    while (fn & 1) {
      fn >>= 1;
      sn >>= 1;
    }
  bytes fr = path[0], sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const bytes& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = node_of(c, fr);
      sr = node_of(c, sr);
      if (!(fn & 1))
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      sr = node_of(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == first_hash && sr == second_hash && sn == 0;
}

// A head's Ed25519 signature over the documented message.
bool head_signed(const json& h, const std::string& public_key_hex) {
  const std::string msg = "keepwatch-tree-head-v1\n" + h["tenant"].get<std::string>() + "\n" +
                          std::to_string(h["tree_size"].get<long long>()) + "\n" + h["root"].get<std::string>() +
                          "\n" + h["signed_at"].get<std::string>();
  const bytes sig = unhex(h["signature"].get<std::string>()), pk = unhex(public_key_hex);
  if (sig.size() != 64 || pk.size() != 32) return false;
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                     reinterpret_cast<const unsigned char*>(pk.data())) == 0;
}

std::vector<bytes> unhex_all(const json& a) {
  std::vector<bytes> out;
  for (auto& h : a) out.push_back(unhex(h.get<std::string>()));
  return out;
}

// ------------------------------------------------------------ the stream

// A chunked body, decoded; "" (and a test failure) if the framing is bad or
// the terminating chunk is missing. `chunks` (if given) counts the chunks.
std::string dechunk(const std::string& in, int* chunks = nullptr) {
  std::string out;
  if (chunks) *chunks = 0;
  std::size_t at = 0;
  for (;;) {
    auto eol = in.find("\r\n", at);
    if (eol == std::string::npos) {
      ADD_FAILURE() << "chunked body without its last chunk";
      return "";
    }
    const std::size_t n = std::stoul(in.substr(at, eol - at), nullptr, 16);
    at = eol + 2;
    if (n == 0) return out;
    if (chunks) ++*chunks;
    out += in.substr(at, n);
    at += n + 2;
  }
}

struct stream_line {
  json j;           // the line parsed
  std::string raw;  // the "event" member's bytes as sent
};

std::vector<stream_line> lines_of(const std::string& body) {
  std::vector<stream_line> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    stream_line l;
    l.j = json::parse(line, nullptr, false);
    const auto at = line.find("\"event\":");
    if (at != std::string::npos && line.back() == '}') l.raw = line.substr(at + 8, line.size() - at - 9);
    out.push_back(std::move(l));
  }
  return out;
}

// The node's own log, with one record's value changed on the way (the
// tenant's record at `offset`), as a tampered disk would give it.
class tampering_source final : public audit::log_source {
public:
  tampering_source(std::unique_ptr<audit::log_source> inner, std::int64_t offset)
      : inner_(std::move(inner)), offset_(offset) {}
  int partitions() const override { return inner_->partitions(); }
  status scan_events(partition_id p, const std::function<bool(const storage::stored_record&)>& fn) override {
    return inner_->scan_events(p, [&](const storage::stored_record& r) {
      if (r.offset.get() != offset_) return fn(r);
      storage::stored_record copy = r;
      auto at = copy.value.find("\"name\":\"");
      if (at == std::string::npos) at = copy.value.find("\"source\":\"");
      copy.value[copy.value.find(":\"", at) + 2] ^= 1;  // one byte of a string value
      return fn(copy);
    });
  }

private:
  std::unique_ptr<audit::log_source> inner_;
  std::int64_t offset_;
};

class AuditApiTest : public api_test {
protected:
  void tweak(gateway::api_options& o) override {
    std::array<unsigned char, 32> seed{};
    for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<unsigned char>(i * 7 + 1);
    signer_ = tree_head_signer::from_seed(seed);
    o.audit_public_key = signer_->public_key_hex();
    // On Kafka, as the node wires it: a reader of its own per request.
    o.audit_log = [this]() -> result<std::unique_ptr<audit::log_source>> {
      std::unique_ptr<audit::log_source> own;
      if (GetParam().name == std::string("kafka")) {
        auto k = audit::open_kafka(kafka_.bootstrap_servers, kafka_.topic_prefix, kafka_.properties,
                                   std::chrono::seconds(10), node_->partitions());
        if (!k) return k.err();
        own = std::move(*k);
      } else {
        own = audit::from_event_log(std::shared_ptr<storage::event_log>(&node_->log(), [](storage::event_log*) {}));
      }
      if (tamper_offset_ < 0) return own;
      return std::unique_ptr<audit::log_source>(std::make_unique<tampering_source>(std::move(own), tamper_offset_));
    };
  }

  void SetUp() override {
    api_test::SetUp();
    if (HasFatalFailure()) return;
    notary_options no;
    no.dir = (dir_.path / "merkle").string();
    no.signer = signer_;
    no.head_interval = std::chrono::hours(1);
    auto n = notary::start(*node_, no);
    ASSERT_TRUE(n.ok()) << n.err().message;
    notary_ = std::move(*n);
  }

  void TearDown() override {
    if (notary_) notary_->stop();
    notary_.reset();
    api_test::TearDown();
  }

  // Tenant A with an owner, one member of each other role, monitors made
  // in two rounds with a signed head after each; tenant B with its owner.
  void world() {
    a_ = signup("owner@a.test", "Audit A");
    tenant_ = a_["tenant_id"].get<std::string>();
    for (auto role : {"admin", "member", "viewer", "auditor"}) roles_[role] = add_member(a_, std::string(role) + "@a.test", role);
    for (int i = 0; i < 3; ++i) {
      auto r = call("POST", "/api/v1/monitors", a_,
                    json{{"name", "m" + std::to_string(i)}, {"url", "https://a" + std::to_string(i) + ".example/"}}.dump());
      ASSERT_EQ(r.status, 201) << r.body;
    }
    ASSERT_TRUE(notary_->catch_up_and_sign().ok());
    for (int i = 3; i < 6; ++i) {
      auto r = call("POST", "/api/v1/monitors", a_,
                    json{{"name", "m" + std::to_string(i)}, {"url", "https://a" + std::to_string(i) + ".example/"}}.dump());
      ASSERT_EQ(r.status, 201) << r.body;
    }
    ASSERT_TRUE(notary_->catch_up_and_sign().ok());
    b_ = signup("owner@b.test", "Audit B");
  }

  // The whole stream of A as its owner: lines, and the raw records.
  std::vector<stream_line> stream(const std::string& query, const json& who) {
    auto r = call("GET", "/api/v1/audit/events" + query, who);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("transfer-encoding"), "chunked");
    EXPECT_EQ(r.header("content-type"), "application/x-ndjson");
    return lines_of(dechunk(r.body));
  }

  std::shared_ptr<const tree_head_signer> signer_;
  std::unique_ptr<notary> notary_;
  std::int64_t tamper_offset_ = -1;
  json a_, b_;
  std::string tenant_;
  std::map<std::string, json> roles_;
};

TEST_P(AuditApiTest, RoleTable) {
  world();
  if (HasFatalFailure()) return;
  auto all = stream("", a_);
  ASSERT_GE(all.size(), 8u);
  const std::string event_id = all[2].j["event"]["id"];
  const std::vector<std::string> targets = {
      "/api/v1/audit/events?from=2000-01-01T00:00:00Z",
      "/api/v1/audit/heads",
      "/api/v1/audit/heads?latest=true",
      "/api/v1/audit/proofs/inclusion?event_id=" + event_id,
      "/api/v1/audit/proofs/inclusion?seq=2",
      "/api/v1/audit/proofs/consistency?first=1",
      "/api/v1/audit/state?at=2100-01-01T00:00:00Z",
  };
  const auto platform = platform_admin();
  for (const auto& t : targets) {
    SCOPED_TRACE(t);
    EXPECT_EQ(call("GET", t, a_).status, 200) << "owner";
    EXPECT_EQ(call("GET", t, roles_["auditor"]).status, 200) << "auditor";
    for (auto role : {"admin", "member", "viewer"}) {
      auto r = call("GET", t, roles_[role]);
      EXPECT_EQ(r.status, 403) << role << ": " << r.body;
      EXPECT_EQ(r.body.find(tenant_ + "\""), std::string::npos);
    }
    EXPECT_EQ(call("GET", t, std::string()).status, 401) << "no credential";
    auto other = call("GET", t, b_, "", {{"X-Tenant-ID", tenant_}});
    EXPECT_EQ(other.status, 404) << "another tenant: " << other.body;
    EXPECT_EQ(call("GET", t, platform, "", {{"X-Tenant-ID", tenant_}}).status, 200) << "platform admin";
  }
  // A's event id, asked by B's owner for B: no such event there.
  auto r = call("GET", "/api/v1/audit/proofs/inclusion?event_id=" + event_id, b_);
  EXPECT_EQ(r.status, 404) << r.body;
  // B's stream holds none of A's events.
  for (auto& l : stream("", b_)) EXPECT_EQ(l.j["event"]["tenantid"], b_["tenant_id"]);
}

TEST_P(AuditApiTest, EventsBetweenTwoTimesEqualReplay) {
  world();
  if (HasFatalFailure()) return;
  auto all = stream("", a_);
  ASSERT_GE(all.size(), 10u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].j["index"], i);
    EXPECT_EQ(all[i].j["seq"], all[i].j["event"]["seq"]);
    EXPECT_EQ(json::parse(all[i].raw).dump(), all[i].raw) << "the record as stored (canonical JSON)";
  }
  const std::string from = all[3].j["event"]["time"], to = all[7].j["event"]["time"];
  auto some = stream("?from=" + from + "&to=" + to, roles_["auditor"]);
  // What `keepwatch audit replay --from --to` writes, over the same log.
  auto src = audit::from_event_log(std::shared_ptr<storage::event_log>(&node_->log(), [](storage::event_log*) {}));
  audit::replay_options ro;
  ro.tenant = tenant_;
  ro.from = *audit::parse_instant(from);
  ro.to = *audit::parse_instant(to);
  ro.out = (dir_.path / "replay.jsonl").string();
  ASSERT_EQ(audit::replay(*src, ro), 0);
  std::ifstream in(ro.out);
  std::vector<json> replayed;
  for (std::string line; std::getline(in, line);) replayed.push_back(json::parse(line));
  ASSERT_EQ(some.size(), replayed.size());
  ASSERT_GE(some.size(), 5u);
  for (std::size_t i = 0; i < some.size(); ++i) {
    const auto& s = some[i].j;
    const auto& p = replayed[i];
    EXPECT_EQ(s["offset"], p["offset"]);
    EXPECT_EQ(s["index"], p["index"]);
    EXPECT_EQ(s["seq"], p["seq"]);
    EXPECT_EQ(s["event"]["id"], p["id"]);
    EXPECT_EQ(s["event"]["hash"], p["hash"]);
    EXPECT_EQ(s["event"]["time"], p["time"]);
    EXPECT_EQ(s["event"]["type"], p["type"]);
    EXPECT_EQ(s["event"]["data"], p["data"]);
  }
  // Bounds in unix seconds, far apart: everything; an empty window: nothing.
  EXPECT_EQ(stream("?from=0&to=4102444800", a_).size(), all.size());
  EXPECT_EQ(stream("?from=2001-01-01T00:00:00Z&to=2001-01-02T00:00:00Z", a_).size(), 0u);
}

TEST_P(AuditApiTest, ProofsAndHeadsVerifyWithAnIndependentImplementation) {
  world();
  if (HasFatalFailure()) return;
  auto all = stream("", a_);
  std::vector<bytes> leaves;
  for (auto& l : all) leaves.push_back(l.raw);
  auto heads = call("GET", "/api/v1/audit/heads", roles_["auditor"]);
  ASSERT_EQ(heads.status, 200) << heads.body;
  const auto hs = heads.j();
  ASSERT_EQ(hs["public_key"], signer_->public_key_hex());
  ASSERT_EQ(hs["heads"].size(), 2u);
  for (auto& h : hs["heads"]) {
    EXPECT_TRUE(head_signed(h, hs["public_key"])) << h.dump();
    EXPECT_EQ(h["root"], hex(mth(leaves, 0, h["tree_size"].get<std::size_t>()))) << "the head signs the log's root";
  }
  auto latest = call("GET", "/api/v1/audit/heads?latest=true", a_).j();
  ASSERT_EQ(latest["heads"].size(), 1u);
  EXPECT_EQ(latest["heads"][0], hs["heads"][1]);
  const auto first = hs["heads"][0]["tree_size"].get<std::uint64_t>();
  const auto second = hs["heads"][1]["tree_size"].get<std::uint64_t>();

  // Inclusion of every event the latest head covers, by id (default size),
  // and at explicit sizes by seq.
  for (std::uint64_t i = 0; i < second; ++i) {
    SCOPED_TRACE("leaf " + std::to_string(i));
    auto r = call("GET", "/api/v1/audit/proofs/inclusion?event_id=" + all[i].j["event"]["id"].get<std::string>(),
                  roles_["auditor"]);
    ASSERT_EQ(r.status, 200) << r.body;
    auto p = r.j();
    EXPECT_EQ(p["index"], i);
    EXPECT_EQ(p["tree_size"], second);
    EXPECT_EQ(p["record"].get<std::string>(), leaves[i]);
    EXPECT_EQ(p["leaf_hash"], hex(leaf_of(leaves[i])));
    EXPECT_EQ(p["root"], hs["heads"][1]["root"]);
    EXPECT_EQ(p["head"], hs["heads"][1]);
    EXPECT_TRUE(verify_inclusion(i, second, leaf_of(leaves[i]), unhex_all(p["proof"]),
                                 unhex(hs["heads"][1]["root"].get<std::string>())))
        << p.dump();
    // A tampered proof does not verify (the verifier can fail).
    auto bad = unhex_all(p["proof"]);
    if (!bad.empty()) {
      bad[0][0] ^= 1;
      EXPECT_FALSE(verify_inclusion(i, second, leaf_of(leaves[i]), bad, unhex(hs["heads"][1]["root"].get<std::string>())));
    }
  }
  for (std::uint64_t size = 1; size <= leaves.size(); ++size) {
    const std::uint64_t i = size - 1;
    auto r = call("GET",
                  "/api/v1/audit/proofs/inclusion?seq=" + std::to_string(all[i].j["seq"].get<long long>()) +
                      "&aggregate=" + all[i].j["event"]["aggregate"].get<std::string>() +
                      "&tree_size=" + std::to_string(size),
                  a_);
    ASSERT_EQ(r.status, 200) << r.body;
    auto p = r.j();
    EXPECT_EQ(p["index"], i);
    EXPECT_EQ(p["root"], hex(mth(leaves, 0, size)));
    EXPECT_TRUE(verify_inclusion(i, size, leaf_of(leaves[i]), unhex_all(p["proof"]), mth(leaves, 0, size)))
        << "size " << size << ": " << p.dump();
  }

  // Consistency: the newer head extends the older; and every pair of sizes.
  auto c = call("GET", "/api/v1/audit/proofs/consistency?first=" + std::to_string(first), roles_["auditor"]);
  ASSERT_EQ(c.status, 200) << c.body;
  auto cj = c.j();
  EXPECT_EQ(cj["second"], second);
  EXPECT_EQ(cj["first_head"], hs["heads"][0]);
  EXPECT_EQ(cj["second_head"], hs["heads"][1]);
  EXPECT_TRUE(verify_consistency(first, second, unhex(hs["heads"][0]["root"].get<std::string>()),
                                 unhex(hs["heads"][1]["root"].get<std::string>()), unhex_all(cj["proof"])))
      << cj.dump();
  const std::uint64_t n = leaves.size();
  for (std::uint64_t m = 1; m <= n; ++m)
    for (std::uint64_t k = m; k <= n; k += (k < m + 3 ? 1 : 3)) {
      auto r = call("GET",
                    "/api/v1/audit/proofs/consistency?first=" + std::to_string(m) + "&second=" + std::to_string(k), a_);
      ASSERT_EQ(r.status, 200) << r.body;
      auto p = r.j();
      EXPECT_EQ(p["first_root"], hex(mth(leaves, 0, m)));
      EXPECT_EQ(p["second_root"], hex(mth(leaves, 0, k)));
      EXPECT_TRUE(verify_consistency(m, k, mth(leaves, 0, m), mth(leaves, 0, k), unhex_all(p["proof"])))
          << m << " -> " << k << ": " << p.dump();
    }
}

TEST_P(AuditApiTest, StateAtAnInstantIsTheCommandsDocument) {
  world();
  if (HasFatalFailure()) return;
  auto all = stream("", a_);
  ASSERT_GE(all.size(), 8u);
  const std::string at = all[5].j["event"]["time"];
  auto r = call("GET", "/api/v1/audit/state?at=" + at, roles_["auditor"]);
  ASSERT_EQ(r.status, 200) << r.body;
  auto src = audit::from_event_log(std::shared_ptr<storage::event_log>(&node_->log(), [](storage::event_log*) {}));
  audit::chain_break b;
  auto doc = audit::state_document(*src, tenant_, *audit::parse_instant(at), &b);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(r.j(), json::parse(*doc));
  std::size_t by_then = 0;
  for (auto& l : all) by_then += l.j["event"]["time"].get<std::string>() <= at ? 1 : 0;
  EXPECT_EQ(r.j()["events_applied"], by_then);
  EXPECT_EQ(r.j()["last_offset"], all[5].j["offset"]);
  // Before the tenant existed: nothing.
  auto before = call("GET", "/api/v1/audit/state?at=2001-01-01T00:00:00Z", a_).j();
  EXPECT_EQ(before["events_applied"], 0);
  EXPECT_TRUE(before["state"].is_null());
}

TEST_P(AuditApiTest, BadQueryValuesAre4xxNamingTheParameter) {
  world();
  if (HasFatalFailure()) return;
  const auto before = events_in_log();
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/api/v1/audit/events?from=yesterday", "from"},
      {"/api/v1/audit/events?to=2026-13-40T00:00:00Z", "to"},
      {"/api/v1/audit/events?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "to"},
      {"/api/v1/audit/events?limit=5", "limit"},
      {"/api/v1/audit/heads?latest=yes", "latest"},
      {"/api/v1/audit/proofs/inclusion", "event_id"},
      {"/api/v1/audit/proofs/inclusion?seq=abc", "seq"},
      {"/api/v1/audit/proofs/inclusion?seq=0", "seq"},
      {"/api/v1/audit/proofs/inclusion?seq=1&event_id=x", "event_id"},
      {"/api/v1/audit/proofs/inclusion?seq=1&aggregate=user/x", "aggregate"},
      {"/api/v1/audit/proofs/inclusion?seq=1&tree_size=-3", "tree_size"},
      {"/api/v1/audit/proofs/inclusion?seq=1&tree_size=99999999999", "tree_size"},
      {"/api/v1/audit/proofs/inclusion?seq=5&tree_size=2", "tree_size"},
      {"/api/v1/audit/proofs/consistency", "first"},
      {"/api/v1/audit/proofs/consistency?first=x", "first"},
      {"/api/v1/audit/proofs/consistency?first=3&second=2", "first"},
      {"/api/v1/audit/proofs/consistency?first=1&second=999999", "second"},
      {"/api/v1/audit/proofs/consistency?first=99999999999999999999", "first"},
      {"/api/v1/audit/state", "at"},
      {"/api/v1/audit/state?at=noon", "at"},
  };
  for (const auto& [target, field] : bad) {
    auto r = call("GET", target, a_);
    EXPECT_EQ(r.status, 422) << target << ": " << r.body;
    bool named = false;
    for (auto& d : r.j()["error"].value("details", json::array())) named = named || d.value("field", "") == field;
    EXPECT_TRUE(named) << target << " should name " << field << ": " << r.body;
  }
  EXPECT_EQ(call("GET", "/api/v1/audit/proofs/inclusion?event_id=nobody", a_).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/audit/proofs/inclusion?seq=999", a_).status, 404);
  EXPECT_EQ(events_in_log(), before) << "a bad request changes nothing";
}

TEST_P(AuditApiTest, ABrokenLinkEndsTheStreamWithWhereAndWhat) {
  world();
  if (HasFatalFailure()) return;
  auto all = stream("", a_);
  ASSERT_GE(all.size(), 8u);
  tamper_offset_ = all[4].j["offset"].get<std::int64_t>();
  auto cut = stream("", roles_["auditor"]);
  ASSERT_EQ(cut.size(), 5u) << "four events, then the error line";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(cut[i].j["offset"], all[i].j["offset"]);
  const auto e = cut[4].j["error"];
  EXPECT_EQ(e["code"], "chain_broken") << cut[4].j.dump();
  EXPECT_EQ(e["chain_break"]["offset"], tamper_offset_);
  EXPECT_EQ(e["chain_break"]["seq"], all[4].j["seq"]);
  EXPECT_EQ(e["chain_break"]["found"], all[4].j["event"]["hash"]);
  EXPECT_FALSE(e["chain_break"]["expected"].get<std::string>().empty());
  EXPECT_NE(e["chain_break"]["expected"], e["chain_break"]["found"]);
  // The other routes refuse to vouch for a broken history.
  auto s = call("GET", "/api/v1/audit/state?at=2100-01-01T00:00:00Z", a_);
  EXPECT_EQ(s.status, 409) << s.body;
  EXPECT_EQ(s.j()["error"]["chain_break"]["offset"], tamper_offset_);
  EXPECT_EQ(call("GET", "/api/v1/audit/proofs/consistency?first=1", a_).status, 409);
}

TEST_P(AuditApiTest, ALongHistoryStreamsInManyChunksWithEveryLine) {
  a_ = signup("owner@a.test", "Audit A");
  tenant_ = a_["tenant_id"].get<std::string>();
  // About 300 KB of events: the stream is sent in several pieces.
  for (int i = 0; i < 500; ++i) {
    command_meta m;
    m.command_id = new_id();
    m.actor = system_actor();
    m.time = kw::now();
    auto r = node_->execute(tenant::command{m, tenant::record_api_calls{"2026-12-01", 1 + i}}, tenant_id{tenant_});
    ASSERT_TRUE(r.ok()) << r.err().message;
  }
  // Clients that leave after the first bytes: their audit read slots come
  // back (there are audit_reads_per_tenant of them).
  for (int i = 0; i < 4; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(server_->port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const std::string req = "GET /api/v1/audit/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                            a_["access_token"].get<std::string>() + "\r\n\r\n";
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    char buf[512];
    EXPECT_GT(::recv(fd, buf, sizeof buf, 0), 0);
    ::close(fd);
  }
  http_reply r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    r = call("GET", "/api/v1/audit/events", a_);
    if (r.status != 429) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  int chunks = 0;
  auto lines = lines_of(dechunk(r.body, &chunks));
  EXPECT_GT(chunks, 2);
  ASSERT_GE(lines.size(), 501u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(lines[i].j["index"], i) << "line " << i << " lost or out of order";
    ASSERT_FALSE(lines[i].raw.empty());
  }
  EXPECT_EQ(lines.back().j["event"]["data"]["calls"], 500);
}

KW_API_TEST_SUITE(AuditApiTest);

}  // namespace
}  // namespace kw::test
