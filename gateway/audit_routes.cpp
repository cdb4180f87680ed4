// The audit API: what compliance staff read straight from the log (never a
// read model), for the owner and auditor roles of the caller's tenant (a
// platform admin names it with X-Tenant-ID; another tenant's ids are 404s):
//
//   GET /api/v1/audit/events        the tenant's events between two instants,
//                                   as JSON lines, streamed
//   GET /api/v1/audit/heads         the signed tree heads in its chain, and
//                                   the notary's public key
//   GET /api/v1/audit/proofs/inclusion    an event is in a tree size
//   GET /api/v1/audit/proofs/consistency  a tree size extends an older one
//   GET /api/v1/audit/state         the state as of an instant
//
// Formats: events/README.md ("The audit API"). GET /api/v1/audit (the
// PostgreSQL audit table, history_routes.cpp) stays the dashboard's
// searchable view.
//
// Guarantees:
//  - Every answer comes from the log, read through a log source made for the
//    request (api_options::audit_log), with the same functions as
//    `keepwatch audit …` (cluster/audit.hpp): the tenant's chain is verified
//    from its first record on every request. A broken chain is a 409
//    `chain_broken` naming offset, seq, expected and found hash; in the
//    events stream, whose 200 is already sent, it is the stream's last line,
//    {"error":{"code":"chain_broken",...}}, and nothing after the break is
//    sent as history.
//  - The events stream holds one line at a time (the server writes each
//    before the next is made), never a tenant's whole history.
//  - Reading never writes: nothing here appends, commits an offset or
//    joins a consumer group.
//  - Handlers run on the gateway's handler pool under the tenant's queue
//    key (server.hpp); beyond that at most audit_reads_per_tenant audit
//    reads of one tenant run at once, more answer 429 with Retry-After.
//  - Bad query values are a 422 naming the parameter, before anything is
//    read; a tenant with no chained events answers as an empty history.
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "actors/host/node.hpp"
#include "actors/host/tree_head.hpp"
#include "cluster/audit.hpp"
#include "gateway/api.hpp"
#include "gateway/api_context.hpp"
#include "gateway/openapi_parts.hpp"

namespace kw::gateway {
namespace {

using json = nlohmann::json;

// How many audit reads of each tenant are running.
class read_slots {
public:
  explicit read_slots(int per_tenant) : per_tenant_(per_tenant < 1 ? 1 : per_tenant) {}

  class held {
  public:
    held(read_slots* s, std::string t) : s_(s), t_(std::move(t)) {}
    held(held&& o) noexcept : s_(o.s_), t_(std::move(o.t_)) { o.s_ = nullptr; }
    held(const held&) = delete;
    ~held() {
      if (!s_) return;
      std::lock_guard<std::mutex> lk(s_->mu_);
      if (--s_->running_[t_] == 0) s_->running_.erase(t_);
    }

  private:
    read_slots* s_;
    std::string t_;
  };

  std::optional<held> take(const std::string& tenant) {
    std::lock_guard<std::mutex> lk(mu_);
    auto& n = running_[tenant];
    if (n >= per_tenant_) return std::nullopt;
    ++n;
    return held(this, tenant);
  }

private:
  int per_tenant_;
  std::mutex mu_;
  std::map<std::string, int> running_;
};

struct audit_api {
  audit_api(const api_context& c, int per_tenant) : cx(c), slots(per_tenant) {}
  const api_context& cx;
  mutable read_slots slots;

  result<std::unique_ptr<audit::log_source>> source() const {
    if (cx.o.audit_log) return cx.o.audit_log();
    // The node's own log, not owned here.
    return audit::from_event_log(std::shared_ptr<storage::event_log>(&cx.n.log(), [](storage::event_log*) {}));
  }

  static json break_json(const audit::chain_break& b) {
    return {{"offset", b.offset}, {"seq", b.seq},           {"event_id", b.event_id},
            {"what", b.what},     {"expected", b.expected}, {"found", b.found}};
  }

