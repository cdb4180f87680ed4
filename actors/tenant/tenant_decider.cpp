// The Tenant decider: command handler, event handler, snapshot codec.
// Order as in STYLE.md: state helpers, command handler, event handler, codec.
#include "actors/tenant/tenant_decider.hpp"
#include "actors/common/dedupe_window_json.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <type_traits>
#include <utility>

#include "actors/common/validation.hpp"
#include "events/codec.hpp"

namespace kw::tenant {

namespace v = kw::validation;
using events = std::vector<kw::event_data>;
using outcome = kw::result<events>;

std::string_view to_string(tenant_status s) noexcept {
  switch (s) {
    case tenant_status::active: return "active";
    case tenant_status::suspended: return "suspended";
    case tenant_status::deleted: return "deleted";
  }
  return "active";
}

bool operator==(const state& a, const state& b) {
  return a.exists == b.exists && a.id == b.id && a.name == b.name && a.plan == b.plan &&
         a.status == b.status && a.suspend_reason == b.suspend_reason &&
         a.members == b.members && a.api_keys == b.api_keys && a.channels == b.channels &&
         a.status_pages == b.status_pages && a.maintenance == b.maintenance &&
         a.monitors == b.monitors && a.version == b.version && a.recent == b.recent;
}

state initial_state() { return state{}; }

bool in_tenant_stream(const event_data& d) noexcept {
  return std::visit(
      [](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        return std::string_view(T::type).rfind("keepwatch.tenant.", 0) == 0 ||
               std::is_same_v<T, monitor_created> || std::is_same_v<T, monitor_deleted>;
      },
      d);
}

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

bool is_platform(const actor_ref& a) { return a.kind != "user" && a.kind != "api_key"; }

std::size_t owner_count(const state& s) {
  return static_cast<std::size_t>(std::count_if(
      s.members.begin(), s.members.end(),
      [](const auto& m) { return m.second.role == role::owner; }));
}

// Every id exists in the tenant's monitor set and none repeats.
status known_monitors(const state& s, const std::vector<std::string>& ids) {
  std::set<std::string_view> distinct;
  for (const auto& id : ids) {
    if (!s.monitors.count(id)) return reject(errc::invalid, "unknown monitor '" + id + "'");
    if (!distinct.insert(id).second)
      return reject(errc::invalid, "monitor '" + id + "' is listed twice");
  }
  return ok_status();
}

status valid_scope(const std::string& scope) {
  if (scope == "read" || scope == "read_write") return ok_status();
  return reject(errc::invalid, "scope must be read or read_write");
}

status valid_channel(const std::string& name, const std::string& url,
                     const std::string& secret_enc) {
  if (auto r = v::name("name", name); !r) return r;
  if (auto r = v::http_url("url", url); !r) return r;
  if (secret_enc.size() > 4096) return reject(errc::invalid, "secret_enc is too long");
  return ok_status();
}

status valid_page(const state& s, const std::string& page_id, const std::string& slug,
                  const std::string& title, const std::vector<std::string>& monitor_ids) {
  if (auto r = v::slug(slug); !r) return r;
  if (auto r = v::name("title", title); !r) return r;
  for (const auto& [id, page] : s.status_pages)
    if (id != page_id && page.slug == slug)
      return reject(errc::conflict, "slug '" + slug + "' is already used by another status page");
  return known_monitors(s, monitor_ids);
}

// A UTC calendar day written "YYYY-MM-DD" (a real date: no 2026-02-30).
status valid_day(const std::string& day) {
  if (day.size() == 10 && parse_time(day + "T00:00:00.000000Z").ok()) return ok_status();
  return reject(errc::invalid, "day must be a calendar date written YYYY-MM-DD");
}

const plan* current_plan(const state& s, const plan_catalog& plans, error& err) {
  const plan* p = plans.find(s.plan);
  if (!p)
    err = reject(errc::invalid, "the tenant's plan '" + s.plan +
                                    "' is not in the plan catalogue; change the plan first");
  return p;
}

// The permission a command needs from a user or API key; nullopt for the
// platform-only commands, and for create_tenant (anyone may sign up).
struct needed {
  bool platform_only = false;
  std::optional<permission> perm;
};

needed permission_for(const state& s, const body& b) {
  auto touches_owner = [&](const std::string& user_id, const std::string& new_role) {
    auto m = s.members.find(user_id);
    bool was_owner = m != s.members.end() && m->second.role == role::owner;
    return was_owner || new_role == "owner";
  };
  return std::visit(
      overloaded{
          [](const create_tenant&) { return needed{}; },
          [](const suspend_tenant&) { return needed{true, {}}; },
          [](const activate_tenant&) { return needed{true, {}}; },
          [](const record_api_calls&) { return needed{true, {}}; },
          [](const record_tree_head&) { return needed{true, {}}; },
          [](const rename_tenant&) { return needed{false, permission::manage_tenant}; },
          [](const change_plan&) { return needed{false, permission::manage_tenant}; },
          [](const update_tenant&) { return needed{false, permission::manage_tenant}; },
          [](const delete_tenant&) { return needed{false, permission::manage_tenant}; },
          [&](const add_member& c) {
            return needed{false, touches_owner(c.user_id, c.role) ? permission::manage_owners
                                                                  : permission::manage_members};
          },
          [&](const change_role& c) {
            return needed{false, touches_owner(c.user_id, c.role) ? permission::manage_owners
                                                                  : permission::manage_members};
          },
          [&](const remove_member& c) {
            return needed{false, touches_owner(c.user_id, "") ? permission::manage_owners
                                                              : permission::manage_members};
          },
          [](const create_api_key&) { return needed{false, permission::manage_api_keys}; },
          [](const revoke_api_key&) { return needed{false, permission::manage_api_keys}; },
          [](const create_channel&) { return needed{false, permission::manage_channels}; },
          [](const update_channel&) { return needed{false, permission::manage_channels}; },
          [](const delete_channel&) { return needed{false, permission::manage_channels}; },
          [](const create_status_page&) { return needed{false, permission::manage_status_pages}; },
          [](const update_status_page&) { return needed{false, permission::manage_status_pages}; },
          [](const delete_status_page&) { return needed{false, permission::manage_status_pages}; },
          [](const schedule_maintenance&) { return needed{false, permission::manage_maintenance}; },
          [](const cancel_maintenance&) { return needed{false, permission::manage_maintenance}; },
          [](const create_monitor&) { return needed{false, permission::manage_monitors}; },
          [](const delete_monitor&) { return needed{false, permission::manage_monitors}; },
      },
      b);
}

// ---------------------------------------------------------------- commands

struct handler {
  const state& s;
  const command_meta& meta;
  const plan_catalog& plans;

