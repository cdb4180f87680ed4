// See recovery.hpp.
#include "actors/host/recovery.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include <spdlog/spdlog.h>

#include "events/codec.hpp"

namespace kw {

namespace {
constexpr char sep = '\x1f';  // between tenant id and state in a monitor snapshot
constexpr std::size_t batch = 4096;
}  // namespace

const char* const checkpoint_key = "checkpoint";

storage::snapshot make_checkpoint(std::int64_t events_next, std::int64_t checks_next) {
  return storage::snapshot{checkpoint_key, {}, log_offset{events_next}, log_offset{checks_next}};
}

std::string tenant_key(const std::string& tenant) { return "tenant/" + tenant; }
std::string monitor_key(const std::string& monitor) { return "monitor/" + monitor; }
std::string monitor_slot(const std::string& tenant, const std::string& monitor) {
  return tenant + sep + monitor;
}

storage::snapshot make_snapshot(const std::string& tenant, const tenant::state& st,
                                std::int64_t events_next, std::int64_t checks_next) {
  return storage::snapshot{tenant_key(tenant), tenant::encode_state(st), log_offset{events_next},
                           log_offset{checks_next}};
}

storage::snapshot make_snapshot(const std::string& tenant, const std::string& monitor,
                                const monitor::state& st, std::int64_t events_next,
                                std::int64_t checks_next) {
  return storage::snapshot{"monitor/" + monitor_slot(tenant, monitor),
                           tenant + sep + monitor::encode_state(st),
                           log_offset{events_next}, log_offset{checks_next}};
}

std::string monitor_of(const event& e) {
  const std::string* name = &e.meta.aggregate;
  if (name->rfind("monitor/", 0) != 0) name = &e.meta.subject;
  if (name->rfind("monitor/", 0) != 0) return {};
  return name->substr(8);
}

void apply_recovered(partition_state& ps, const event& e, storage::topic t, std::int64_t offset) {
  const bool checks = t == storage::topic::checks;
  auto covered = [&](auto& slot) {
    return checks ? offset < slot.checks_next : offset < slot.events_next;
  };
  auto advance = [&](auto& slot) {
    if (checks)
      slot.checks_next = std::max(slot.checks_next, offset + 1);
    else
      slot.events_next = std::max(slot.events_next, offset + 1);
  };
  const std::string& tenant = e.meta.tenant.get();
  if (e.meta.aggregate.rfind("tenant/", 0) == 0) {
    auto& slot = ps.tenants[tenant];
    if (slot.tenant.empty()) {
      slot.tenant = tenant;
      if (slot.events_next == 0 && slot.checks_next == 0) slot.st = tenant::initial_state();
    }
    // A record delivered twice (or replayed) has a seq already applied.
    if (!covered(slot) && e.meta.seq.get() > slot.st.version) {
      slot.st = tenant::evolve(std::move(slot.st), e);
      advance(slot);
    }
    // Tenant-decided monitor lifecycle events also begin and end a monitor.
    if (std::holds_alternative<monitor_created>(e.data) ||
        std::holds_alternative<monitor_deleted>(e.data)) {
      auto id = monitor_of(e);
      if (id.empty()) return;
      auto it = ps.monitors.find(monitor_slot(tenant, id));
      if (it == ps.monitors.end()) {
        if (!std::holds_alternative<monitor_created>(e.data)) return;
        recovered<monitor::state> m;
        m.st = monitor::initial_state();
        m.tenant = tenant;
        it = ps.monitors.emplace(monitor_slot(tenant, id), std::move(m)).first;
      } else if (covered(it->second) ||
                 (std::holds_alternative<monitor_created>(e.data) && it->second.st.exists &&
                  !it->second.st.deleted)) {
        return;  // covered by its snapshot, or a duplicate of its creation
      }
      it->second.st = monitor::evolve(std::move(it->second.st), e);
      advance(it->second);
    }
    return;
  }
  auto id = monitor_of(e);
  if (id.empty()) return;
  auto it = ps.monitors.find(monitor_slot(tenant, id));
  if (it == ps.monitors.end()) return;  // events of a monitor never created: ignored
  if (covered(it->second)) return;
  const auto& m = it->second.st;
  if (e.meta.seq.get() <= (checks ? m.check_seq : m.version)) return;  // a duplicate
  it->second.st = monitor::evolve(std::move(it->second.st), e);
  advance(it->second);
}

result<partition_state> recover_partition(storage::event_log& log, storage::rocks_snapshot_store* snaps,
                                          partition_id p) {
  partition_state ps;
  std::int64_t from_events = std::numeric_limits<std::int64_t>::max();
  std::int64_t from_checks = std::numeric_limits<std::int64_t>::max();
  bool checkpointed = false;
  // A snapshot only saves time: one that cannot be read (an older format, a
  // corrupt value) is dropped with the rest of the partition's snapshots and
  // the log is replayed from the start instead.
  auto load_snapshots = [&]() -> status {
    auto all = snaps->load_all(p);
    if (!all) return all.err();
    for (auto& s : *all) {
      if (s.aggregate == checkpoint_key) {
        checkpointed = true;
        from_events = std::min(from_events, s.events_offset.get());
        from_checks = std::min(from_checks, s.checks_offset.get());
        continue;
      }
      ++ps.snapshots;
      from_events = std::min(from_events, s.events_offset.get());
      from_checks = std::min(from_checks, s.checks_offset.get());
      if (s.aggregate.rfind("tenant/", 0) == 0) {
        auto st = tenant::decode_state(s.state);
        if (!st) return make_error(errc::decode, "snapshot " + s.aggregate + ": " + st.err().message);
        auto id = s.aggregate.substr(7);
        ps.tenants[id] = recovered<tenant::state>{std::move(*st), s.events_offset.get(),
                                                  s.checks_offset.get(), id};
      } else if (s.aggregate.rfind("monitor/", 0) == 0) {
        auto cut = s.state.find(sep);
        if (cut == std::string::npos)
          return make_error(errc::decode, "snapshot " + s.aggregate + ": no tenant");
        auto st = monitor::decode_state(std::string_view(s.state).substr(cut + 1));
        if (!st) return make_error(errc::decode, "snapshot " + s.aggregate + ": " + st.err().message);
        ps.monitors[s.aggregate.substr(8)] = recovered<monitor::state>{
            std::move(*st), s.events_offset.get(), s.checks_offset.get(), s.state.substr(0, cut)};
      }
    }
    return ok_status();
  };
  if (snaps) {
    if (auto st = load_snapshots(); !st) {
      if (st.err().code != errc::decode) return st.err();
      spdlog::warn("partition {}: ignoring snapshots ({}); replaying the log", p.get(),
                   st.err().message);
      ps = partition_state{};
      checkpointed = false;
    }
  }
  // Without a checkpoint nothing says which aggregates the snapshots leave
  // out: replay from the start (the snapshots still spare their own events).
  if (!checkpointed) from_events = from_checks = 0;
  // Never recover from less than the log the snapshots leave to replay:
  // events deleted below it (retention, the dev broker's limit) would be
  // skipped silently. (The checks topic is meant to expire.)
  if (auto st = storage::check_not_truncated(log, storage::topic::events, p, log_offset{from_events},
                                             "recovery of the write side");
      !st)
    return st.err();

  // The two topics are replayed merged in time order (ties: the check result
  // first, as record_check emits it first), which is the order in which each
  // aggregate applied them: its commands are decided one at a time.
  struct cursor {
    storage::topic t;
    std::int64_t at;
    std::vector<storage::stored_record> buf;
    std::size_t i = 0;
    std::optional<event> head;
    std::int64_t head_offset = 0;
  };
  cursor cur[2] = {{storage::topic::checks, from_checks, {}, 0, {}, 0},
                   {storage::topic::events, from_events, {}, 0, {}, 0}};
  auto fill = [&](cursor& c) -> status {
    if (c.head) return ok_status();
    if (c.i == c.buf.size()) {
      auto recs = log.read(c.t, p, log_offset{c.at}, batch);
      if (!recs) return recs.err();
      c.buf = std::move(*recs);
      c.i = 0;
      if (c.buf.empty()) return ok_status();
      c.at = c.buf.back().offset.get() + 1;
    }
    auto& r = c.buf[c.i++];
    auto e = decode(r.value);
    if (!e)
      return make_error(errc::decode, std::string(storage::topic_name(c.t)) + " partition " +
                                          std::to_string(p.get()) + " offset " +
                                          std::to_string(r.offset.get()) + ": " + e.err().message);
    c.head = std::move(*e);
    c.head_offset = r.offset.get();
    return ok_status();
  };
  for (;;) {
    for (auto& c : cur)
      if (auto st = fill(c); !st) return st.err();
    cursor* next = nullptr;
    for (auto& c : cur)
      if (c.head && (!next || c.head->meta.time < next->head->meta.time)) next = &c;
    if (!next) break;
    // Times come from different clocks (a caller's, the prober's): a check
    // result never goes before the creation of its monitor.
    if (next == &cur[0] && cur[1].head &&
        ps.monitors.count(monitor_slot(cur[0].head->meta.tenant.get(), monitor_of(*cur[0].head))) == 0)
      next = &cur[1];
    apply_recovered(ps, *next->head, next->t, next->head_offset);
    next->head.reset();
    ++ps.replayed;
  }
  ps.checks_end = cur[0].at;
  ps.events_end = cur[1].at;
  // Deleted monitors need no actor and no snapshot.
  // The tenant decides a monitor's life: a monitor its tenant no longer lists
  // (a deletion that a monitor's snapshot claimed to cover) has none.
  for (auto it = ps.monitors.begin(); it != ps.monitors.end();) {
    auto t = ps.tenants.find(it->second.tenant);
    bool orphan = t != ps.tenants.end() && t->second.st.exists &&
                  (t->second.st.status == tenant::tenant_status::deleted ||
                   t->second.st.monitors.count(it->second.st.id) == 0);
    if (it->second.st.deleted || orphan) it = ps.monitors.erase(it); else ++it;
  }
  return ps;
}

namespace {
// Where two encodings first part, with a little of each around it.
std::string first_difference(const std::string& x, const std::string& y) {
  std::size_t i = 0;
  while (i < x.size() && i < y.size() && x[i] == y[i]) ++i;
  const std::size_t from = i > 40 ? i - 40 : 0;
  return " (from snapshots: …" + x.substr(from, 120) + "…; full replay: …" + y.substr(from, 120) + "…)";
}
}  // namespace

std::vector<std::string> recovery_differences(const partition_state& a, const partition_state& b) {
  std::vector<std::string> out;
  auto name = [](const recovered<tenant::state>& r) { return "tenant " + r.tenant; };
  auto name_m = [](const recovered<monitor::state>& r) { return "monitor " + r.tenant + "/" + r.st.id; };
  auto compare = [&](const auto& left, const auto& right, auto named, auto encode) {
    for (const auto& [key, rec] : left) {
      auto it = right.find(key);
      if (it == right.end())
        out.push_back(named(rec) + ": recovered from snapshots but absent from a full replay");
      else if (auto x = encode(rec.st), y = encode(it->second.st); x != y)
        out.push_back(named(rec) + ": recovered state differs from a full replay" + first_difference(x, y));
    }
    for (const auto& [key, rec] : right)
      if (!left.count(key)) out.push_back(named(rec) + ": in a full replay but lost by recovery from snapshots");
  };
  compare(a.tenants, b.tenants, name, [](const tenant::state& s) { return tenant::encode_state(s); });
  compare(a.monitors, b.monitors, name_m, [](const monitor::state& s) { return monitor::encode_state(s); });
  return out;
}

}  // namespace kw