  static http_response broken(const http_request& req, const std::string& tenant, const audit::chain_break& b) {
    auto r = http_response::error(409, "chain_broken", audit::describe(tenant, b), req.request_id);
    auto j = json::parse(r.body);
    j["error"]["chain_break"] = break_json(b);
    r.body = j.dump();
    return r;
  }

  // A failed read of the tenant's history as its answer.
  static http_response failed(const http_request& req, const std::string& tenant, const error& e,
                              const audit::chain_break& b) {
    if (e.code == errc::invalid) return broken(req, tenant, b);
    return from_error(e, req);
  }

  static http_response busy(const http_request& req) {
    auto r = http_response::error(429, "rate_limited", "this tenant's audit reads are all running; retry shortly",
                                  req.request_id);
    r.set_header("Retry-After", "1");
    return r;
  }

  // Runs `f(caller, source)` for a caller allowed to read the audit trail,
  // holding one of the tenant's audit read slots for as long as `f` runs
  // (for a stream, until its last line: the slot moves into the stream).
  template <class F>
  http_response with_log(const http_request& req, const std::set<std::string>& known, F&& f) const {
    return refusal_or(cx.authorize(req, action::read_audit), [&](const caller& c) -> http_response {
      json details = json::array();
      unknown_query(req, known, details);
      if (!details.empty()) return bad_query(req, details);
      auto slot = slots.take(c.tenant);
      if (!slot) return busy(req);
      auto src = source();
      if (!src) return from_error(src.err(), req);
      auto shared_slot = std::make_shared<read_slots::held>(std::move(*slot));
      return f(c, std::shared_ptr<audit::log_source>(std::move(*src)), shared_slot);
    });
  }

  // ---- GET /api/v1/audit/events?from=&to=
  http_response events(const http_request& req) const {
    return with_log(req, {"from", "to"}, [&](const caller& c, std::shared_ptr<audit::log_source> src,
                                             std::shared_ptr<read_slots::held> slot) -> http_response {
      json details = json::array();
      auto from = time_param(req, "from", details);
      auto to = time_param(req, "to", details);
      if (from && to && *to < *from)
        details.push_back({{"field", "to"}, {"message", "must not be before from"}});
      if (!details.empty()) return bad_query(req, details);
      http_response r;
      r.status = 200;
      r.content_type = "application/x-ndjson";
      r.set_header("Cache-Control", "no-store");
      const std::string tenant = c.tenant;
      r.stream = [src, slot, tenant, from, to](const http_response::piece_writer& write) {
        // Lines are gathered into pieces of about 64 KiB: one write each.
        std::string piece;
        bool gone = false;
        audit::chain_break b;
        auto st = audit::event_lines(
            *src, tenant, from, to,
            [&](const std::string& line) {
              piece += line;
              piece += '\n';
              if (piece.size() < (64u << 10)) return true;
              gone = !write(piece);
              piece.clear();
              return !gone;
            },
            &b);
        if (gone) return;
        if (!st) {
          json e = st.err().code == errc::invalid
                       ? json{{"code", "chain_broken"}, {"message", audit::describe(tenant, b)},
                              {"chain_break", break_json(b)}}
                       : json{{"code", "unavailable"}, {"message", "the log could not be read: " + st.err().message}};
          piece += json{{"error", e}}.dump();
          piece += '\n';
        }
        if (!piece.empty()) write(piece);
      };
      return r;
    });
  }