  outcome operator()(const create_tenant& c) const {
    if (auto r = v::name("name", c.name); !r) return r.err();
    if (!plans.find(c.plan)) return reject(errc::invalid, "unknown plan '" + c.plan + "'");
    if (auto r = v::id("owner_user_id", c.owner_user_id); !r) return r.err();
    if (auto r = v::email("owner_email", c.owner_email); !r) return r.err();
    return one(tenant_created{c.name, c.plan, c.owner_user_id, c.owner_email});
  }

  outcome operator()(const rename_tenant& c) const {
    if (auto r = v::name("name", c.name); !r) return r.err();
    if (c.name == s.name) return reject(errc::conflict, "the tenant already has this name");
    return one(tenant_renamed{c.name});
  }

  outcome operator()(const change_plan& c) const {
    const plan* to = plans.find(c.plan);
    if (!to) return reject(errc::invalid, "unknown plan '" + c.plan + "'");
    if (c.plan == s.plan) return reject(errc::conflict, "the tenant is already on plan '" + c.plan + "'");
    auto too_many = [&](std::size_t have, int limit, const char* what) -> std::optional<error> {
      if (have <= static_cast<std::size_t>(std::max(limit, 0))) return std::nullopt;
      return reject(errc::quota_exceeded,
                    "plan '" + c.plan + "' allows " + std::to_string(limit) + " " + what +
                        " but the tenant has " + std::to_string(have) + "; remove some first");
    };
    if (auto e = too_many(s.monitors.size(), to->max_monitors, "monitors")) return *e;
    if (auto e = too_many(s.members.size(), to->max_users, "users")) return *e;
    if (auto e = too_many(s.status_pages.size(), to->max_status_pages, "status pages")) return *e;
    return one(tenant_plan_changed{s.plan, c.plan});
  }

