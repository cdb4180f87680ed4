// The Tenant decider, specified as given(events).when(command).then(events).
//
// Events are compared through the canonical codec (kw::encode), so a failing
// test prints both sides as readable JSON.
#include "events/hash_chain.hpp"
#include "actors/tenant/tenant_decider.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "events/codec.hpp"

namespace {

using namespace kw;
namespace kt = kw::tenant;

constexpr std::int64_t t0 = 1'800'000'000'000'000;  // µs since the epoch
constexpr std::int64_t minute = 60'000'000;

plan_catalog test_plans() {
  plan_catalog c;
  c.plans["small"] = plan{"small", /*max_monitors*/ 2, /*min_interval_s*/ 300, 7,
                          /*max_users*/ 2, /*max_status_pages*/ 1, 60, 0, 0};
  c.plans["pro"] = plan{"pro", 100, 60, 90, 10, 5, 600, 900, 25};
  return c;
}

// ---------------------------------------------------------------- the spec

std::vector<std::string> encoded(const std::vector<event_data>& evs) {
  std::vector<std::string> out;
  for (const auto& d : evs) out.push_back(encode(event{envelope{}, d}));
  return out;
}

class spec {
public:
  explicit spec(plan_catalog plans = test_plans()) : plans_(std::move(plans)) {}

  // Applies past events, each as if caused by its own command.
  spec& given(const std::vector<event_data>& evs) {
    for (const auto& d : evs) apply(d, "given-" + std::to_string(++given_), timestamp{t0});
    return *this;
  }

  spec& when(kt::command c) {
    cmd_ = std::move(c);
    if (cmd_.meta.command_id.empty()) cmd_.meta.command_id = "cmd-" + std::to_string(++cmds_);
    if (cmd_.meta.time.get() == 0) cmd_.meta.time = timestamp{t0 + minute};
    out_.emplace(kt::decide(s_, cmd_, plans_));
    return *this;
  }
  spec& when(kt::body b) { return when(kt::command{command_meta{}, std::move(b)}); }
  spec& when(kt::body b, actor_ref who) {
    command_meta m;
    m.actor = std::move(who);
    return when(kt::command{std::move(m), std::move(b)});
  }

  // The command is accepted with exactly these events, which are then applied
  // (with the command's id and time, as the shell would).
  spec& then(const std::vector<event_data>& expected) {
    EXPECT_TRUE(out_->ok()) << "rejected: " << to_string(out_->err().code) << ": "
                            << out_->err().message;
    if (!out_->ok()) return *this;
    EXPECT_EQ(encoded(out_->value()), encoded(expected));
    for (const auto& d : out_->value()) apply(d, cmd_.meta.command_id, cmd_.meta.time);
    return *this;
  }

  // The command is rejected with this code and appends nothing.
  spec& then_error(errc code) {
    EXPECT_FALSE(out_->ok()) << "accepted with " << out_->value().size() << " events";
    if (out_->ok()) return *this;
    EXPECT_EQ(out_->err().code, code) << out_->err().message;
    EXPECT_FALSE(out_->err().message.empty());
    return *this;
  }

  const kt::state& state() const { return s_; }
  const kt::command& last_command() const { return cmd_; }

private:
  void apply(const event_data& d, const std::string& cause, timestamp at) {
    event e{envelope{}, d};
    e.meta.tenant = tenant_id{"acme"};
    e.meta.time = at;
    e.meta.seq = seq_no{s_.version + 1};
    e.meta.causation_id = cause;
    s_ = kt::evolve(std::move(s_), e);
  }