  // ---- GET /api/v1/audit/heads?latest=
  http_response heads(const http_request& req) const {
    return with_log(req, {"latest"}, [&](const caller& c, std::shared_ptr<audit::log_source> src,
                                         std::shared_ptr<read_slots::held>) -> http_response {
      bool latest = false;
      if (auto it = req.query.find("latest"); it != req.query.end()) {
        if (it->second != "true" && it->second != "false")
          return bad_query(req, json::array({{{"field", "latest"}, {"message", "true or false"}}}));
        latest = it->second == "true";
      }
      audit::chain_break b;
      auto hs = audit::recorded_heads(*src, c.tenant, &b);
      if (!hs) return failed(req, c.tenant, hs.err(), b);
      json out = {{"tenant", c.tenant}};
      out["public_key"] = cx.o.audit_public_key.empty() ? json() : json(cx.o.audit_public_key);
      auto id = cx.o.audit_public_key.empty() ? result<std::string>(std::string()) : key_id_of(cx.o.audit_public_key);
      out["key_id"] = id && !id->empty() ? json(*id) : json();
      json list = json::array();
      for (std::size_t i = latest && !hs->empty() ? hs->size() - 1 : 0; i < hs->size(); ++i)
        list.push_back(json::parse(audit::head_json((*hs)[i])));
      out["heads"] = std::move(list);
      return http_response::json(200, out);
    });
  }

  // A tree size from the query: 1 .. size (the tenant's history so far).
  static std::optional<std::uint64_t> size_param(const http_request& req, const std::string& name,
                                                 std::uint64_t size, json& details) {
    auto it = req.query.find(name);
    if (it == req.query.end()) return std::nullopt;
    auto v = parse_int(it->second);
    if (!v || *v < 1)
      details.push_back({{"field", name}, {"message", "a tree size: an integer of 1 or more"}});
    else if (static_cast<std::uint64_t>(*v) > size)
      details.push_back({{"field", name},
                         {"message", "the tenant's history has " + std::to_string(size) + " events, not " + it->second}});
    else
      return static_cast<std::uint64_t>(*v);
    return std::nullopt;
  }

  static json hex_list(const std::vector<merkle::hash>& hs) {
    json out = json::array();
    for (const auto& h : hs) out.push_back(merkle::to_hex(h));
    return out;
  }

  // The recorded head of exactly this tree size, or null.
  static json head_for(const std::vector<audit::signed_head>& heads, std::uint64_t size) {
    for (auto it = heads.rbegin(); it != heads.rend(); ++it)
      if (static_cast<std::uint64_t>(it->tree_size) == size) return json::parse(audit::head_json(*it));
    return json();
  }