  outcome operator()(const update_tenant& c) const {
    if (!c.name && !c.plan) return reject(errc::invalid, "give a name, a plan or both");
    events out;
    if (c.name && *c.name != s.name) {
      auto r = (*this)(rename_tenant{*c.name});
      if (!r) return r;
      for (auto& e : *r) out.push_back(std::move(e));
    } else if (c.name) {
      if (auto r = v::name("name", *c.name); !r) return r.err();
    }
    if (c.plan && *c.plan != s.plan) {
      auto r = (*this)(change_plan{*c.plan});
      if (!r) return r;
      for (auto& e : *r) out.push_back(std::move(e));
    }
    if (out.empty()) return reject(errc::conflict, "the tenant already has this name and plan");
    return out;
  }

  outcome operator()(const suspend_tenant& c) const {
    // A suspended tenant never gets here (decide answers `suspended`).
    if (c.reason.size() > v::max_reason_len)
      return reject(errc::invalid, "reason must be at most " + std::to_string(v::max_reason_len) + " bytes");
    return one(tenant_suspended{c.reason});
  }

  outcome operator()(const activate_tenant&) const {
    if (s.status == tenant_status::active) return reject(errc::conflict, "the tenant is already active");
    return one(tenant_activated{});
  }

  outcome operator()(const delete_tenant&) const {
    events out;
    out.reserve(s.monitors.size() + 1);
    for (const auto& id : s.monitors) out.emplace_back(monitor_deleted{id});
    out.emplace_back(tenant_deleted{});
    return out;
  }

  outcome operator()(const add_member& c) const {
    if (auto r = v::id("user_id", c.user_id); !r) return r.err();
    if (auto r = v::email("email", c.email); !r) return r.err();
    if (!parse_role(c.role))
      return reject(errc::invalid, "role must be owner, admin, member, viewer or auditor");
    if (s.members.count(c.user_id)) return reject(errc::conflict, "user '" + c.user_id + "' is already a member");
    error err;
    const plan* p = current_plan(s, plans, err);
    if (!p) return err;
    if (s.members.size() >= static_cast<std::size_t>(std::max(p->max_users, 0)))
      return reject(errc::quota_exceeded, "plan '" + s.plan + "' allows " +
                                              std::to_string(p->max_users) + " users");
    return one(member_added{c.user_id, c.email, c.role});
  }

  outcome operator()(const change_role& c) const {
    auto to = parse_role(c.role);
    if (!to) return reject(errc::invalid, "role must be owner, admin, member, viewer or auditor");
    auto m = s.members.find(c.user_id);
    if (m == s.members.end()) return reject(errc::not_found, "no member '" + c.user_id + "'");
    if (m->second.role == *to) return reject(errc::conflict, "the member already has role " + c.role);
    if (m->second.role == role::owner && owner_count(s) == 1)
      return reject(errc::conflict, "cannot demote the last owner; make another member owner first");
    return one(member_role_changed{c.user_id, std::string(to_string(m->second.role)), c.role});
  }

  outcome operator()(const remove_member& c) const {
    auto m = s.members.find(c.user_id);
    if (m == s.members.end()) return reject(errc::not_found, "no member '" + c.user_id + "'");
    if (m->second.role == role::owner && owner_count(s) == 1)
      return reject(errc::conflict, "cannot remove the last owner; make another member owner first");
    return one(member_removed{c.user_id});
  }

  outcome operator()(const create_api_key& c) const {
    if (auto r = v::id("key_id", c.key_id); !r) return r.err();
    if (auto r = v::name("name", c.name); !r) return r.err();
    if (auto r = v::sha256_hex("key_hash", c.key_hash); !r) return r.err();
    if (auto r = valid_scope(c.scope); !r) return r.err();
    if (s.api_keys.count(c.key_id)) return reject(errc::conflict, "API key '" + c.key_id + "' already exists");
    for (const auto& [id, k] : s.api_keys)
      if (k.hash == c.key_hash) return reject(errc::conflict, "an API key with this hash already exists");
    return one(api_key_created{c.key_id, c.name, c.key_hash, c.scope});
  }

  outcome operator()(const revoke_api_key& c) const {
    auto k = s.api_keys.find(c.key_id);
    if (k == s.api_keys.end()) return reject(errc::not_found, "no API key '" + c.key_id + "'");
    if (k->second.revoked) return reject(errc::conflict, "API key '" + c.key_id + "' is already revoked");
    return one(api_key_revoked{c.key_id});
  }

