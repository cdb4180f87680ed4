// Tenant roles and what each may do.
//
// A pure table: which role may send which kind of command. The Tenant decider
// enforces it for its own commands; shells of other aggregates (Monitor) ask
// `kw::tenant::authorize` with the permission of the command they carry.
// Ranks are ordered: a higher rank may do everything a lower one may, except
// that viewer and auditor are both read-only and rank equally.
#pragma once

#include <optional>
#include <string_view>

namespace kw {

enum class role { owner, admin, member, viewer, auditor };

// "owner" | "admin" | "member" | "viewer" | "auditor"; nullopt otherwise.
std::optional<role> parse_role(std::string_view s) noexcept;
std::string_view to_string(role r) noexcept;

// What a command needs. Tenant lifecycle (suspend, activate) is for the
// platform only and is not in this list: no tenant role grants it.
enum class permission {
  manage_monitors,     // create, update, pause, resume, delete monitors
  manage_maintenance,  // schedule and cancel maintenance windows
  manage_status_pages,
  manage_channels,
  manage_api_keys,
  manage_members,      // add, change role, remove (owners only by owners)
  manage_owners,       // grant, revoke or remove the owner role
  manage_tenant,       // rename, change plan, delete the tenant
};

bool role_allows(role r, permission p) noexcept;

// An API key with scope "read_write" acts with this role's permissions;
// scope "read" grants no write at all.
inline constexpr role api_key_role = role::member;

}  // namespace kw