  // ---- GET /api/v1/audit/proofs/inclusion?event_id= | seq=[&aggregate=] [&tree_size=]
  http_response inclusion(const http_request& req) const {
    return with_log(req, {"event_id", "seq", "aggregate", "tree_size"},
                    [&](const caller& c, std::shared_ptr<audit::log_source> src,
                        std::shared_ptr<read_slots::held>) -> http_response {
                      json details = json::array();
                      auto id = req.query.find("event_id");
                      auto seq_q = req.query.find("seq");
                      auto agg_q = req.query.find("aggregate");
                      std::optional<std::int64_t> seq;
                      std::string aggregate = "tenant/" + c.tenant;
                      if ((id == req.query.end()) == (seq_q == req.query.end()))
                        details.push_back({{"field", "event_id"}, {"message", "give event_id or seq (not both)"}});
                      if (id != req.query.end() && (id->second.empty() || id->second.size() > 64))
                        details.push_back({{"field", "event_id"}, {"message", "an event id"}});
                      if (seq_q != req.query.end()) {
                        seq = parse_int(seq_q->second);
                        if (!seq || *seq < 1) details.push_back({{"field", "seq"}, {"message", "an integer of 1 or more"}});
                      }
                      if (agg_q != req.query.end()) {
                        if (seq_q == req.query.end())
                          details.push_back({{"field", "aggregate"}, {"message", "only with seq"}});
                        else if (agg_q->second.rfind("tenant/", 0) != 0 && agg_q->second.rfind("monitor/", 0) != 0)
                          details.push_back({{"field", "aggregate"}, {"message", "tenant/<id> or monitor/<id>"}});
                        aggregate = agg_q->second;
                      }
                      if (auto ts = req.query.find("tree_size"); ts != req.query.end()) {
                        auto v = parse_int(ts->second);
                        if (!v || *v < 1)
                          details.push_back({{"field", "tree_size"}, {"message", "a tree size: an integer of 1 or more"}});
                      }
                      if (!details.empty()) return bad_query(req, details);
                      const std::string event_id = id == req.query.end() ? "" : id->second;
                      audit::chain_break b;
                      auto h = audit::read_history(
                          *src, c.tenant,
                          [&](const event& e) {
                            return seq ? e.meta.seq.get() == *seq && e.meta.aggregate == aggregate
                                       : e.meta.id == event_id;
                          },
                          &b);
                      if (!h) return failed(req, c.tenant, h.err(), b);
                      if (!h->found)
                        return not_found(req, seq ? "event " + aggregate + " seq " + std::to_string(*seq)
                                                  : "event " + event_id);
                      const auto& ev = *h->found;
                      std::uint64_t size = 0;
                      if (auto s = size_param(req, "tree_size", h->tree.size(), details)) {
                        size = *s;
                      } else if (!details.empty()) {
                        return bad_query(req, details);
                      } else {
                        if (h->heads.empty())
                          return http_response::error(
                              409, "conflict", "no signed head yet: give tree_size (the history has " +
                                                   std::to_string(h->tree.size()) + " events)",
                              req.request_id);
                        size = static_cast<std::uint64_t>(h->heads.back().tree_size);
                      }
                      if (ev.index >= size)
                        return bad_query(req, json::array({{{"field", "tree_size"},
                                                            {"message", "event " + ev.id + " is leaf " +
                                                                            std::to_string(ev.index) +
                                                                            ", not in a tree of " +
                                                                            std::to_string(size) + " events"}}}));
                      auto proof = h->tree.inclusion_proof(ev.index, size);
                      auto root = h->tree.root(size);
                      if (!proof || !root) return from_error(!proof ? proof.err() : root.err(), req);
                      json out = {{"tenant", c.tenant},
                                  {"event_id", ev.id},
                                  {"aggregate", ev.aggregate},
                                  {"seq", ev.seq},
                                  {"offset", ev.offset},
                                  {"index", ev.index},
                                  {"tree_size", size},
                                  {"record", ev.value},
                                  {"leaf_hash", merkle::to_hex(merkle::leaf_hash(ev.value))},
                                  {"root", merkle::to_hex(*root)},
                                  {"proof", hex_list(*proof)},
                                  {"head", head_for(h->heads, size)}};
                      return http_response::json(200, out);
                    });
  }

  // ---- GET /api/v1/audit/proofs/consistency?first=&second=
  http_response consistency(const http_request& req) const {
    return with_log(req, {"first", "second"}, [&](const caller& c, std::shared_ptr<audit::log_source> src,
                                                  std::shared_ptr<read_slots::held>) -> http_response {
      json details = json::array();
      if (req.query.find("first") == req.query.end())
        details.push_back({{"field", "first"}, {"message", "required: the older tree size"}});
      for (const char* name : {"first", "second"})
        if (auto it = req.query.find(name); it != req.query.end()) {
          auto v = parse_int(it->second);
          if (!v || *v < 1) details.push_back({{"field", name}, {"message", "a tree size: an integer of 1 or more"}});
        }
      if (!details.empty()) return bad_query(req, details);
      audit::chain_break b;
      auto h = audit::read_history(*src, c.tenant, nullptr, &b);
      if (!h) return failed(req, c.tenant, h.err(), b);
      auto first = size_param(req, "first", h->tree.size(), details);
      auto second = size_param(req, "second", h->tree.size(), details);
      if (!details.empty()) return bad_query(req, details);
      if (!second) {
        if (h->heads.empty())
          return http_response::error(409, "conflict",
                                      "no signed head yet: give second (the history has " +
                                          std::to_string(h->tree.size()) + " events)",
                                      req.request_id);
        second = static_cast<std::uint64_t>(h->heads.back().tree_size);
      }
      if (*first > *second)
        return bad_query(req, json::array({{{"field", "first"},
                                            {"message", "must not be above second (" + std::to_string(*second) +
                                                            ")"}}}));
      auto proof = h->tree.consistency_proof(*first, *second);
      auto r1 = h->tree.root(*first);
      auto r2 = h->tree.root(*second);
      if (!proof || !r1 || !r2) return from_error(!proof ? proof.err() : !r1 ? r1.err() : r2.err(), req);
      json out = {{"tenant", c.tenant},
                  {"first", *first},
                  {"second", *second},
                  {"first_root", merkle::to_hex(*r1)},
                  {"second_root", merkle::to_hex(*r2)},
                  {"proof", hex_list(*proof)},
                  {"first_head", head_for(h->heads, *first)},
                  {"second_head", head_for(h->heads, *second)}};
      return http_response::json(200, out);
    });
  }