  plan_catalog plans_;
  kt::state s_ = kt::initial_state();
  kt::command cmd_;
  std::optional<result<std::vector<event_data>>> out_;
  int given_ = 0;
  int cmds_ = 0;
};

// ---------------------------------------------------------------- fixtures

tenant_created created(std::string plan = "small") {
  return tenant_created{"Acme", std::move(plan), "u-owner", "owner@acme.test"};
}

monitor_config http_config(int interval_s = 300) {
  monitor_config c;
  c.name = "site";
  c.kind = monitor_kind::http;
  c.url = "https://acme.test/health";
  c.interval_s = interval_s;
  return c;
}

monitor_created a_monitor(const std::string& id) { return monitor_created{id, http_config()}; }

const std::string hash_a(64, 'a');
const std::string hash_b(64, 'b');

actor_ref user(const std::string& id) { return actor_ref{"user", id, "203.0.113.9"}; }
actor_ref key(const std::string& id) { return actor_ref{"api_key", id, ""}; }

// ---------------------------------------------------------------- lifecycle

TEST(tenant_create, creates_the_tenant_with_its_owner_as_member) {
  spec t;
  t.when(kt::create_tenant{"Acme", "small", "u-owner", "owner@acme.test"}).then({created()});
  EXPECT_TRUE(t.state().exists);
  EXPECT_EQ(t.state().id, "acme");
  EXPECT_EQ(t.state().members.at("u-owner").role, role::owner);
  EXPECT_EQ(t.state().version, 1);
}

TEST(tenant_create, rejects_a_second_create) {
  spec().given({created()}).when(kt::create_tenant{"Other", "small", "u2", "x@y.z"}).then_error(errc::conflict);
}

TEST(tenant_create, rejects_an_unknown_plan) {
  spec().when(kt::create_tenant{"Acme", "gold", "u-owner", "owner@acme.test"}).then_error(errc::invalid);
}

TEST(tenant_create, rejects_an_empty_or_overlong_name) {
  spec().when(kt::create_tenant{"  ", "small", "u-owner", "owner@acme.test"}).then_error(errc::invalid);
  spec().when(kt::create_tenant{std::string(201, 'x'), "small", "u-owner", "owner@acme.test"})
      .then_error(errc::invalid);
}

TEST(tenant_create, rejects_a_bad_owner) {
  spec().when(kt::create_tenant{"Acme", "small", "u-owner", "not-an-email"}).then_error(errc::invalid);
  spec().when(kt::create_tenant{"Acme", "small", "", "owner@acme.test"}).then_error(errc::invalid);
}

TEST(tenant_not_created, rejects_everything_but_create_as_not_found) {
  spec().when(kt::rename_tenant{"X"}).then_error(errc::not_found);
  spec().when(kt::create_monitor{"m1", http_config()}).then_error(errc::not_found);
  spec().when(kt::activate_tenant{}).then_error(errc::not_found);
}

TEST(tenant_rename, renames) {
  spec().given({created()}).when(kt::rename_tenant{"Acme Corp"}).then({tenant_renamed{"Acme Corp"}});
}

TEST(tenant_rename, rejects_an_empty_name_or_the_same_name) {
  spec().given({created()}).when(kt::rename_tenant{""}).then_error(errc::invalid);
  spec().given({created()}).when(kt::rename_tenant{"Acme"}).then_error(errc::conflict);
}

TEST(tenant_change_plan, changes_the_plan) {
  spec t;
  t.given({created()}).when(kt::change_plan{"pro"}).then({tenant_plan_changed{"small", "pro"}});
  EXPECT_EQ(t.state().plan, "pro");
}

TEST(tenant_change_plan, rejects_an_unknown_or_the_same_plan) {
  spec().given({created()}).when(kt::change_plan{"gold"}).then_error(errc::invalid);
  spec().given({created()}).when(kt::change_plan{"small"}).then_error(errc::conflict);
}

TEST(tenant_change_plan, rejects_a_downgrade_below_the_monitors_in_use) {
  spec()
      .given({created("pro"), a_monitor("m1"), a_monitor("m2"), a_monitor("m3")})
      .when(kt::change_plan{"small"})
      .then_error(errc::quota_exceeded);
  spec()
      .given({created("pro"), a_monitor("m1"), a_monitor("m2")})
      .when(kt::change_plan{"small"})
      .then({tenant_plan_changed{"pro", "small"}});
}

TEST(tenant_update, renames_and_changes_the_plan_in_one_decision) {
  spec t;
  t.given({created()})
      .when(kt::update_tenant{std::string("Acme Corp"), std::string("pro")})
      .then({tenant_renamed{"Acme Corp"}, tenant_plan_changed{"small", "pro"}});
  EXPECT_EQ(t.state().name, "Acme Corp");
  EXPECT_EQ(t.state().plan, "pro");
}

TEST(tenant_update, changes_only_what_differs) {
  spec()
      .given({created()})
      .when(kt::update_tenant{std::string("Acme"), std::string("pro")})
      .then({tenant_plan_changed{"small", "pro"}});
  spec()
      .given({created()})
      .when(kt::update_tenant{std::string("Acme Corp"), std::nullopt})
      .then({tenant_renamed{"Acme Corp"}});
  spec().given({created()}).when(kt::update_tenant{std::string("Acme"), std::string("small")}).then_error(errc::conflict);
  spec().given({created()}).when(kt::update_tenant{}).then_error(errc::invalid);
}

TEST(tenant_update, a_refused_plan_refuses_the_rename_with_it) {
  spec()
      .given({created("pro"), a_monitor("m1"), a_monitor("m2"), a_monitor("m3")})
      .when(kt::update_tenant{std::string("Acme Corp"), std::string("small")})
      .then_error(errc::quota_exceeded);
  spec()
      .given({created()})
      .when(kt::update_tenant{std::string(""), std::string("pro")})
      .then_error(errc::invalid);
  spec()
      .given({created()})
      .when(kt::update_tenant{std::string("Acme Corp"), std::string("gold")})
      .then_error(errc::invalid);
}

TEST(tenant_change_plan, rejects_a_downgrade_below_the_users_in_use) {
  spec()
      .given({created("pro"), member_added{"u2", "b@acme.test", "member"},
              member_added{"u3", "c@acme.test", "member"}})
      .when(kt::change_plan{"small"})
      .then_error(errc::quota_exceeded);
}

TEST(tenant_suspend, suspends_and_then_accepts_only_activate_and_delete) {
  spec t;
  t.given({created()}).when(kt::suspend_tenant{"unpaid"}).then({tenant_suspended{"unpaid"}});
  EXPECT_EQ(t.state().status, kt::tenant_status::suspended);
  t.when(kt::rename_tenant{"X"}).then_error(errc::suspended);
  t.when(kt::create_monitor{"m1", http_config()}).then_error(errc::suspended);
  t.when(kt::add_member{"u2", "b@acme.test", "member"}).then_error(errc::suspended);
  t.when(kt::suspend_tenant{"again"}).then_error(errc::suspended);
  t.when(kt::activate_tenant{}).then({tenant_activated{}});
  EXPECT_EQ(t.state().status, kt::tenant_status::active);
}

TEST(tenant_suspend, is_for_the_platform_only) {
  spec().given({created()}).when(kt::suspend_tenant{"x"}, user("u-owner")).then_error(errc::forbidden);
  spec().given({created()}).when(kt::suspend_tenant{"x"}, actor_ref{"operator", "ops", ""})
      .then({tenant_suspended{"x"}});
}

TEST(tenant_activate, rejects_an_active_tenant) {
  spec().given({created()}).when(kt::activate_tenant{}).then_error(errc::conflict);
}

TEST(tenant_delete, deletes_every_monitor_then_the_tenant) {
  spec t;
  t.given({created(), a_monitor("m2"), a_monitor("m1")})
      .when(kt::delete_tenant{})
      .then({monitor_deleted{"m1"}, monitor_deleted{"m2"}, tenant_deleted{}});
  EXPECT_TRUE(t.state().monitors.empty());
}

TEST(tenant_delete, works_on_a_suspended_tenant) {
  spec().given({created(), tenant_suspended{"x"}}).when(kt::delete_tenant{}).then({tenant_deleted{}});
}

TEST(tenant_delete, makes_everything_not_found) {
  spec t;
  t.given({created(), tenant_deleted{}});
  t.when(kt::rename_tenant{"X"}).then_error(errc::not_found);
  t.when(kt::delete_tenant{}).then_error(errc::not_found);
  t.when(kt::activate_tenant{}).then_error(errc::not_found);
  t.when(kt::create_tenant{"Acme", "small", "u-owner", "owner@acme.test"}).then_error(errc::not_found);
}

// ---------------------------------------------------------------- members

TEST(tenant_add_member, adds_a_member) {
  spec t;
  t.given({created()}).when(kt::add_member{"u2", "b@acme.test", "viewer"})
      .then({member_added{"u2", "b@acme.test", "viewer"}});
  EXPECT_EQ(t.state().members.at("u2").role, role::viewer);
}

TEST(tenant_add_member, enforces_the_plans_user_limit) {
  // small allows 2 users: the owner is one, so one more fits and a third not.
  spec t;
  t.given({created()}).when(kt::add_member{"u2", "b@acme.test", "member"})
      .then({member_added{"u2", "b@acme.test", "member"}});
  t.when(kt::add_member{"u3", "c@acme.test", "member"}).then_error(errc::quota_exceeded);
}

TEST(tenant_add_member, rejects_a_duplicate_a_bad_role_or_a_bad_email) {
  spec().given({created()}).when(kt::add_member{"u-owner", "o@acme.test", "admin"}).then_error(errc::conflict);
  spec().given({created()}).when(kt::add_member{"u2", "b@acme.test", "boss"}).then_error(errc::invalid);
  spec().given({created()}).when(kt::add_member{"u2", "b", "member"}).then_error(errc::invalid);
}

TEST(tenant_change_role, changes_a_role) {
  spec()
      .given({created(), member_added{"u2", "b@acme.test", "member"}})
      .when(kt::change_role{"u2", "admin"})
      .then({member_role_changed{"u2", "member", "admin"}});
}

TEST(tenant_change_role, rejects_an_unknown_member_a_bad_role_or_the_same_role) {
  spec().given({created()}).when(kt::change_role{"nobody", "admin"}).then_error(errc::not_found);
  spec().given({created()}).when(kt::change_role{"u-owner", "king"}).then_error(errc::invalid);
  spec().given({created()}).when(kt::change_role{"u-owner", "owner"}).then_error(errc::conflict);
}

TEST(tenant_change_role, never_demotes_the_last_owner) {
  spec().given({created()}).when(kt::change_role{"u-owner", "admin"}).then_error(errc::conflict);
  spec()
      .given({created(), member_added{"u2", "b@acme.test", "owner"}})
      .when(kt::change_role{"u-owner", "admin"})
      .then({member_role_changed{"u-owner", "owner", "admin"}});
}

TEST(tenant_remove_member, removes_a_member) {
  spec t;
  t.given({created(), member_added{"u2", "b@acme.test", "member"}})
      .when(kt::remove_member{"u2"})
      .then({member_removed{"u2"}});
  EXPECT_EQ(t.state().members.count("u2"), 0u);
}

TEST(tenant_remove_member, rejects_an_unknown_member_and_the_last_owner) {
  spec().given({created()}).when(kt::remove_member{"nobody"}).then_error(errc::not_found);
  spec().given({created()}).when(kt::remove_member{"u-owner"}).then_error(errc::conflict);
}

// ---------------------------------------------------------------- authorization

TEST(tenant_authorization, follows_the_role_of_the_user) {
  auto team = std::vector<event_data>{created("pro"), member_added{"u-admin", "a@acme.test", "admin"},
                                      member_added{"u-member", "m@acme.test", "member"},
                                      member_added{"u-viewer", "v@acme.test", "viewer"},
                                      member_added{"u-audit", "au@acme.test", "auditor"}};
  spec().given(team).when(kt::create_monitor{"m1", http_config()}, user("u-member"))
      .then({monitor_created{"m1", http_config()}});
  spec().given(team).when(kt::create_monitor{"m1", http_config()}, user("u-viewer"))
      .then_error(errc::forbidden);
  spec().given(team).when(kt::create_monitor{"m1", http_config()}, user("u-audit"))
      .then_error(errc::forbidden);
  spec().given(team).when(kt::create_monitor{"m1", http_config()}, user("stranger"))
      .then_error(errc::forbidden);
  spec().given(team).when(kt::add_member{"u9", "n@acme.test", "member"}, user("u-member"))
      .then_error(errc::forbidden);
  spec().given(team).when(kt::add_member{"u9", "n@acme.test", "member"}, user("u-admin"))
      .then({member_added{"u9", "n@acme.test", "member"}});
  spec().given(team).when(kt::add_member{"u9", "n@acme.test", "owner"}, user("u-admin"))
      .then_error(errc::forbidden);
  spec().given(team).when(kt::remove_member{"u-owner"}, user("u-admin")).then_error(errc::forbidden);
  spec().given(team).when(kt::delete_tenant{}, user("u-admin")).then_error(errc::forbidden);
  spec().given(team).when(kt::change_plan{"small"}, user("u-owner")).then_error(errc::quota_exceeded);
}

TEST(tenant_authorization, lets_read_write_api_keys_act_as_members) {
  auto keys = std::vector<event_data>{created(), api_key_created{"k-rw", "ci", hash_a, "read_write"},
                                      api_key_created{"k-r", "grafana", hash_b, "read"}};
  spec().given(keys).when(kt::create_monitor{"m1", http_config()}, key("k-rw"))
      .then({monitor_created{"m1", http_config()}});
  spec().given(keys).when(kt::create_monitor{"m1", http_config()}, key("k-r")).then_error(errc::forbidden);
  spec().given(keys).when(kt::create_api_key{"k3", "x", std::string(64, 'c'), "read"}, key("k-rw"))
      .then_error(errc::forbidden);
  auto revoked = keys;
  revoked.push_back(api_key_revoked{"k-rw"});
  spec().given(revoked).when(kt::create_monitor{"m1", http_config()}, key("k-rw")).then_error(errc::forbidden);
}

// ---------------------------------------------------------------- API keys

TEST(tenant_api_key, creates_and_revokes_a_key) {
  spec t;
  t.given({created()}).when(kt::create_api_key{"k1", "ci", hash_a, "read_write"})
      .then({api_key_created{"k1", "ci", hash_a, "read_write"}});
  t.when(kt::revoke_api_key{"k1"}).then({api_key_revoked{"k1"}});
  EXPECT_TRUE(t.state().api_keys.at("k1").revoked);
  t.when(kt::revoke_api_key{"k1"}).then_error(errc::conflict);
}

TEST(tenant_api_key, rejects_bad_keys) {
  spec().given({created()}).when(kt::create_api_key{"k1", "ci", "not-a-hash", "read"}).then_error(errc::invalid);
  spec().given({created()}).when(kt::create_api_key{"k1", "ci", hash_a, "admin"}).then_error(errc::invalid);
  spec().given({created()}).when(kt::create_api_key{"k1", "", hash_a, "read"}).then_error(errc::invalid);
  spec()
      .given({created(), api_key_created{"k1", "ci", hash_a, "read"}})
      .when(kt::create_api_key{"k1", "ci2", hash_b, "read"})
      .then_error(errc::conflict);
  spec().given({created()}).when(kt::revoke_api_key{"nope"}).then_error(errc::not_found);
}

// ---------------------------------------------------------------- channels

TEST(tenant_channel, creates_updates_and_deletes_a_webhook) {
  spec t;
  t.given({created()}).when(kt::create_channel{"c1", "ops", "https://hooks.acme.test/x", "enc:abc"})
      .then({channel_created{"c1", "ops", "webhook", "https://hooks.acme.test/x", "enc:abc"}});
  t.when(kt::update_channel{"c1", "ops2", "http://hooks.acme.test/y", ""})
      .then({channel_updated{"c1", "ops2", "http://hooks.acme.test/y", ""}});
  EXPECT_EQ(t.state().channels.at("c1").url, "http://hooks.acme.test/y");
  t.when(kt::delete_channel{"c1"}).then({channel_deleted{"c1"}});
  EXPECT_TRUE(t.state().channels.empty());
}

TEST(tenant_channel, rejects_a_non_http_url_a_duplicate_and_unknown_channels) {
  spec().given({created()}).when(kt::create_channel{"c1", "ops", "ftp://x.test/", ""}).then_error(errc::invalid);
  spec().given({created()}).when(kt::create_channel{"c1", "ops", "https://", ""}).then_error(errc::invalid);
  auto with_c1 = std::vector<event_data>{
      created(), channel_created{"c1", "ops", "webhook", "https://h.test/", ""}};
  spec().given(with_c1).when(kt::create_channel{"c1", "x", "https://h.test/", ""}).then_error(errc::conflict);
  spec().given(with_c1).when(kt::update_channel{"c1", "x", "mailto:a@b", ""}).then_error(errc::invalid);
  spec().given({created()}).when(kt::update_channel{"c9", "x", "https://h.test/", ""}).then_error(errc::not_found);
  spec().given({created()}).when(kt::delete_channel{"c9"}).then_error(errc::not_found);
}

// ---------------------------------------------------------------- status pages

TEST(tenant_status_page, creates_updates_and_deletes_a_page) {
  spec t;
  t.given({created("pro"), a_monitor("m1")})
      .when(kt::create_status_page{"p1", "acme-status", "Acme status", {"m1"}})
      .then({status_page_created{"p1", "acme-status", "Acme status", {"m1"}}});
  t.when(kt::update_status_page{"p1", "acme", "Acme", {}})
      .then({status_page_updated{"p1", "acme", "Acme", {}}});
  t.when(kt::delete_status_page{"p1"}).then({status_page_deleted{"p1"}});
  EXPECT_TRUE(t.state().status_pages.empty());
}

TEST(tenant_status_page, enforces_the_plans_page_limit) {
  spec t;  // small allows 1
  t.given({created()}).when(kt::create_status_page{"p1", "one", "One", {}})
      .then({status_page_created{"p1", "one", "One", {}}});
  t.when(kt::create_status_page{"p2", "two", "Two", {}}).then_error(errc::quota_exceeded);
}

TEST(tenant_status_page, rejects_bad_or_taken_slugs_and_unknown_monitors) {
  for (std::string bad : std::vector<std::string>{"", "Acme", "a_b", "a b", std::string(64, 'a'), "é"})
    spec().given({created()}).when(kt::create_status_page{"p1", bad, "T", {}}).then_error(errc::invalid);
  spec().given({created()}).when(kt::create_status_page{"p1", std::string(63, 'a'), "T", {}})
      .then({status_page_created{"p1", std::string(63, 'a'), "T", {}}});
  auto two = std::vector<event_data>{created("pro"), status_page_created{"p1", "one", "One", {}},
                                     status_page_created{"p2", "two", "Two", {}}};
  spec().given(two).when(kt::create_status_page{"p3", "one", "T", {}}).then_error(errc::conflict);
  spec().given(two).when(kt::update_status_page{"p2", "one", "T", {}}).then_error(errc::conflict);
  spec().given(two).when(kt::update_status_page{"p2", "two", "T", {}})
      .then({status_page_updated{"p2", "two", "T", {}}});
  spec().given(two).when(kt::create_status_page{"p1", "x", "T", {}}).then_error(errc::conflict);
  spec().given(two).when(kt::create_status_page{"p3", "x", "T", {"m-unknown"}}).then_error(errc::invalid);
  spec().given(two).when(kt::update_status_page{"p9", "x", "T", {}}).then_error(errc::not_found);
  spec().given(two).when(kt::delete_status_page{"p9"}).then_error(errc::not_found);
}

// ---------------------------------------------------------------- maintenance

TEST(tenant_maintenance, schedules_and_cancels_a_window) {
  spec t;
  timestamp from{t0 + 10 * minute}, to{t0 + 70 * minute};
  t.given({created(), a_monitor("m1")})
      .when(kt::schedule_maintenance{"w1", "upgrade", {"m1"}, from, to})
      .then({maintenance_scheduled{"w1", "upgrade", {"m1"}, from, to}});
  EXPECT_FALSE(kt::is_in_maintenance(t.state(), "m1", timestamp{from.get() - 1}));
  EXPECT_TRUE(kt::is_in_maintenance(t.state(), "m1", from));
  EXPECT_FALSE(kt::is_in_maintenance(t.state(), "m1", to));  // ends_at is exclusive
  EXPECT_FALSE(kt::is_in_maintenance(t.state(), "m2", from));
  t.when(kt::cancel_maintenance{"w1"}).then({maintenance_cancelled{"w1"}});
  EXPECT_FALSE(kt::is_in_maintenance(t.state(), "m1", from));
}

TEST(tenant_maintenance, a_window_without_monitors_covers_all) {
  spec t;
  timestamp from{t0}, to{t0 + 70 * minute};
  t.given({created(), a_monitor("m1")}).when(kt::schedule_maintenance{"w1", "all", {}, from, to})
      .then({maintenance_scheduled{"w1", "all", {}, from, to}});
  EXPECT_TRUE(kt::is_in_maintenance(t.state(), "m1", timestamp{t0 + minute}));
  EXPECT_TRUE(kt::is_in_maintenance(t.state(), "any", timestamp{t0 + minute}));
}

TEST(tenant_maintenance, rejects_bad_windows) {
  timestamp a{t0 + 10 * minute}, b{t0 + 20 * minute};
  spec().given({created()}).when(kt::schedule_maintenance{"w1", "x", {}, b, a}).then_error(errc::invalid);
  spec().given({created()}).when(kt::schedule_maintenance{"w1", "x", {}, a, a}).then_error(errc::invalid);
  spec().given({created()})  // already over at the command's time (t0 + 1 min)
      .when(kt::schedule_maintenance{"w1", "x", {}, timestamp{t0 - minute}, timestamp{t0}})
      .then_error(errc::invalid);
  spec().given({created()}).when(kt::schedule_maintenance{"w1", "x", {"m9"}, a, b}).then_error(errc::invalid);
  spec()
      .given({created(), maintenance_scheduled{"w1", "x", {}, a, b}})
      .when(kt::schedule_maintenance{"w1", "y", {}, a, b})
      .then_error(errc::conflict);
  spec().given({created()}).when(kt::cancel_maintenance{"w9"}).then_error(errc::not_found);
}

TEST(tenant_maintenance, forgets_windows_that_ended_when_a_new_one_is_scheduled) {
  spec t;
  t.given({created(), maintenance_scheduled{"old", "x", {}, timestamp{t0 - 2 * minute}, timestamp{t0 - minute}}});
  t.when(kt::schedule_maintenance{"new", "y", {}, timestamp{t0 + 5 * minute}, timestamp{t0 + 9 * minute}})
      .then({maintenance_scheduled{"new", "y", {}, timestamp{t0 + 5 * minute}, timestamp{t0 + 9 * minute}}});
  EXPECT_EQ(t.state().maintenance.count("old"), 0u);
  EXPECT_EQ(t.state().maintenance.count("new"), 1u);
}

// ---------------------------------------------------------------- monitors

TEST(tenant_create_monitor, creates_a_monitor_in_the_tenants_stream) {
  spec t;
  t.given({created()}).when(kt::create_monitor{"m1", http_config()}).then({monitor_created{"m1", http_config()}});
  EXPECT_EQ(t.state().monitors.count("m1"), 1u);
  EXPECT_EQ(t.state().version, 2);  // monitor_created is in the tenant's stream
}

TEST(tenant_create_monitor, enforces_the_plans_monitor_limit) {
  // small allows 2: one below the limit is accepted, at the limit rejected.
  spec t;
  t.given({created(), a_monitor("m1")}).when(kt::create_monitor{"m2", http_config()})
      .then({monitor_created{"m2", http_config()}});
  t.when(kt::create_monitor{"m3", http_config()}).then_error(errc::quota_exceeded);
  // deleting one frees its slot
  t.when(kt::delete_monitor{"m1"}).then({monitor_deleted{"m1"}});
  t.when(kt::create_monitor{"m3", http_config()}).then({monitor_created{"m3", http_config()}});
}

TEST(tenant_create_monitor, rejects_an_interval_below_the_plans_minimum) {
  spec().given({created()}).when(kt::create_monitor{"m1", http_config(299)}).then_error(errc::invalid);
  spec().given({created()}).when(kt::create_monitor{"m1", http_config(300)})
      .then({monitor_created{"m1", http_config(300)}});
}

TEST(tenant_create_monitor, rejects_a_duplicate_id_and_unknown_channels) {
  spec().given({created(), a_monitor("m1")}).when(kt::create_monitor{"m1", http_config()}).then_error(errc::conflict);
  spec().given({created()}).when(kt::create_monitor{"", http_config()}).then_error(errc::invalid);
  auto c = http_config();
  c.channel_ids = {"c1"};
  spec().given({created()}).when(kt::create_monitor{"m1", c}).then_error(errc::invalid);
  spec()
      .given({created(), channel_created{"c1", "ops", "webhook", "https://h.test/", ""}})
      .when(kt::create_monitor{"m1", c})
      .then({monitor_created{"m1", c}});
}

struct config_case {
  const char* what;
  monitor_config config;
  bool valid;
};

monitor_config with(monitor_config c, void (*f)(monitor_config&)) {
  f(c);
  return c;
}

class tenant_monitor_config : public ::testing::TestWithParam<config_case> {};

TEST_P(tenant_monitor_config, is_validated_by_kind) {
  const auto& p = GetParam();
  spec t(test_plans());
  t.given({created("pro")}).when(kt::create_monitor{"m1", p.config});
  if (p.valid) t.then({monitor_created{"m1", p.config}});
  else t.then_error(errc::invalid);
}

const monitor_config base = http_config(60);

INSTANTIATE_TEST_SUITE_P(
    cases, tenant_monitor_config,
    ::testing::Values(
        config_case{"http ok", base, true},
        config_case{"http without url", with(base, [](auto& c) { c.url = ""; }), false},
        config_case{"http ftp url", with(base, [](auto& c) { c.url = "ftp://a.test/"; }), false},
        config_case{"empty name", with(base, [](auto& c) { c.name = ""; }), false},
        config_case{"keyword ok", with(base, [](auto& c) { c.kind = monitor_kind::keyword; c.keyword = "OK"; }), true},
        config_case{"keyword missing", with(base, [](auto& c) { c.kind = monitor_kind::keyword; }), false},
        config_case{"tcp ok", with(base, [](auto& c) { c.kind = monitor_kind::tcp; c.url = ""; c.host = "db.acme.test"; c.port = 5432; }), true},
        config_case{"tcp no host", with(base, [](auto& c) { c.kind = monitor_kind::tcp; c.port = 5432; }), false},
        config_case{"tcp port 0", with(base, [](auto& c) { c.kind = monitor_kind::tcp; c.host = "h"; c.port = 0; }), false},
        config_case{"tcp port 65536", with(base, [](auto& c) { c.kind = monitor_kind::tcp; c.host = "h"; c.port = 65536; }), false},
        config_case{"tcp port 65535", with(base, [](auto& c) { c.kind = monitor_kind::tcp; c.host = "h"; c.port = 65535; }), true},
        config_case{"push ok", with(base, [](auto& c) { c.kind = monitor_kind::push; c.url = ""; c.push_token_hash = sha256_hex("", "tok123"); }), true},
        config_case{"push with a token in clear", with(base, [](auto& c) { c.kind = monitor_kind::push; c.url = ""; c.push_token_hash = "tok123"; }), false},
        config_case{"push no token", with(base, [](auto& c) { c.kind = monitor_kind::push; }), false},
        config_case{"timeout 0", with(base, [](auto& c) { c.timeout_ms = 0; }), false},
        config_case{"timeout 120001", with(base, [](auto& c) { c.interval_s = 600; c.timeout_ms = 120001; }), false},
        config_case{"timeout 120000", with(base, [](auto& c) { c.interval_s = 600; c.timeout_ms = 120000; }), true},
        config_case{"timeout = interval", with(base, [](auto& c) { c.timeout_ms = 60000; }), false},
        config_case{"retries -1", with(base, [](auto& c) { c.retries = -1; }), false},
        config_case{"retries 10", with(base, [](auto& c) { c.retries = 10; }), true},
        config_case{"retries 11", with(base, [](auto& c) { c.retries = 11; }), false},
        config_case{"status 99", with(base, [](auto& c) { c.accepted_status = {{99, 299}}; }), false},
        config_case{"status 600", with(base, [](auto& c) { c.accepted_status = {{200, 600}}; }), false},
        config_case{"status low > high", with(base, [](auto& c) { c.accepted_status = {{300, 200}}; }), false},
        config_case{"status none", with(base, [](auto& c) { c.accepted_status.clear(); }), false},
        config_case{"status two ranges", with(base, [](auto& c) { c.accepted_status = {{200, 299}, {401, 401}}; }), true},
        config_case{"redirects 20", with(base, [](auto& c) { c.max_redirects = 20; }), true},
        config_case{"redirects 21", with(base, [](auto& c) { c.max_redirects = 21; }), false},
        config_case{"redirects -1", with(base, [](auto& c) { c.max_redirects = -1; }), false}),
    [](const auto& info) {
      std::string n = info.param.what;
      for (char& ch : n) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST(tenant_delete_monitor, rejects_an_unknown_monitor) {
  spec().given({created()}).when(kt::delete_monitor{"m9"}).then_error(errc::not_found);
}

// ---------------------------------------------------------------- metering

actor_ref platform() { return actor_ref{"system", "keepwatch", ""}; }

TEST(tenant_record_api_calls, records_the_days_calls_and_changes_only_the_version) {
  spec t;
  t.given({created(), a_monitor("m1")});
  auto before = t.state();
  t.when(kt::record_api_calls{"2026-11-24", 17}, platform())
      .then({api_calls_recorded{"2026-11-24", 17}});
  EXPECT_EQ(t.state().version, before.version + 1);
  EXPECT_TRUE(kt::seen(t.state(), t.last_command().meta.command_id));
  // Nothing else of the tenant moved.
  auto after = t.state();
  after.version = before.version;
  after.recent = before.recent;
  EXPECT_EQ(after, before);
  // Each flush is a delta: the same day again is another event.
  t.when(kt::record_api_calls{"2026-11-24", 3}, platform()).then({api_calls_recorded{"2026-11-24", 3}});
  t.when(kt::record_api_calls{"2026-11-25", 1'000'000'000}, actor_ref{"operator", "ops", ""})
      .then({api_calls_recorded{"2026-11-25", 1'000'000'000}});
  EXPECT_TRUE(kt::in_tenant_stream(api_calls_recorded{"2026-11-25", 1}));
}

TEST(tenant_record_api_calls, is_for_the_platform_only) {
  spec t;
  t.given({created(), api_key_created{"k1", "ci", hash_a, "read_write"}});
  t.when(kt::record_api_calls{"2026-11-24", 5}, user("u-owner")).then_error(errc::forbidden);
  t.when(kt::record_api_calls{"2026-11-24", 5}, user("u-stranger")).then_error(errc::forbidden);
  t.when(kt::record_api_calls{"2026-11-24", 5}, key("k1")).then_error(errc::forbidden);
  EXPECT_EQ(t.state().version, 2);
}

TEST(tenant_record_api_calls, rejects_a_bad_day) {
  for (const char* day : {"", "2026-11-2", "2026-1-24", "2026/11/24", "24-11-2026", "2026-02-30",
                          "2025-02-29", "2026-13-01", "2026-11-00", "2026-11-24T00:00:00Z",
                          " 2026-11-24", "2026-11-24 ", "2026-11-ab"}) {
    SCOPED_TRACE(day);
    spec().given({created()}).when(kt::record_api_calls{day, 5}, platform()).then_error(errc::invalid);
  }
  spec().given({created()}).when(kt::record_api_calls{"2024-02-29", 5}, platform())
      .then({api_calls_recorded{"2024-02-29", 5}});
}

TEST(tenant_record_api_calls, rejects_a_count_out_of_range) {
  for (std::int64_t calls : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1'000'000'001},
                             std::numeric_limits<std::int64_t>::min(),
                             std::numeric_limits<std::int64_t>::max()}) {
    SCOPED_TRACE(calls);
    spec().given({created()}).when(kt::record_api_calls{"2026-11-24", calls}, platform())
        .then_error(errc::invalid);
  }
  spec().given({created()}).when(kt::record_api_calls{"2026-11-24", 1}, platform())
      .then({api_calls_recorded{"2026-11-24", 1}});
}

TEST(tenant_record_api_calls, counts_a_suspended_tenant_but_not_a_deleted_or_unknown_one) {
  spec().given({created(), tenant_suspended{"unpaid"}})
      .when(kt::record_api_calls{"2026-11-24", 9}, platform())
      .then({api_calls_recorded{"2026-11-24", 9}});
  spec().given({created(), tenant_deleted{}})
      .when(kt::record_api_calls{"2026-11-24", 9}, platform())
      .then_error(errc::not_found);
  spec().when(kt::record_api_calls{"2026-11-24", 9}, platform()).then_error(errc::not_found);
}

TEST(tenant_record_api_calls, a_retried_flush_appends_nothing) {
  spec t;
  t.given({created()});
  kt::command c{command_meta{}, kt::record_api_calls{"2026-11-24", 40}};
  c.meta.command_id = "flush-acme-2026-11-24-1";
  c.meta.actor = platform();
  t.when(c).then({api_calls_recorded{"2026-11-24", 40}});
  const auto version = t.state().version;
  t.when(c).then({});  // the same flush again: counted once
  EXPECT_EQ(t.state().version, version);
  c.meta.command_id = "flush-acme-2026-11-24-2";  // the next flush is new
  t.when(c).then({api_calls_recorded{"2026-11-24", 40}});
}

TEST(tenant_record_api_calls, honours_the_expected_version) {
  spec t;
  t.given({created()});
  kt::command c{command_meta{}, kt::record_api_calls{"2026-11-24", 2}};
  c.meta.actor = platform();
  c.meta.expected_version = 0;
  t.when(c).then_error(errc::conflict);
  c.meta.expected_version = 1;
  t.when(c).then({api_calls_recorded{"2026-11-24", 2}});
}

// ---------------------------------------------------------------- idempotency, versions

TEST(tenant_idempotency, a_retried_command_appends_nothing) {
  spec t;
  t.given({created()});
  kt::command c{command_meta{}, kt::create_monitor{"m1", http_config()}};
  c.meta.command_id = "req-42";
  t.when(c).then({monitor_created{"m1", http_config()}});
  EXPECT_TRUE(kt::seen(t.state(), "req-42"));
  t.when(c).then({});  // same id: success, no events
  c.meta.command_id = "req-43";  // a new id is a new command
  t.when(c).then_error(errc::conflict);
}

TEST(tenant_idempotency, remembers_only_the_recent_window) {
  spec t;
  t.given({created("pro")});
  kt::command first{command_meta{}, kt::rename_tenant{"Name 0"}};
  first.meta.command_id = "first";
  t.when(first).then({tenant_renamed{"Name 0"}});
  for (std::size_t i = 1; i <= kt::recent_commands; ++i)
    t.when(kt::rename_tenant{"Name " + std::to_string(i)})
        .then({tenant_renamed{"Name " + std::to_string(i)}});
  EXPECT_FALSE(kt::seen(t.state(), "first"));
  EXPECT_EQ(t.state().recent.size(), kt::recent_commands);
}

TEST(tenant_expected_version, rejects_a_stale_version) {
  spec t;
  t.given({created(), tenant_renamed{"B"}});  // version 2
  kt::command c{command_meta{}, kt::rename_tenant{"C"}};
  c.meta.expected_version = 1;
  t.when(c).then_error(errc::conflict);
  c.meta.expected_version = 2;
  t.when(c).then({tenant_renamed{"C"}});
}

// ---------------------------------------------------------------- restart

TEST(tenant_restart, keeps_its_state_through_a_snapshot) {
  spec t;
  t.given({created("pro"), member_added{"u2", "b@acme.test", "admin"},
           api_key_created{"k1", "ci", hash_a, "read_write"}, api_key_revoked{"k1"},
           channel_created{"c1", "ops", "webhook", "https://h.test/", "enc:1"}, a_monitor("m1"),
           a_monitor("m2"), status_page_created{"p1", "acme", "Acme", {"m1", "m2"}},
           maintenance_scheduled{"w1", "x", {"m1"}, timestamp{t0}, timestamp{t0 + minute}},
           tenant_suspended{"unpaid"}});
  auto text = kt::encode_state(t.state());
  auto back = kt::decode_state(text);
  ASSERT_TRUE(back.ok()) << back.err().message;
  EXPECT_EQ(*back, t.state());
  EXPECT_EQ(kt::encode_state(*back), text);
  // the idempotency window survives too
  EXPECT_TRUE(kt::seen(*back, "given-3"));
}

TEST(tenant_restart, rejects_a_corrupt_snapshot) {
  EXPECT_EQ(kt::decode_state("not json").err().code, errc::decode);
  EXPECT_EQ(kt::decode_state("{}").err().code, errc::decode);
  spec t;
  t.given({created()});
  auto j = kt::encode_state(t.state());
  auto pos = j.find("\"owner\"");
  ASSERT_NE(pos, std::string::npos);
  EXPECT_EQ(kt::decode_state(j.replace(pos, 7, "\"king\"")).err().code, errc::decode);
  EXPECT_EQ(kt::decode_state(R"({"v":2})").err().code, errc::decode);
}

TEST(tenant_streams, monitor_lifecycle_events_go_to_the_monitors_stream) {
  EXPECT_TRUE(kt::in_tenant_stream(created()));
  EXPECT_TRUE(kt::in_tenant_stream(maintenance_cancelled{"w"}));
  EXPECT_TRUE(kt::in_tenant_stream(a_monitor("m1")));
  EXPECT_TRUE(kt::in_tenant_stream(monitor_deleted{"m1"}));
  EXPECT_FALSE(kt::in_tenant_stream(check_completed{}));
}

TEST(tenant_evolve, ignores_the_monitors_own_events) {
  spec t;
  t.given({created(), a_monitor("m1")});
  auto before = t.state();
  event e{envelope{}, monitor_paused{}};
  e.meta.causation_id = "x";
  EXPECT_EQ(kt::evolve(t.state(), e), before);
}

}  // namespace

// ---------------------------------------------------------------- tree heads

kt::record_tree_head a_head(std::int64_t size = 3) {
  return kt::record_tree_head{size, std::string(64, 'a'), std::string(16, 'b'), std::string(128, 'c'),
                              timestamp{1'780'000'000'000'000}};
}

TEST(tenant_record_tree_head, records_the_head_for_the_platform_only_and_changes_only_the_version) {
  spec t;
  t.given({created(), api_key_created{"k1", "ci", hash_a, "read_write"}});
  auto before = t.state();
  t.when(a_head(), user("u-owner")).then_error(errc::forbidden);
  t.when(a_head(), key("k1")).then_error(errc::forbidden);
  auto h = a_head();
  t.when(h, platform())
      .then({tree_head_signed{h.tree_size, h.root, h.signed_at, h.key_id, h.signature}});
  EXPECT_EQ(t.state().version, before.version + 1);
  auto after = t.state();
  after.version = before.version;
  after.recent = before.recent;
  EXPECT_EQ(after, before);
  EXPECT_TRUE(kt::in_tenant_stream(tree_head_signed{}));
}

TEST(tenant_record_tree_head, vouches_for_suspended_and_deleted_tenants_but_not_unknown_ones) {
  auto h = a_head();
  const tree_head_signed e{h.tree_size, h.root, h.signed_at, h.key_id, h.signature};
  spec().given({created(), tenant_suspended{"unpaid"}}).when(h, platform()).then({e});
  spec().given({created(), tenant_deleted{}}).when(h, platform()).then({e});
  spec().when(h, platform()).then_error(errc::not_found);
  // A deleted tenant still takes nothing else.
  spec().given({created(), tenant_deleted{}}).when(kt::record_api_calls{"2026-11-24", 9}, platform())
      .then_error(errc::not_found);
}

TEST(tenant_record_tree_head, rejects_a_malformed_head) {
  auto bad = [](auto change) {
    auto h = a_head();
    change(h);
    spec().given({created()}).when(h, platform()).then_error(errc::invalid);
  };
  bad([](auto& h) { h.tree_size = 0; });
  bad([](auto& h) { h.root = std::string(63, 'a'); });
  bad([](auto& h) { h.root = std::string(64, 'A'); });
  bad([](auto& h) { h.key_id = "xyz"; });
  bad([](auto& h) { h.signature = std::string(127, 'c'); });
}
