// Events of the Tenant aggregate (aggregate "tenant/<tenant_id>").
//
// One struct per event, past tense, with its CloudEvents type and version
// pinned. A shipped shape is never edited: a breaking change adds a v2 and an
// upcaster. Password hashes never appear here; API keys only as SHA-256 hex.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "events/ids.hpp"
#include "events/result.hpp"

namespace kw {

#define KW_EVENT_TYPE(str, ver)                               \
  static constexpr const char* type = "keepwatch." str ".v" #ver; \
  static constexpr int version = ver;

// JSON conversion of one payload, defined beside the structs (tenant_events.cpp,
// monitor_events.cpp). to_json writes every field; from_json is strict: a
// missing field, a wrong JSON type, an out-of-range integer, a bad timestamp or
// enum, or an unknown extra field is an errc::decode error naming the field
// ("<path>.<field>: ..."), never an exception and never a defaulted field.
// `path` prefixes messages: "data" for an envelope's payload. There is
// deliberately no two-argument from_json, so nlohmann's lenient j.get<T>()
// does not compile for these types.
#define KW_EVENT_JSON(T)                             \
  void to_json(nlohmann::json& j, const T& e);       \
  status from_json(const nlohmann::json& j, T& e, const std::string& path);

struct tenant_created {
  KW_EVENT_TYPE("tenant.created", 1)
  std::string name;
  std::string plan;
  std::string owner_user_id;
  std::string owner_email;
};

struct tenant_renamed {
  KW_EVENT_TYPE("tenant.renamed", 1)
  std::string name;
};

struct tenant_plan_changed {
  KW_EVENT_TYPE("tenant.plan_changed", 1)
  std::string from_plan;
  std::string to_plan;
};

struct tenant_suspended {
  KW_EVENT_TYPE("tenant.suspended", 1)
  std::string reason;
};

struct tenant_activated {
  KW_EVENT_TYPE("tenant.activated", 1)
};

struct tenant_deleted {
  KW_EVENT_TYPE("tenant.deleted", 1)
};

struct member_added {
  KW_EVENT_TYPE("tenant.member_added", 1)
  std::string user_id;
  std::string email;
  std::string role;  // owner | admin | member | viewer | auditor
};

struct member_role_changed {
  KW_EVENT_TYPE("tenant.member_role_changed", 1)
  std::string user_id;
  std::string from_role;
  std::string to_role;
};

struct member_removed {
  KW_EVENT_TYPE("tenant.member_removed", 1)
  std::string user_id;
};

struct api_key_created {
  KW_EVENT_TYPE("tenant.api_key_created", 1)
  std::string key_id;
  std::string name;
  std::string key_hash;  // hex SHA-256 of the whole key; the key itself never
  std::string scope;     // read | read_write
};

struct api_key_revoked {
  KW_EVENT_TYPE("tenant.api_key_revoked", 1)
  std::string key_id;
};

struct channel_created {
  KW_EVENT_TYPE("tenant.channel_created", 1)
  std::string channel_id;
  std::string name;
  std::string kind;        // webhook
  std::string url;
  std::string secret_enc;  // the signing secret, encrypted; may be empty
};

struct channel_updated {
  KW_EVENT_TYPE("tenant.channel_updated", 1)
  std::string channel_id;
  std::string name;
  std::string url;
  std::string secret_enc;
};

struct channel_deleted {
  KW_EVENT_TYPE("tenant.channel_deleted", 1)
  std::string channel_id;
};

struct status_page_created {
  KW_EVENT_TYPE("tenant.status_page_created", 1)
  std::string page_id;
  std::string slug;
  std::string title;
  std::vector<std::string> monitor_ids;
};

struct status_page_updated {
  KW_EVENT_TYPE("tenant.status_page_updated", 1)
  std::string page_id;
  std::string slug;
  std::string title;
  std::vector<std::string> monitor_ids;
};

struct status_page_deleted {
  KW_EVENT_TYPE("tenant.status_page_deleted", 1)
  std::string page_id;
};

struct maintenance_scheduled {
  KW_EVENT_TYPE("tenant.maintenance_scheduled", 1)
  std::string window_id;
  std::string title;
  std::vector<std::string> monitor_ids;  // empty = every monitor of the tenant
  timestamp starts_at;
  timestamp ends_at;
};

struct maintenance_cancelled {
  KW_EVENT_TYPE("tenant.maintenance_cancelled", 1)
  std::string window_id;
};

// Metering: API calls the gateway served for this tenant on one UTC day,
// counted in memory and flushed as one command per tenant every minute and at
// shutdown. Each event adds `calls` to the day's total (it is a delta, never
// a running total), so the usage read model sums them. Not an entity change:
// the tenant's own state only records the command id.
struct api_calls_recorded {
  KW_EVENT_TYPE("tenant.api_calls_recorded", 1)
  std::string day;        // "YYYY-MM-DD" (UTC)
  std::int64_t calls = 0; // 1..10^9
};

// A signed tree head (events/README.md, "Signed tree heads"): the node's
// notary signed, with its Ed25519 key, the root of the Merkle tree over the
// tenant's first `tree_size` chained events. Recorded in the tenant's own
// chain, so the history carries the heads that vouch for it. Changes nothing
// but version.
struct tree_head_signed {
  KW_EVENT_TYPE("tenant.tree_head_signed", 1)
  std::int64_t tree_size = 0;  // events covered: leaves 0 .. tree_size-1
  std::string root;            // 64 lowercase hex: RFC 9162 root of those leaves
  timestamp signed_at;         // when the notary signed (part of the signed bytes)
  std::string key_id;          // 16 lowercase hex: the first 8 bytes of SHA-256(public key)
  std::string signature;       // 128 lowercase hex: Ed25519 over the head's message
};

KW_EVENT_JSON(tenant_created)
KW_EVENT_JSON(tenant_renamed)
KW_EVENT_JSON(tenant_plan_changed)
KW_EVENT_JSON(tenant_suspended)
KW_EVENT_JSON(tenant_activated)
KW_EVENT_JSON(tenant_deleted)
KW_EVENT_JSON(member_added)
KW_EVENT_JSON(member_role_changed)
KW_EVENT_JSON(member_removed)
KW_EVENT_JSON(api_key_created)
KW_EVENT_JSON(api_key_revoked)
KW_EVENT_JSON(channel_created)
KW_EVENT_JSON(channel_updated)
KW_EVENT_JSON(channel_deleted)
KW_EVENT_JSON(status_page_created)
KW_EVENT_JSON(status_page_updated)
KW_EVENT_JSON(status_page_deleted)
KW_EVENT_JSON(maintenance_scheduled)
KW_EVENT_JSON(maintenance_cancelled)
KW_EVENT_JSON(api_calls_recorded)
KW_EVENT_JSON(tree_head_signed)

}  // namespace kw
