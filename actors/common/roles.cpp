// The role table of roles.hpp.
#include "actors/common/roles.hpp"

namespace kw {

std::optional<role> parse_role(std::string_view s) noexcept {
  if (s == "owner") return role::owner;
  if (s == "admin") return role::admin;
  if (s == "member") return role::member;
  if (s == "viewer") return role::viewer;
  if (s == "auditor") return role::auditor;
  return std::nullopt;
}

std::string_view to_string(role r) noexcept {
  switch (r) {
    case role::owner: return "owner";
    case role::admin: return "admin";
    case role::member: return "member";
    case role::viewer: return "viewer";
    case role::auditor: return "auditor";
  }
  return "viewer";
}

bool role_allows(role r, permission p) noexcept {
  switch (p) {
    case permission::manage_monitors:
    case permission::manage_maintenance:
    case permission::manage_status_pages:
      return r == role::owner || r == role::admin || r == role::member;
    case permission::manage_channels:
    case permission::manage_api_keys:
    case permission::manage_members:
      return r == role::owner || r == role::admin;
    case permission::manage_owners:
    case permission::manage_tenant:
      return r == role::owner;
  }
  return false;
}

}  // namespace kw