  outcome operator()(const create_channel& c) const {
    if (auto r = v::id("channel_id", c.channel_id); !r) return r.err();
    if (auto r = valid_channel(c.name, c.url, c.secret_enc); !r) return r.err();
    if (s.channels.count(c.channel_id)) return reject(errc::conflict, "channel '" + c.channel_id + "' already exists");
    return one(channel_created{c.channel_id, c.name, "webhook", c.url, c.secret_enc});
  }

  outcome operator()(const update_channel& c) const {
    if (!s.channels.count(c.channel_id)) return reject(errc::not_found, "no channel '" + c.channel_id + "'");
    if (auto r = valid_channel(c.name, c.url, c.secret_enc); !r) return r.err();
    return one(channel_updated{c.channel_id, c.name, c.url, c.secret_enc});
  }

  outcome operator()(const delete_channel& c) const {
    if (!s.channels.count(c.channel_id)) return reject(errc::not_found, "no channel '" + c.channel_id + "'");
    return one(channel_deleted{c.channel_id});
  }

  outcome operator()(const create_status_page& c) const {
    if (auto r = v::id("page_id", c.page_id); !r) return r.err();
    if (s.status_pages.count(c.page_id)) return reject(errc::conflict, "status page '" + c.page_id + "' already exists");
    if (auto r = valid_page(s, c.page_id, c.slug, c.title, c.monitor_ids); !r) return r.err();
    error err;
    const plan* p = current_plan(s, plans, err);
    if (!p) return err;
    if (s.status_pages.size() >= static_cast<std::size_t>(std::max(p->max_status_pages, 0)))
      return reject(errc::quota_exceeded, "plan '" + s.plan + "' allows " +
                                              std::to_string(p->max_status_pages) + " status pages");
    return one(status_page_created{c.page_id, c.slug, c.title, c.monitor_ids});
  }

  outcome operator()(const update_status_page& c) const {
    if (!s.status_pages.count(c.page_id)) return reject(errc::not_found, "no status page '" + c.page_id + "'");
    if (auto r = valid_page(s, c.page_id, c.slug, c.title, c.monitor_ids); !r) return r.err();
    return one(status_page_updated{c.page_id, c.slug, c.title, c.monitor_ids});
  }

  outcome operator()(const delete_status_page& c) const {
    if (!s.status_pages.count(c.page_id)) return reject(errc::not_found, "no status page '" + c.page_id + "'");
    return one(status_page_deleted{c.page_id});
  }

  outcome operator()(const schedule_maintenance& c) const {
    if (auto r = v::id("window_id", c.window_id); !r) return r.err();
    if (auto r = v::name("title", c.title); !r) return r.err();
    if (c.ends_at <= c.starts_at) return reject(errc::invalid, "ends_at must be after starts_at");
    if (c.ends_at <= meta.time) return reject(errc::invalid, "the window has already ended");
    if (s.maintenance.count(c.window_id))
      return reject(errc::conflict, "maintenance window '" + c.window_id + "' already exists");
    if (auto r = known_monitors(s, c.monitor_ids); !r) return r.err();
    return one(maintenance_scheduled{c.window_id, c.title, c.monitor_ids, c.starts_at, c.ends_at});
  }

  outcome operator()(const cancel_maintenance& c) const {
    if (!s.maintenance.count(c.window_id))
      return reject(errc::not_found, "no maintenance window '" + c.window_id + "'");
    return one(maintenance_cancelled{c.window_id});
  }

  outcome operator()(const create_monitor& c) const {
    if (auto r = v::id("monitor_id", c.monitor_id); !r) return r.err();
    if (s.monitors.count(c.monitor_id)) return reject(errc::conflict, "monitor '" + c.monitor_id + "' already exists");
    error err;
    const plan* p = current_plan(s, plans, err);
    if (!p) return err;
    if (s.monitors.size() >= static_cast<std::size_t>(std::max(p->max_monitors, 0)))
      return reject(errc::quota_exceeded, "plan '" + s.plan + "' allows " +
                                              std::to_string(p->max_monitors) + " monitors");
    if (auto r = v::monitor_config(c.config, p->min_interval_s); !r) return r.err();
    for (const auto& ch : c.config.channel_ids)
      if (!s.channels.count(ch)) return reject(errc::invalid, "unknown channel '" + ch + "'");
    return one(monitor_created{c.monitor_id, c.config});
  }

