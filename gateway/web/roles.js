// What each role may do: the README's "Who may do what" table, used only to
// hide controls a caller cannot use (the server decides in any case).

const TABLE = {
  read: ["owner", "admin", "member", "viewer", "auditor", "platform_admin"],
  read_billing: ["owner", "admin", "auditor", "platform_admin"],
  read_audit: ["owner", "auditor", "platform_admin"],
  manage_monitors: ["owner", "admin", "member", "platform_admin"],
  manage_maintenance: ["owner", "admin", "member", "platform_admin"],
  manage_status_pages: ["owner", "admin", "member", "platform_admin"],
  manage_channels: ["owner", "admin", "platform_admin"],
  manage_api_keys: ["owner", "admin", "platform_admin"],
  manage_members: ["owner", "admin", "platform_admin"],
  manage_tenant: ["owner", "platform_admin"],
};

export const ROLES = ["owner", "admin", "member", "viewer", "auditor"];

export function may(role, action) {
  return (TABLE[action] || []).includes(role);
}
