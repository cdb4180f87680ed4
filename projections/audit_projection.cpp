// The audit projection: one audit_log row per domain event, with who did it
// (actor kind, id, IP), what (the event type), to which entity, the entity
// before and after, and where the event is in the log (partition, offset,
// hash, prevhash), so an auditor can go from a row to the record and check
// its chain. API-call metering (api_calls_recorded) is the one domain event
// left out: it changes no entity, and its counts are in usage_daily. So a
// row's prevhash equals the previous row's hash unless metering events sit
// between the two in the log (`keepwatch audit verify` checks the full chain
// on the log itself).
//
// Each event names an entity ("tenant/<id>", "monitor/<id>",
// "member/<user id>", ...) and a change: it creates the entity, updates some
// of its fields (a JSON object merged over the current state) or deletes it.
// audit_entities holds each entity's current state, the next event's
// "before". Secrets never enter it: webhook secrets and push tokens are
// left out.
#include <nlohmann/json.hpp>

#include "events/codec.hpp"
#include "projections/projections.hpp"

namespace kw::projections {
namespace {

enum class change { create, update, remove };

struct audited {
  std::string entity;
  change kind = change::update;
  nlohmann::json fields = nlohmann::json::object();
};

nlohmann::json config_fields(const monitor_config& c) {
  nlohmann::json j;
  to_json(j, c);
  j.erase("push_token_hash");
  j.erase("push_token_sealed");
  return j;
}

audited audit_of(const event& e) {
  const std::string tenant = "tenant/" + e.meta.tenant.get();
  const std::string monitor = "monitor/" + monitor_of(e.meta);
  using J = nlohmann::json;
  return std::visit(
      overloaded{
          [&](const tenant_created& d) {
            return audited{tenant, change::create,
                           J{{"name", d.name}, {"plan", d.plan}, {"status", "active"},
                             {"owner_user_id", d.owner_user_id}}};
          },
          [&](const tenant_renamed& d) { return audited{tenant, change::update, J{{"name", d.name}}}; },
          [&](const tenant_plan_changed& d) { return audited{tenant, change::update, J{{"plan", d.to_plan}}}; },
          [&](const tenant_suspended& d) {
            return audited{tenant, change::update, J{{"status", "suspended"}, {"reason", d.reason}}};
          },
          [&](const tenant_activated&) {
            return audited{tenant, change::update, J{{"status", "active"}, {"reason", ""}}};
          },
          [&](const tenant_deleted&) { return audited{tenant, change::update, J{{"status", "deleted"}}}; },
          [&](const member_added& d) {
            return audited{"member/" + d.user_id, change::create,
                           J{{"user_id", d.user_id}, {"email", d.email}, {"role", d.role}}};
          },
          [&](const member_role_changed& d) {
            return audited{"member/" + d.user_id, change::update, J{{"role", d.to_role}}};
          },
          [&](const member_removed& d) { return audited{"member/" + d.user_id, change::remove, J::object()}; },
          [&](const api_key_created& d) {
            return audited{"api_key/" + d.key_id, change::create,
                           J{{"name", d.name}, {"scope", d.scope}, {"revoked", false}}};
          },
          [&](const api_key_revoked& d) {
            return audited{"api_key/" + d.key_id, change::update, J{{"revoked", true}}};
          },
          [&](const channel_created& d) {
            return audited{"channel/" + d.channel_id, change::create,
                           J{{"name", d.name}, {"kind", d.kind}, {"url", d.url},
                             {"has_secret", !d.secret_enc.empty()}}};
          },
          [&](const channel_updated& d) {
            return audited{"channel/" + d.channel_id, change::update,
                           J{{"name", d.name}, {"url", d.url}, {"has_secret", !d.secret_enc.empty()}}};
          },
          [&](const channel_deleted& d) {
            return audited{"channel/" + d.channel_id, change::remove, J::object()};
          },
          [&](const status_page_created& d) {
            return audited{"status_page/" + d.page_id, change::create,
                           J{{"slug", d.slug}, {"title", d.title}, {"monitor_ids", d.monitor_ids}}};
          },
          [&](const status_page_updated& d) {
            return audited{"status_page/" + d.page_id, change::update,
                           J{{"slug", d.slug}, {"title", d.title}, {"monitor_ids", d.monitor_ids}}};
          },
          [&](const status_page_deleted& d) {
            return audited{"status_page/" + d.page_id, change::remove, J::object()};
          },
          [&](const maintenance_scheduled& d) {
            return audited{"maintenance/" + d.window_id, change::create,
                           J{{"title", d.title}, {"monitor_ids", d.monitor_ids},
                             {"starts_at", format_time(d.starts_at)}, {"ends_at", format_time(d.ends_at)}}};
          },
          [&](const maintenance_cancelled& d) {
            return audited{"maintenance/" + d.window_id, change::remove, J::object()};
          },
          [&](const monitor_created& d) {
            return audited{"monitor/" + d.monitor_id, change::create,
                           J{{"config", config_fields(d.config)}, {"active", true}, {"status", "pending"}}};
          },
          [&](const monitor_updated& d) {
            return audited{monitor, change::update, J{{"config", config_fields(d.config)}}};
          },
          [&](const monitor_paused&) { return audited{monitor, change::update, J{{"active", false}}}; },
          [&](const monitor_resumed&) { return audited{monitor, change::update, J{{"active", true}}}; },
          [&](const monitor_deleted& d) { return audited{"monitor/" + d.monitor_id, change::remove, J::object()}; },
          [&](const monitor_status_changed& d) {
            return audited{monitor, change::update, J{{"status", to_string(d.to)}}};
          },
          [&](const incident_opened& d) {
            return audited{"incident/" + d.incident_id, change::create,
                           J{{"monitor_id", monitor_of(e.meta)}, {"cause", d.cause},
                             {"opened_at", format_time(e.meta.time)}}};
          },
          [&](const incident_closed& d) {
            return audited{"incident/" + d.incident_id, change::update,
                           J{{"closed_at", format_time(e.meta.time)}, {"duration_ms", d.duration_ms}}};
          },
          [&](const notification_delivered& d) {
            return audited{"notification/" + d.incident_id + "/" + d.channel_id + "/" + d.transition,
                           change::create,
                           J{{"monitor_id", monitor_of(e.meta)}, {"delivered", true}, {"attempts", d.attempts},
                             {"http_status", d.http_status}}};
          },
          [&](const notification_failed& d) {
            return audited{"notification/" + d.incident_id + "/" + d.channel_id + "/" + d.transition,
                           change::create,
                           J{{"monitor_id", monitor_of(e.meta)}, {"delivered", false}, {"attempts", d.attempts},
                             {"error", d.error}}};
          },
          // Not audited (skipped in apply): neither is an entity change.
          [&](const check_completed&) { return audited{}; },
          [&](const api_calls_recorded&) { return audited{}; },
          // A signed tree head is part of the trail an auditor reads.
          [&](const tree_head_signed& d) {
            return audited{"tree_head/" + std::to_string(d.tree_size), change::create,
                           J{{"tree_size", d.tree_size}, {"root", d.root}, {"key_id", d.key_id},
                             {"signed_at", format_time(d.signed_at)}}};
          },
      },
      e.data);
}

class audit final : public projection {
public:
  const char* name() const noexcept override { return "audit"; }
  std::vector<storage::topic> topics() const override { return {storage::topic::events}; }
  std::vector<std::string> tables() const override { return {"audit_log", "audit_entities"}; }