  outcome operator()(const delete_monitor& c) const {
    if (!s.monitors.count(c.monitor_id)) return reject(errc::not_found, "no monitor '" + c.monitor_id + "'");
    return one(monitor_deleted{c.monitor_id});
  }

  outcome operator()(const record_api_calls& c) const {
    if (auto r = valid_day(c.day); !r) return r.err();
    if (c.calls < 1 || c.calls > max_api_calls_per_record)
      return reject(errc::invalid, "calls must be between 1 and " +
                                       std::to_string(max_api_calls_per_record));
    return one(api_calls_recorded{c.day, c.calls});
  }

  outcome operator()(const record_tree_head& c) const {
    auto hex = [](const std::string& v, std::size_t n) {
      return v.size() == n && v.find_first_not_of("0123456789abcdef") == std::string::npos;
    };
    if (c.tree_size < 1) return reject(errc::invalid, "a tree head covers at least one event");
    if (!hex(c.root, 64)) return reject(errc::invalid, "root must be 64 lowercase hex digits");
    if (!hex(c.key_id, 16)) return reject(errc::invalid, "key_id must be 16 lowercase hex digits");
    if (!hex(c.signature, 128)) return reject(errc::invalid, "signature must be 128 lowercase hex digits");
    return one(tree_head_signed{c.tree_size, c.root, c.signed_at, c.key_id, c.signature});
  }
};

}  // namespace

status authorize(const state& s, const actor_ref& actor, permission p) {
  if (actor.kind == "user") {
    auto m = s.members.find(actor.id);
    if (m == s.members.end()) return reject(errc::forbidden, "not a member of this tenant");
    if (!role_allows(m->second.role, p))
      return reject(errc::forbidden, "role " + std::string(to_string(m->second.role)) +
                                         " may not do this");
    return ok_status();
  }
  if (actor.kind == "api_key") {
    auto k = s.api_keys.find(actor.id);
    if (k == s.api_keys.end() || k->second.revoked)
      return reject(errc::forbidden, "unknown or revoked API key");
    if (k->second.scope != "read_write" || !role_allows(api_key_role, p))
      return reject(errc::forbidden, "this API key may not do this");
    return ok_status();
  }
  return ok_status();  // the platform
}

outcome decide(const state& s, const command& c, const plan_catalog& plans) {
  if (s.recent.contains(c.meta.command_id)) return events{};  // a replay

  const bool creating = std::holds_alternative<create_tenant>(c.b);
  const bool notarising_deleted = s.exists && s.status == tenant_status::deleted &&
                                  std::holds_alternative<record_tree_head>(c.b);
  if ((!s.exists || s.status == tenant_status::deleted) && !notarising_deleted) {
    if (!creating || s.exists) return reject(errc::not_found, "no such tenant");
  } else if (creating) {
    return reject(errc::conflict, "the tenant already exists");
  }

  needed need = permission_for(s, c.b);
  if (need.platform_only && !is_platform(c.meta.actor))
    return reject(errc::forbidden, "only the platform may do this");
  if (need.perm)
    if (auto r = authorize(s, c.meta.actor, *need.perm); !r) return r.err();

  // Metering goes on while suspended: the tenant's reads are still served.
  if (s.status == tenant_status::suspended && !std::holds_alternative<activate_tenant>(c.b) &&
      !std::holds_alternative<delete_tenant>(c.b) && !std::holds_alternative<record_api_calls>(c.b) &&
      !std::holds_alternative<record_tree_head>(c.b))
    return reject(errc::suspended, "the tenant is suspended");

  if (c.meta.expected_version >= 0 && c.meta.expected_version != s.version)
    return reject(errc::conflict, "expected version " + std::to_string(c.meta.expected_version) +
                                      " but the tenant is at " + std::to_string(s.version));

  return std::visit(handler{s, c.meta, plans}, c.b);
}

// ---------------------------------------------------------------- events

