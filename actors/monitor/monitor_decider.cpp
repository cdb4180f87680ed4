// The Monitor decider: command handler, event handler, snapshot codec.
// Order as in STYLE.md: state helpers, command handler, event handler, codec.
//
// record_check is the hot path (every check of every monitor): it allocates
// the result vector once and copies only the monitor id and the error text.
#include "actors/monitor/monitor_decider.hpp"

#include "actors/common/dedupe_window_json.hpp"

#include "events/event_fields.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <utility>

#include "actors/common/validation.hpp"

namespace kw::monitor {

namespace v = kw::validation;
using events = std::vector<kw::event_data>;
using outcome = kw::result<events>;

bool operator==(const state& a, const state& b) {
  return a.exists == b.exists && a.deleted == b.deleted && a.active == b.active &&
         a.status == b.status && a.consecutive_failures == b.consecutive_failures &&
         a.version == b.version && a.check_seq == b.check_seq &&
         a.last_check_at == b.last_check_at && a.id == b.id && a.config == b.config &&
         a.incident == b.incident && a.recent == b.recent && a.owed == b.owed;
}

state initial_state() { return state{}; }

bool seen(const state& s, std::string_view command_id) noexcept {
  return s.recent.contains(command_id);
}

namespace {

error reject(errc code, std::string msg) { return make_error(code, std::move(msg)); }

template <class E>
outcome one(E e) {
  events out;
  out.emplace_back(std::move(e));
  return out;
}

// Cuts `s` to at most max_error_len bytes without splitting a UTF-8 sequence.
std::string bounded_error(const std::string& s) {
  if (s.size() <= max_error_len) return s;
  std::size_t n = max_error_len;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Consecutive failures once a check is applied. Shared by decide and evolve
// so they cannot disagree: in maintenance failures do not accumulate.
int failures_after(const state& s, bool ok) {
  if (ok) return 0;
  return s.status == monitor_status::maintenance ? 1 : s.consecutive_failures + 1;
}

// ---------------------------------------------------------------- commands

struct handler {
  const state& s;
  const command& c;

  outcome operator()(const update_monitor& u) const {
    if (auto r = v::monitor_config(u.config, c.ctx.min_interval_s); !r) return r.err();
    if (c.ctx.has_channel)
      for (const auto& ch : u.config.channel_ids) {
        const auto& had = s.config.channel_ids;
        if (std::find(had.begin(), had.end(), ch) == had.end() && !c.ctx.has_channel(ch))
          return reject(errc::invalid, "unknown channel '" + ch + "'");
      }
    return one(monitor_updated{u.config});
  }

  outcome operator()(const pause_monitor&) const {
    if (!s.active) return reject(errc::conflict, "the monitor is already paused");
    return one(monitor_paused{});
  }

  outcome operator()(const resume_monitor&) const {
    if (s.active) return reject(errc::conflict, "the monitor is not paused");
    return one(monitor_resumed{});
  }

  outcome operator()(const record_check& r) const {
    if (!s.active) return reject(errc::conflict, "the monitor is paused");
    if (r.latency_us < 0) return reject(errc::invalid, "latency_us must not be negative");
    if (r.http_status != 0 && (r.http_status < 100 || r.http_status > 599))
      return reject(errc::invalid, "http_status must be 0 or between 100 and 599");

    const std::int64_t seq = s.check_seq + 1;
    const monitor_status from = s.status;
    const int failures = failures_after(s, r.ok);

    events out;
    out.reserve(3);
    out.emplace_back(check_completed{s.id, r.ok, r.latency_us, r.http_status,
                                     bounded_error(r.error), r.cert_expires_at});
    auto move_to = [&](monitor_status to, std::string reason) {
      out.emplace_back(monitor_status_changed{from, to, std::move(reason), seq});
    };

    if (r.ok) {
      if (from != monitor_status::up) {
        move_to(monitor_status::up, "check succeeded");
        if (s.incident) {
          std::int64_t ms = (c.meta.time.get() - s.incident->opened_at.get()) / 1000;
          out.emplace_back(incident_closed{s.incident->id, s.incident->opened_at, ms < 0 ? 0 : ms});
        }
      }
    } else if (c.ctx.in_maintenance) {
      if (from != monitor_status::maintenance) move_to(monitor_status::maintenance, "maintenance window");
    } else if (from == monitor_status::down) {
      // still down: the open incident goes on
    } else if (failures > s.config.retries) {
      if (!s.incident && r.incident_id.empty())
        return reject(errc::invalid, "incident_id is required when an incident may open");
      move_to(monitor_status::down, bounded_error(r.error));
      if (!s.incident) out.emplace_back(incident_opened{r.incident_id, bounded_error(r.error)});
    } else if (from == monitor_status::maintenance) {
      move_to(monitor_status::pending, "maintenance window ended");
    }
    return out;
  }

  outcome operator()(const record_delivery& d) const {
    if (auto r = v::id("channel_id", d.channel_id); !r) return r.err();
    if (auto r = v::id("incident_id", d.incident_id); !r) return r.err();
    if (d.transition != "down" && d.transition != "up")
      return reject(errc::invalid, "transition must be down or up");
    if (d.attempts < (d.delivered ? 1 : 0))
      return reject(errc::invalid, d.delivered ? "attempts must be at least 1" : "attempts must not be negative");
    if (d.delivered)
      return one(notification_delivered{d.channel_id, d.incident_id, d.transition, d.attempts,
                                        d.http_status});
    return one(notification_failed{d.channel_id, d.incident_id, d.transition, d.attempts,
                                   bounded_error(d.error)});
  }
};

}  // namespace

outcome decide(const state& s, const command& c) {
  if (s.recent.contains(c.meta.command_id)) return events{};  // a replay
  if (!s.exists || s.deleted) return reject(errc::not_found, "no such monitor");
  if (c.ctx.tenant_suspended) return reject(errc::suspended, "the tenant is suspended");
  if (c.meta.expected_version >= 0 && c.meta.expected_version != s.version)
    return reject(errc::conflict, "expected version " + std::to_string(c.meta.expected_version) +
                                      " but the monitor is at " + std::to_string(s.version));
  return std::visit(handler{s, c}, c.b);
}

// ---------------------------------------------------------------- events

namespace {

void owe(state& s, const std::string& incident, const char* transition, const std::string& reason,
         timestamp at) {
  if (s.config.channel_ids.empty()) return;
  s.owed.push_back(owed_notification{incident, transition, reason, s.config.name, at,
                                     s.config.channel_ids});
}

void settle(state& s, const std::string& incident, const std::string& transition,
            const std::string& channel) {
  for (auto it = s.owed.begin(); it != s.owed.end(); ++it) {
    if (it->incident_id != incident || it->transition != transition) continue;
    auto& chs = it->channel_ids;
    chs.erase(std::remove(chs.begin(), chs.end(), channel), chs.end());
    if (chs.empty()) s.owed.erase(it);
    return;
  }
}

}  // namespace

state evolve(state s, const event& e) {
  bool applied = true;
  bool domain = true;
  std::visit(
      overloaded{
          [&](const monitor_created& d) {
            domain = false;  // in the tenant's stream (see tenant_decider.hpp)
            s.exists = true;
            s.deleted = false;
            s.active = true;
            s.status = monitor_status::pending;
            s.consecutive_failures = 0;
            s.id = d.monitor_id;
            s.config = d.config;
            s.incident.reset();
            s.owed.clear();
          },
          [&](const monitor_updated& d) { s.config = d.config; },
          [&](const monitor_paused&) { s.active = false; },
          [&](const monitor_resumed&) {
            s.active = true;
            s.consecutive_failures = 0;
          },
          [&](const monitor_deleted&) {
            domain = false;
            s.deleted = true;
            s.active = false;
            s.owed.clear();  // a deleted monitor notifies no one
          },
          [&](const monitor_status_changed& d) {
            s.status = d.to;
            if (d.to == monitor_status::up || d.to == monitor_status::maintenance)
              s.consecutive_failures = 0;
          },
          [&](const incident_opened& d) {
            s.incident = open_incident{d.incident_id, e.meta.time};
            owe(s, d.incident_id, "down", d.cause, e.meta.time);
          },
          [&](const incident_closed& d) {
            s.incident.reset();
            owe(s, d.incident_id, "up", "", e.meta.time);
          },
          [&](const notification_delivered& d) { settle(s, d.incident_id, d.transition, d.channel_id); },
          [&](const notification_failed& d) { settle(s, d.incident_id, d.transition, d.channel_id); },
          [&](const check_completed& d) {
            domain = false;
            s.consecutive_failures = failures_after(s, d.ok);
            s.check_seq = e.meta.seq.get();
            s.last_check_at = e.meta.time;
          },
          [&](const auto&) { applied = false; },  // tenant events
      },
      e.data);
  if (applied) {
    if (domain) ++s.version;
    s.recent.record(e.meta.causation_id);
  }
  return s;
}

// ---------------------------------------------------------------- snapshots

namespace {

using json = nlohmann::json;
// 2: command-id hashes in "recent"; 3: config as in events; 4: owed notifications;
// 5: the push token hashed and sealed (monitor.created v2).
// An older snapshot fails to decode and recovery replays the log instead.
constexpr int snapshot_version = 5;

monitor_status parse_status(const std::string& name) {
  for (std::size_t i = 0; i < std::size(monitor_status_names); ++i)
    if (name == monitor_status_names[i]) return static_cast<monitor_status>(i);
  throw std::invalid_argument("unknown monitor status '" + name + "'");
}

}  // namespace

json readable_state(const state& s) {
  json j = json::object();
  j["exists"] = s.exists;
  j["deleted"] = s.deleted;
  j["active"] = s.active;
  j["status"] = to_string(s.status);
  j["consecutive_failures"] = s.consecutive_failures;
  j["version"] = s.version;
  j["check_seq"] = s.check_seq;
  j["last_check_at"] = s.last_check_at ? json(s.last_check_at->get()) : json(nullptr);
  j["id"] = s.id;
  to_json(j["config"], s.config);  // the events codec's own encoding
  j["incident"] = s.incident ? json{{"id", s.incident->id}, {"opened_at", s.incident->opened_at.get()}}
                             : json(nullptr);
  json owed = json::array();
  for (const auto& o : s.owed)
    owed.push_back({{"incident_id", o.incident_id}, {"transition", o.transition}, {"reason", o.reason},
                    {"monitor_name", o.monitor_name}, {"at", o.at.get()}, {"channel_ids", o.channel_ids}});
  j["owed"] = std::move(owed);
  return j;
}

std::string encode_state(const state& s) {
  json j = readable_state(s);
  j["v"] = snapshot_version;
  j["recent"] = window_to_json(s.recent);
  return j.dump();
}

result<state> decode_state(std::string_view text) {
  try {
    const json j = json::parse(text);
    if (j.at("v").get<int>() != snapshot_version)
      return reject(errc::decode, "unsupported monitor snapshot version");
    state s;
    s.exists = j.at("exists").get<bool>();
    s.deleted = j.at("deleted").get<bool>();
    s.active = j.at("active").get<bool>();
    s.status = parse_status(j.at("status").get<std::string>());
    s.consecutive_failures = j.at("consecutive_failures").get<int>();
    s.version = j.at("version").get<std::int64_t>();
    s.check_seq = j.at("check_seq").get<std::int64_t>();
    const json& last = j.at("last_check_at");
    if (!last.is_null()) s.last_check_at = timestamp{last.get<std::int64_t>()};
    s.id = j.at("id").get<std::string>();
    if (auto st = from_json(j.at("config"), s.config, "config"); !st)
      return reject(errc::decode, "monitor snapshot: " + st.err().message);
    const json& inc = j.at("incident");
    if (!inc.is_null())
      s.incident = open_incident{inc.at("id").get<std::string>(),
                                 timestamp{inc.at("opened_at").get<std::int64_t>()}};
    if (!window_from_json(j.at("recent"), s.recent))
      return reject(errc::decode, "bad recent-command entry");
    for (const auto& o : j.at("owed"))
      s.owed.push_back(owed_notification{o.at("incident_id").get<std::string>(),
                                         o.at("transition").get<std::string>(),
                                         o.at("reason").get<std::string>(),
                                         o.at("monitor_name").get<std::string>(),
                                         timestamp{o.at("at").get<std::int64_t>()},
                                         o.at("channel_ids").get<std::vector<std::string>>()});
    return s;
  } catch (const std::exception& ex) {
    return reject(errc::decode, std::string("monitor snapshot: ") + ex.what());
  }
}

}  // namespace kw::monitor