  void apply(const std::vector<projected_event>& batch, sql_batch& out) const override {
    for (auto& r : batch) {
      const event& e = *r.e;
      // Check results and API-call metering are measurements, not decisions
      // about an entity: the usage read model holds them. Metering would add
      // a row per tenant per minute of API traffic and bury the changes an
      // auditor looks for.
      if (is_check_result(e.data) || std::holds_alternative<api_calls_recorded>(e.data)) continue;
      const audited a = audit_of(e);
      const std::string t = e.meta.tenant.get();
      const char* kind = a.kind == change::create ? "create" : a.kind == change::update ? "update" : "remove";
      // "before" is the entity as audit_entities holds it; "after" follows
      // from it and the change.
      out.push_back(
          {"INSERT INTO audit_log (tenant_id, at, event_id, log_partition, log_offset, aggregate, seq, "
           "actor_kind, actor_id, actor_ip, action, entity, before, after, prevhash, hash) "
           "SELECT $1, $2::timestamptz, $3, $4::int, $5::bigint, $6, $7::bigint, $8, $9, $10, $11, $12, b.state, "
           "CASE $13 WHEN 'create' THEN $14::jsonb WHEN 'remove' THEN NULL "
           "ELSE coalesce(b.state, '{}'::jsonb) || $14::jsonb END, $15, $16 "
           "FROM (SELECT (SELECT state FROM audit_entities WHERE tenant_id = $1 AND entity = $12) AS state) b",
           {t, sql_time(e.meta.time), e.meta.id, std::to_string(r.partition.get()),
            std::to_string(r.offset.get()), e.meta.aggregate, std::to_string(e.meta.seq.get()),
            e.meta.actor.kind, e.meta.actor.id, e.meta.actor.ip, type_of(e.data), a.entity, kind,
            a.fields.dump(), e.meta.prevhash, e.meta.hash}});
      if (a.kind == change::remove) {
        out.push_back({"DELETE FROM audit_entities WHERE tenant_id = $1 AND entity = $2", {t, a.entity}});
      } else if (a.kind == change::create) {
        out.push_back({"INSERT INTO audit_entities AS a (tenant_id, entity, state) VALUES ($1, $2, $3::jsonb) "
                       "ON CONFLICT (tenant_id, entity) DO UPDATE SET state = excluded.state",
                       {t, a.entity, a.fields.dump()}});
      } else {
        out.push_back({"INSERT INTO audit_entities AS a (tenant_id, entity, state) VALUES ($1, $2, $3::jsonb) "
                       "ON CONFLICT (tenant_id, entity) DO UPDATE SET state = a.state || excluded.state",
                       {t, a.entity, a.fields.dump()}});
      }
    }
  }
};

}  // namespace

std::unique_ptr<projection> make_audit_projection() { return std::make_unique<audit>(); }

}  // namespace kw::projections