state evolve(state s, const event& e) {
  auto tenant_event = [&](auto&& apply) {
    apply();
    ++s.version;
    s.recent.record(e.meta.causation_id);
  };
  std::visit(
      overloaded{
          [&](const tenant_created& d) {
            tenant_event([&] {
              s.exists = true;
              s.id = e.meta.tenant.get();
              s.name = d.name;
              s.plan = d.plan;
              s.status = tenant_status::active;
              s.members[d.owner_user_id] = member{d.owner_email, role::owner};
            });
          },
          [&](const tenant_renamed& d) { tenant_event([&] { s.name = d.name; }); },
          [&](const tenant_plan_changed& d) { tenant_event([&] { s.plan = d.to_plan; }); },
          [&](const tenant_suspended& d) {
            tenant_event([&] {
              s.status = tenant_status::suspended;
              s.suspend_reason = d.reason;
            });
          },
          [&](const tenant_activated&) {
            tenant_event([&] {
              s.status = tenant_status::active;
              s.suspend_reason.clear();
            });
          },
          [&](const tenant_deleted&) { tenant_event([&] { s.status = tenant_status::deleted; }); },
          [&](const member_added& d) {
            tenant_event([&] {
              s.members[d.user_id] = member{d.email, parse_role(d.role).value_or(role::viewer)};
            });
          },
          [&](const member_role_changed& d) {
            tenant_event([&] {
              auto m = s.members.find(d.user_id);
              if (m != s.members.end()) m->second.role = parse_role(d.to_role).value_or(role::viewer);
            });
          },
          [&](const member_removed& d) { tenant_event([&] { s.members.erase(d.user_id); }); },
          [&](const api_key_created& d) {
            tenant_event([&] { s.api_keys[d.key_id] = api_key{d.name, d.key_hash, d.scope, false}; });
          },
          [&](const api_key_revoked& d) {
            tenant_event([&] {
              auto k = s.api_keys.find(d.key_id);
              if (k != s.api_keys.end()) k->second.revoked = true;
            });
          },
          [&](const channel_created& d) {
            tenant_event([&] { s.channels[d.channel_id] = channel{d.name, d.url, d.secret_enc}; });
          },
          [&](const channel_updated& d) {
            tenant_event([&] { s.channels[d.channel_id] = channel{d.name, d.url, d.secret_enc}; });
          },
          [&](const channel_deleted& d) { tenant_event([&] { s.channels.erase(d.channel_id); }); },
          [&](const status_page_created& d) {
            tenant_event([&] { s.status_pages[d.page_id] = status_page{d.slug, d.title, d.monitor_ids}; });
          },
          [&](const status_page_updated& d) {
            tenant_event([&] { s.status_pages[d.page_id] = status_page{d.slug, d.title, d.monitor_ids}; });
          },
          [&](const status_page_deleted& d) { tenant_event([&] { s.status_pages.erase(d.page_id); }); },
          [&](const maintenance_scheduled& d) {
            tenant_event([&] {
              for (auto i = s.maintenance.begin(); i != s.maintenance.end();)
                i = i->second.ends_at <= e.meta.time ? s.maintenance.erase(i) : std::next(i);
              s.maintenance[d.window_id] =
                  maintenance_window{d.title, d.monitor_ids, d.starts_at, d.ends_at};
            });
          },
          [&](const maintenance_cancelled& d) {
            tenant_event([&] { s.maintenance.erase(d.window_id); });
          },
          // Metering: counted by the usage read model, not by the tenant.
          [&](const api_calls_recorded&) { tenant_event([] {}); },
          [&](const tree_head_signed&) { tenant_event([] {}); },
          // The monitor's lifecycle is the tenant's to decide: these events
          // are in the tenant's stream (subject monitor/<id>) and count.
          [&](const monitor_created& d) {
            tenant_event([&] { s.monitors.insert(d.monitor_id); });
          },
          [&](const monitor_deleted& d) {
            tenant_event([&] { s.monitors.erase(d.monitor_id); });
          },
          [](const auto&) {},  // the monitor's own events and check results
      },
      e.data);
  return s;
}

bool is_in_maintenance(const state& s, const std::string& monitor_id, timestamp now) {
  for (const auto& [id, w] : s.maintenance) {
    if (now < w.starts_at || now >= w.ends_at) continue;
    if (w.monitor_ids.empty() ||
        std::find(w.monitor_ids.begin(), w.monitor_ids.end(), monitor_id) != w.monitor_ids.end())
      return true;
  }
  return false;
}