  // ---- GET /api/v1/audit/state?at=
  http_response state(const http_request& req) const {
    return with_log(req, {"at"}, [&](const caller& c, std::shared_ptr<audit::log_source> src,
                                     std::shared_ptr<read_slots::held>) -> http_response {
      json details = json::array();
      auto at = time_param(req, "at", details);
      if (!at && details.empty()) details.push_back({{"field", "at"}, {"message", "required: an RFC 3339 time"}});
      if (!details.empty()) return bad_query(req, details);
      audit::chain_break b;
      auto doc = audit::state_document(*src, c.tenant, *at, &b);
      if (!doc) return failed(req, c.tenant, doc.err(), b);
      http_response r;
      r.status = 200;
      r.body = std::move(*doc);
      r.body += '\n';
      return r;
    });
  }
};

}  // namespace

void add_audit_routes(router& r, const api_context& c) {
  auto a = std::make_shared<audit_api>(c, c.o.audit_reads_per_tenant);
  r.add("GET", "/api/v1/audit/events", [a](const http_request& q, const path_params&) { return a->events(q); });
  r.add("GET", "/api/v1/audit/heads", [a](const http_request& q, const path_params&) { return a->heads(q); });
  r.add("GET", "/api/v1/audit/proofs/inclusion",
        [a](const http_request& q, const path_params&) { return a->inclusion(q); });
  r.add("GET", "/api/v1/audit/proofs/consistency",
        [a](const http_request& q, const path_params&) { return a->consistency(q); });
  r.add("GET", "/api/v1/audit/state", [a](const http_request& q, const path_params&) { return a->state(q); });
}

void describe_audit_routes(json& paths, json& schemas) {
  using namespace oa;
  const json hex = {{"type", "string"}, {"pattern", "^[0-9a-f]{64}$"}};
  const json hexes = {{"type", "array"}, {"items", hex}};
  const json time_q = {{"type", "string"}, {"description", "RFC 3339 or unix seconds"}};
  const json size_q = {{"type", "integer"}, {"minimum", 1}};
  schemas["SignedHead"] = {{"type", "object"},
                           {"properties",
                            {{"tenant", {{"type", "string"}}},
                             {"tree_size", {{"type", "integer"}}},
                             {"root", hex},
                             {"signed_at", {{"type", "string"}, {"format", "date-time"}}},
                             {"key_id", {{"type", "string"}}},
                             {"signature", {{"type", "string"}}}}}};
  const json nullable_head = {{"allOf", json::array({ref("SignedHead")})}, {"nullable", true}};
  const json broken = error_response("the tenant's hash chain is broken (error.chain_break: offset, seq, expected, found)");
  const json bad = error_response("bad query parameters (details name them)");
  const std::string formats = " Formats: events/README.md, \"The audit API\".";
  paths["/api/v1/audit/events"]["get"] = secured(
      {{"summary",
        "The tenant's events between two instants, read from the log itself and streamed as JSON lines "
        "(owner, auditor). Each line: {\"offset\",\"seq\",\"index\" (Merkle leaf),\"event\" (the record exactly as "
        "stored)}. The chain is verified from the tenant's first event as the lines go; a break ends the stream "
        "with a line {\"error\":{\"code\":\"chain_broken\",\"chain_break\":{offset,seq,expected,found}}}." +
            formats},
       {"parameters", json::array({query_param("from", time_q, "events at or after"),
                                   query_param("to", time_q, "events at or before")})},
       {"responses",
        {{"200", {{"description", "JSON lines (chunked)"}, {"content", {{"application/x-ndjson", {{"schema", {{"type", "string"}}}}}}}}},
         {"422", bad}}}});
  paths["/api/v1/audit/heads"]["get"] = secured(
      {{"summary", "The signed tree heads recorded in the tenant's chain (oldest first), and the notary's public key "
                   "(owner, auditor)." + formats},
       {"parameters", json::array({query_param("latest", {{"type", "boolean"}}, "only the latest head")})},
       {"responses",
        {{"200", ok("the heads",
                    {{"type", "object"},
                     {"properties",
                      {{"tenant", {{"type", "string"}}},
                       {"public_key", {{"type", "string"}, {"nullable", true}}},
                       {"key_id", {{"type", "string"}, {"nullable", true}}},
                       {"heads", {{"type", "array"}, {"items", ref("SignedHead")}}}}}})},
         {"409", broken},
         {"422", bad}}}});
  paths["/api/v1/audit/proofs/inclusion"]["get"] = secured(
      {{"summary", "An RFC 9162 inclusion proof (PATH) of one event in the tenant's tree of tree_size events "
                   "(default: the latest signed head) (owner, auditor)." + formats},
       {"parameters",
        json::array({query_param("event_id", {{"type", "string"}}, "the event's id"),
                     query_param("seq", size_q, "the event's seq in its aggregate's stream"),
                     query_param("aggregate", {{"type", "string"}}, "with seq: tenant/<id> (default) or monitor/<id>"),
                     query_param("tree_size", size_q)})},
       {"responses",
        {{"200", ok("the proof",
                    {{"type", "object"},
                     {"properties",
                      {{"tenant", {{"type", "string"}}},
                       {"event_id", {{"type", "string"}}},
                       {"aggregate", {{"type", "string"}}},
                       {"seq", {{"type", "integer"}}},
                       {"offset", {{"type", "integer"}}},
                       {"index", {{"type", "integer"}}},
                       {"tree_size", {{"type", "integer"}}},
                       {"record", {{"type", "string"}, {"description", "the leaf data: the record as stored"}}},
                       {"leaf_hash", hex},
                       {"root", hex},
                       {"proof", hexes},
                       {"head", nullable_head}}}})},
         {"404", error_response("no such event in the tenant's history")},
         {"409", error_response("the chain is broken, or no signed head yet (give tree_size)")},
         {"422", bad}}}});
  paths["/api/v1/audit/proofs/consistency"]["get"] = secured(
      {{"summary", "An RFC 9162 consistency proof (PROOF) that the tenant's tree of `second` events (default: the "
                   "latest signed head) extends its tree of `first` events (owner, auditor)." + formats},
       {"parameters", json::array({query_param("first", size_q, "the older tree size (required)"),
                                   query_param("second", size_q, "the newer tree size")})},
       {"responses",
        {{"200", ok("the proof",
                    {{"type", "object"},
                     {"properties",
                      {{"tenant", {{"type", "string"}}},
                       {"first", {{"type", "integer"}}},
                       {"second", {{"type", "integer"}}},
                       {"first_root", hex},
                       {"second_root", hex},
                       {"proof", hexes},
                       {"first_head", nullable_head},
                       {"second_head", nullable_head}}}})},
         {"409", error_response("the chain is broken, or no signed head yet (give second)")},
         {"422", bad}}}});
  paths["/api/v1/audit/state"]["get"] = secured(
      {{"summary", "The tenant's and its monitors' state as of an instant, rebuilt from the log with the deciders' "
                   "evolve: the document of `keepwatch audit state` (owner, auditor)."},
       {"parameters", json::array({query_param("at", time_q, "the instant (required)")})},
       {"responses",
        {{"200", ok("tenant, at, events_applied, last_offset, state, monitors", {{"type", "object"}})},
         {"409", broken},
         {"422", bad}}}});
}

}  // namespace kw::gateway
