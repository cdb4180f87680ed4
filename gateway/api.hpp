// API v1: the routes, as one function from request to response over a node
// (writes become commands to the owning actors) and PostgreSQL (reads from
// the read models, as keepwatch_app under row-level security).
//
// Callers authenticate with `Authorization: Bearer <access token>` or an API
// key (`Bearer kw_<tenant>_<random>`); the tenant comes from the credentials
// (a platform admin names it with X-Tenant-ID), and the caller's role is read
// from the tenant's actor at each request, so a role change or a removal
// takes effect at once. What each role may do: `may` (api_context.hpp) and
// the README's table. Another tenant's ids answer 404, never 403. Authenticated requests
// are rate-limited per tenant by its plan (token bucket): every such answer
// carries X-RateLimit-Limit, -Remaining and -Reset, and a request over the
// limit is a 429 with Retry-After.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "config/plan.hpp"
#include "events/result.hpp"
#include "gateway/http_message.hpp"
#include "gateway/passwords.hpp"
#include "gateway/router.hpp"
#include "gateway/server.hpp"

namespace kw {
class node;
namespace audit {
class log_source;
}
}  // namespace kw

namespace kw::gateway {

struct api_options {
  // Where the gateway reads and writes, logged in as keepwatch_app (no table
  // ownership, no BYPASSRLS). Empty: database_url with its user replaced by
  // keepwatch_app (app_url_from).
  std::string app_database_url;
  std::string database_url;
  std::string jwt_key;                // at least 32 bytes
  int access_ttl_s = 900;
  int refresh_ttl_s = 30 * 86400;
  int pool_size = 8;
  password_cost cost = password_cost::interactive;
  std::string default_plan = "free";  // for sign-ups
  std::string node_name = "node-1";
  // Per-tenant request rates come from the tenant's plan (api_rate_per_min);
  // a plan missing here gets 60 a minute.
  plan_catalog plans;
  // The first platform admin, created at start when no user is one yet
  // (config [gateway] admin_email / admin_password, or the environment's
  // KEEPWATCH_ADMIN_EMAIL / KEEPWATCH_ADMIN_PASSWORD). Empty: none.
  std::string admin_email;
  std::string admin_password;
  // How often the API calls counted per tenant are sent to the tenants'
  // actors (record_api_calls → the usage read model); also at shutdown.
  int api_calls_flush_s = 60;
  // /metrics: a scraper presents `Authorization: Bearer <metrics_token>`
  // (config gateway.metrics_token, KEEPWATCH_GATEWAY_METRICS_TOKEN); empty:
  // only platform admins may scrape. Being on the same machine grants
  // nothing (the node's own monitors run there).
  std::string metrics_token;
  // Sign-up, login and refresh, per client address and per account (the
  // email; for refresh, the address only), as token buckets: a person never
  // comes near these, a script guessing passwords does. Over them: 429 with
  // Retry-After. Config gateway.auth_rate_per_ip_per_min and
  // gateway.auth_rate_per_account_per_min.
  int auth_rate_per_ip_per_min = 60;
  int auth_rate_per_account_per_min = 10;
  // Why the node is not ready besides PostgreSQL (a projection stopped on a
  // truncated log, ...): /readyz answers 503 with these as "problems".
  std::function<std::vector<std::string>()> problems;
  // The audit API (audit_routes.cpp) reads the log itself, through a source
  // this makes for each request (cluster/audit.hpp). Unset: the node's own
  // log, read as the node reads it (the embedded log, or the node's Kafka
  // reader). The node on Kafka sets a reader of its own that never writes
  // or joins a group, so audit reads never queue behind the node's.
  std::function<result<std::unique_ptr<audit::log_source>>()> audit_log;
  // The notary's Ed25519 public key (64 hex digits), served with the signed
  // heads; empty: not known to this gateway.
  std::string audit_public_key;
  // Audit reads (each may scan a tenant's whole history) running at once per
  // tenant; more answer 429 with Retry-After.
  int audit_reads_per_tenant = 2;
};

// `url` (a libpq URL or key=value string) with the user keepwatch_app and no
// password.
std::string app_url_from(const std::string& url);

class api {
public:
  api(node& n, api_options o);
  ~api();
  api(const api&) = delete;
  api& operator=(const api&) = delete;

  http_response handle(const http_request& req) const;

  // Who may follow the live stream (WebSocket /api/v1/stream): the tenant
  // of a caller allowed to read it, with a re-check of the same credential
  // under the same rules (not charged to the rate limit), or the refusal to
  // answer instead of upgrading. Browsers cannot set headers on a
  // WebSocket, so the credential may also come as a single-use `?ticket=`
  // from POST /api/v1/stream/ticket (valid 30 s; it stands for the
  // credential that asked for it), or as `?access_token=`.
  std::variant<stream_grant, http_response> stream_tenant(const http_request& req) const;
  const router& routes() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

}  // namespace kw::gateway