// ---------------------------------------------------------------- snapshots

namespace {

using json = nlohmann::json;
constexpr int snapshot_version = 2;  // 2: command-id hashes in "recent"

tenant_status parse_status(const std::string& s) {
  if (s == "active") return tenant_status::active;
  if (s == "suspended") return tenant_status::suspended;
  if (s == "deleted") return tenant_status::deleted;
  throw std::invalid_argument("unknown tenant status '" + s + "'");
}

}  // namespace

json readable_state(const state& s) {
  json j = json::object();
  j["exists"] = s.exists;
  j["id"] = s.id;
  j["name"] = s.name;
  j["plan"] = s.plan;
  j["status"] = std::string(to_string(s.status));
  j["suspend_reason"] = s.suspend_reason;
  json& members = j["members"] = json::object();
  for (const auto& [id, m] : s.members)
    members[id] = {{"email", m.email}, {"role", std::string(to_string(m.role))}};
  json& keys = j["api_keys"] = json::object();
  for (const auto& [id, k] : s.api_keys)
    keys[id] = {{"name", k.name}, {"hash", k.hash}, {"scope", k.scope}, {"revoked", k.revoked}};
  json& channels = j["channels"] = json::object();
  for (const auto& [id, c] : s.channels)
    channels[id] = {{"name", c.name}, {"url", c.url}, {"secret_enc", c.secret_enc}};
  json& pages = j["status_pages"] = json::object();
  for (const auto& [id, p] : s.status_pages)
    pages[id] = {{"slug", p.slug}, {"title", p.title}, {"monitor_ids", p.monitor_ids}};
  json& windows = j["maintenance"] = json::object();
  for (const auto& [id, w] : s.maintenance)
    windows[id] = {{"title", w.title},
                   {"monitor_ids", w.monitor_ids},
                   {"starts_at", w.starts_at.get()},
                   {"ends_at", w.ends_at.get()}};
  j["monitors"] = s.monitors;
  j["version"] = s.version;
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
      return reject(errc::decode, "unsupported tenant snapshot version");
    state s;
    s.exists = j.at("exists").get<bool>();
    s.id = j.at("id").get<std::string>();
    s.name = j.at("name").get<std::string>();
    s.plan = j.at("plan").get<std::string>();
    s.status = parse_status(j.at("status").get<std::string>());
    s.suspend_reason = j.at("suspend_reason").get<std::string>();
    for (const auto& [id, m] : j.at("members").items()) {
      auto r = parse_role(m.at("role").get<std::string>());
      if (!r) return reject(errc::decode, "unknown role in tenant snapshot");
      s.members[id] = member{m.at("email").get<std::string>(), *r};
    }
    for (const auto& [id, k] : j.at("api_keys").items())
      s.api_keys[id] = api_key{k.at("name").get<std::string>(), k.at("hash").get<std::string>(),
                               k.at("scope").get<std::string>(), k.at("revoked").get<bool>()};
    for (const auto& [id, c] : j.at("channels").items())
      s.channels[id] = channel{c.at("name").get<std::string>(), c.at("url").get<std::string>(),
                               c.at("secret_enc").get<std::string>()};
    for (const auto& [id, p] : j.at("status_pages").items())
      s.status_pages[id] =
          status_page{p.at("slug").get<std::string>(), p.at("title").get<std::string>(),
                      p.at("monitor_ids").get<std::vector<std::string>>()};
    for (const auto& [id, w] : j.at("maintenance").items())
      s.maintenance[id] = maintenance_window{
          w.at("title").get<std::string>(), w.at("monitor_ids").get<std::vector<std::string>>(),
          timestamp{w.at("starts_at").get<std::int64_t>()},
          timestamp{w.at("ends_at").get<std::int64_t>()}};
    s.monitors = j.at("monitors").get<std::set<std::string>>();
    s.version = j.at("version").get<std::int64_t>();
    if (!window_from_json(j.at("recent"), s.recent))
      return reject(errc::decode, "bad recent-command entry");
    return s;
  } catch (const std::exception& ex) {
    return reject(errc::decode, std::string("tenant snapshot: ") + ex.what());
  }
}

}  // namespace kw::tenant
