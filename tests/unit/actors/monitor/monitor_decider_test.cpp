// The Monitor decider, specified as given(events).when(command).then(events).
//
// Events are compared through the canonical codec (kw::encode), so a failing
// test prints both sides as readable JSON. The spec stamps events as the
// shell does: time = command time, causation = command id, check results
// numbered by their own per-monitor seq.
#include "actors/monitor/monitor_decider.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "events/codec.hpp"

namespace {

using namespace kw;
namespace km = kw::monitor;

constexpr std::int64_t t0 = 1'800'000'000'000'000;  // µs since the epoch
constexpr std::int64_t minute = 60'000'000;

// ---------------------------------------------------------------- the spec

std::vector<std::string> encoded(const std::vector<event_data>& evs) {
  std::vector<std::string> out;
  for (const auto& d : evs) out.push_back(encode(event{envelope{}, d}));
  return out;
}

class spec {
public:
  spec& given(const std::vector<event_data>& evs) {
    for (const auto& d : evs) apply(d, "given-" + std::to_string(++given_), timestamp{t0});
    return *this;
  }

  // Commands are one minute apart unless they say otherwise.
  spec& when(km::command c) {
    cmd_ = std::move(c);
    if (cmd_.meta.command_id.empty()) cmd_.meta.command_id = "cmd-" + std::to_string(++cmds_);
    if (cmd_.meta.time.get() == 0) cmd_.meta.time = timestamp{t0 + minute * ++clock_};
    out_.emplace(km::decide(s_, cmd_));
    return *this;
  }
  spec& when(km::body b, km::context ctx = {}) {
    return when(km::command{command_meta{}, ctx, std::move(b)});
  }

  spec& then(const std::vector<event_data>& expected) {
    EXPECT_TRUE(out_->ok()) << "rejected: " << to_string(out_->err().code) << ": "
                            << out_->err().message;
    if (!out_->ok()) return *this;
    EXPECT_EQ(encoded(out_->value()), encoded(expected));
    for (const auto& d : out_->value()) apply(d, cmd_.meta.command_id, cmd_.meta.time);
    return *this;
  }

  spec& then_error(errc code) {
    EXPECT_FALSE(out_->ok()) << "accepted with " << out_->value().size() << " events";
    if (out_->ok()) return *this;
    EXPECT_EQ(out_->err().code, code) << out_->err().message;
    return *this;
  }

  const km::state& state() const { return s_; }
  timestamp last_time() const { return cmd_.meta.time; }

private:
  void apply(const event_data& d, const std::string& cause, timestamp at) {
    event e{envelope{}, d};
    e.meta.tenant = tenant_id{"acme"};
    e.meta.time = at;
    e.meta.seq = seq_no{is_check_result(d) ? s_.check_seq + 1 : s_.version + 1};
    e.meta.causation_id = cause;
    s_ = km::evolve(std::move(s_), e);
  }

  km::state s_ = km::initial_state();
  km::command cmd_;
  std::optional<result<std::vector<event_data>>> out_;
  int given_ = 0;
  int cmds_ = 0;
  int clock_ = 0;
};

// ---------------------------------------------------------------- fixtures

monitor_config http_config(int retries = 0) {
  monitor_config c;
  c.name = "site";
  c.url = "https://acme.test/health";
  c.interval_s = 60;
  c.retries = retries;
  return c;
}

monitor_created created(int retries = 0) { return monitor_created{"m1", http_config(retries)}; }

km::record_check ok() { return km::record_check{true, 1200, 200, "", std::nullopt, "inc-unused"}; }
km::record_check fail(std::string incident = "inc-1") {
  return km::record_check{false, 0, 503, "status 503", std::nullopt, std::move(incident)};
}

check_completed ok_done() { return check_completed{"m1", true, 1200, 200, "", std::nullopt}; }
check_completed fail_done() { return check_completed{"m1", false, 0, 503, "status 503", std::nullopt}; }

monitor_status_changed moved(monitor_status from, monitor_status to, std::string why, std::int64_t seq) {
  return monitor_status_changed{from, to, std::move(why), seq};
}

constexpr auto pending = monitor_status::pending;
constexpr auto up = monitor_status::up;
constexpr auto down = monitor_status::down;
constexpr auto maint = monitor_status::maintenance;

km::context in_maintenance() {
  km::context c;
  c.in_maintenance = true;
  return c;
}

// ---------------------------------------------------------------- existence

TEST(monitor_existence, an_unknown_monitor_is_not_found) {
  spec().when(ok()).then_error(errc::not_found);
  spec().when(km::pause_monitor{}).then_error(errc::not_found);
}

TEST(monitor_existence, a_deleted_monitor_is_not_found) {
  spec t;
  t.given({created(), monitor_deleted{"m1"}});
  t.when(ok()).then_error(errc::not_found);
  t.when(km::update_monitor{http_config()}).then_error(errc::not_found);
  t.when(km::resume_monitor{}).then_error(errc::not_found);
}

TEST(monitor_suspended_tenant, rejects_every_command) {
  km::context suspended;
  suspended.tenant_suspended = true;
  spec t;
  t.given({created()});
  t.when(ok(), suspended).then_error(errc::suspended);
  t.when(km::pause_monitor{}, suspended).then_error(errc::suspended);
  t.when(km::update_monitor{http_config()}, suspended).then_error(errc::suspended);
  t.when(km::record_delivery{"c1", "inc-1", "down", 1, 200, true, ""}, suspended)
      .then_error(errc::suspended);
  t.given({monitor_paused{}});
  t.when(km::resume_monitor{}, suspended).then_error(errc::suspended);
}

// ---------------------------------------------------------------- update

TEST(monitor_update, replaces_the_configuration_including_the_kind) {
  auto tcp = http_config();
  tcp.kind = monitor_kind::tcp;
  tcp.url.clear();
  tcp.host = "db.acme.test";
  tcp.port = 5432;
  spec t;
  t.given({created()}).when(km::update_monitor{tcp}).then({monitor_updated{tcp}});
  EXPECT_EQ(t.state().config, tcp);
}

TEST(monitor_update, rejects_an_interval_below_the_plans_minimum) {
  km::context plan;
  plan.min_interval_s = 300;
  spec().given({created()}).when(km::update_monitor{http_config()}, plan).then_error(errc::invalid);
  auto slow = http_config();
  slow.interval_s = 300;
  spec().given({created()}).when(km::update_monitor{slow}, plan).then({monitor_updated{slow}});
}

TEST(monitor_update, links_only_channels_of_its_own_tenant) {
  km::context tenant;
  tenant.has_channel = [](const std::string& id) { return id == "c_mine"; };
  auto linked = http_config();
  linked.channel_ids = {"c_old"};  // linked when made; deleted from the tenant since
  auto mine = linked;
  mine.channel_ids = {"c_old", "c_mine"};
  spec().given({monitor_created{"m1", linked}}).when(km::update_monitor{mine}, tenant).then({monitor_updated{mine}});
  auto other = linked;
  other.channel_ids = {"c_old", "c_of_another_tenant"};
  spec().given({monitor_created{"m1", linked}}).when(km::update_monitor{other}, tenant).then_error(errc::invalid);
}

TEST(monitor_update, rejects_an_invalid_configuration) {
  auto bad = http_config();
  bad.url = "acme.test";
  spec().given({created()}).when(km::update_monitor{bad}).then_error(errc::invalid);
  bad = http_config();
  bad.retries = 11;
  spec().given({created()}).when(km::update_monitor{bad}).then_error(errc::invalid);
}

// ---------------------------------------------------------------- pause, resume

TEST(monitor_pause, pauses_and_resumes) {
  spec t;
  t.given({created()}).when(km::pause_monitor{}).then({monitor_paused{}});
  EXPECT_FALSE(t.state().active);
  t.when(km::pause_monitor{}).then_error(errc::conflict);
  t.when(ok()).then_error(errc::conflict);  // a paused monitor records no checks
  t.when(km::resume_monitor{}).then({monitor_resumed{}});
  EXPECT_TRUE(t.state().active);
  t.when(km::resume_monitor{}).then_error(errc::conflict);
}

// ---------------------------------------------------------------- the status machine

TEST(monitor_check, a_first_success_moves_pending_to_up) {
  spec t;
  t.given({created()}).when(ok()).then({ok_done(), moved(pending, up, "check succeeded", 1)});
  t.when(ok()).then({ok_done()});  // nothing moves while up
  EXPECT_EQ(t.state().status, up);
  EXPECT_EQ(t.state().check_seq, 2);
  EXPECT_EQ(t.state().last_check_at, t.last_time());
}

TEST(monitor_check, without_retries_the_first_failure_is_down_and_opens_an_incident) {
  spec t;
  t.given({created(0)}).when(ok()).then({ok_done(), moved(pending, up, "check succeeded", 1)});
  t.when(fail("inc-7")).then({fail_done(), moved(up, down, "status 503", 2),
                              incident_opened{"inc-7", "status 503"}});
  EXPECT_EQ(t.state().status, down);
  ASSERT_TRUE(t.state().incident);
  EXPECT_EQ(t.state().incident->id, "inc-7");
  t.when(fail("inc-8")).then({fail_done()});  // still down: no second incident
}

TEST(monitor_check, with_two_retries_goes_down_on_the_third_consecutive_failure) {
  spec t;
  t.given({created(2)}).when(ok()).then({ok_done(), moved(pending, up, "check succeeded", 1)});
  t.when(fail()).then({fail_done()});
  t.when(fail()).then({fail_done()});
  EXPECT_EQ(t.state().status, up);
  EXPECT_EQ(t.state().consecutive_failures, 2);
  t.when(fail("inc-3")).then({fail_done(), moved(up, down, "status 503", 4),
                              incident_opened{"inc-3", "status 503"}});
}

TEST(monitor_check, a_success_resets_the_failure_count) {
  spec t;
  t.given({created(1)});
  t.when(fail()).then({fail_done()});
  t.when(ok()).then({ok_done(), moved(pending, up, "check succeeded", 2)});
  t.when(fail()).then({fail_done()});
  EXPECT_EQ(t.state().status, up);
  t.when(fail("inc-2")).then({fail_done(), moved(up, down, "status 503", 4),
                              incident_opened{"inc-2", "status 503"}});
}

TEST(monitor_check, failing_from_the_start_goes_from_pending_to_down) {
  spec().given({created(0)}).when(fail("inc-1"))
      .then({fail_done(), moved(pending, down, "status 503", 1), incident_opened{"inc-1", "status 503"}});
}

TEST(monitor_check, recovery_closes_the_incident_with_its_duration) {
  spec t;
  t.given({created(0)});
  t.when(fail("inc-1")).then({fail_done(), moved(pending, down, "status 503", 1),
                              incident_opened{"inc-1", "status 503"}});
  const timestamp opened = t.last_time();
  EXPECT_EQ(t.state().incident->opened_at, opened);
  km::command back{command_meta{}, {}, ok()};
  back.meta.time = timestamp{opened.get() + 5 * minute + 250'000};  // 5 min 250 ms later
  t.when(back).then({ok_done(), moved(down, up, "check succeeded", 2),
                     incident_closed{"inc-1", opened, 300'250}});
  EXPECT_FALSE(t.state().incident);
  EXPECT_EQ(t.state().status, up);
}

TEST(monitor_check, opening_an_incident_needs_an_incident_id) {
  spec().given({created(0)}).when(fail("")).then_error(errc::invalid);
  spec().given({created(1)}).when(fail("")).then({fail_done()});  // no incident yet
}

TEST(monitor_check, keeps_long_errors_bounded) {
  auto r = fail();
  r.error = std::string(600, 'x');
  spec t;
  t.given({created(0)});
  t.when(r);
  auto expected = fail_done();
  expected.error = std::string(km::max_error_len, 'x');
  t.then({expected, moved(pending, down, expected.error, 1), incident_opened{"inc-1", expected.error}});
}

TEST(monitor_check, rejects_impossible_results) {
  auto r = ok();
  r.http_status = 42;
  spec().given({created()}).when(r).then_error(errc::invalid);
  r = ok();
  r.latency_us = -1;
  spec().given({created()}).when(r).then_error(errc::invalid);
}

// ---------------------------------------------------------------- maintenance

TEST(monitor_maintenance, a_failure_moves_to_maintenance_without_an_incident) {
  spec t;
  t.given({created(0)}).when(ok()).then({ok_done(), moved(pending, up, "check succeeded", 1)});
  t.when(fail(), in_maintenance()).then({fail_done(), moved(up, maint, "maintenance window", 2)});
  t.when(fail(), in_maintenance()).then({fail_done()});
  t.when(fail(), in_maintenance()).then({fail_done()});
  EXPECT_EQ(t.state().status, maint);
  EXPECT_FALSE(t.state().incident);
}

TEST(monitor_maintenance, a_success_in_maintenance_is_up) {
  spec t;
  t.given({created(0)}).when(fail(), in_maintenance())
      .then({fail_done(), moved(pending, maint, "maintenance window", 1)});
  t.when(ok(), in_maintenance()).then({ok_done(), moved(maint, up, "check succeeded", 2)});
}

TEST(monitor_maintenance, leaving_it_re_evaluates_on_the_next_check) {
  // retries=0: the first failure after the window is down
  spec a;
  a.given({created(0)}).when(fail(), in_maintenance())
      .then({fail_done(), moved(pending, maint, "maintenance window", 1)});
  a.when(fail(), in_maintenance()).then({fail_done()});
  a.when(fail("inc-9")).then({fail_done(), moved(maint, down, "status 503", 3),
                              incident_opened{"inc-9", "status 503"}});

  // retries=1: failures in the window do not count; pending, then down
  spec b;
  b.given({created(1)}).when(fail(), in_maintenance())
      .then({fail_done(), moved(pending, maint, "maintenance window", 1)});
  b.when(fail(), in_maintenance()).then({fail_done()});
  b.when(fail()).then({fail_done(), moved(maint, pending, "maintenance window ended", 3)});
  b.when(fail("inc-4")).then({fail_done(), moved(pending, down, "status 503", 4),
                              incident_opened{"inc-4", "status 503"}});

  // ok after the window: up
  spec c;
  c.given({created(0)}).when(fail(), in_maintenance())
      .then({fail_done(), moved(pending, maint, "maintenance window", 1)});
  c.when(ok()).then({ok_done(), moved(maint, up, "check succeeded", 2)});
}

TEST(monitor_maintenance, an_incident_open_before_the_window_closes_on_recovery) {
  spec t;
  t.given({created(0)});
  t.when(fail("inc-1")).then({fail_done(), moved(pending, down, "status 503", 1),
                              incident_opened{"inc-1", "status 503"}});
  const timestamp opened = t.last_time();
  t.when(fail("inc-2"), in_maintenance()).then({fail_done(), moved(down, maint, "maintenance window", 2)});
  ASSERT_TRUE(t.state().incident);
  t.when(fail("inc-3")).then({fail_done(), moved(maint, down, "status 503", 3)});  // same incident
  t.when(ok()).then({ok_done(), moved(down, up, "check succeeded", 4),
                     incident_closed{"inc-1", opened, 3 * 60'000}});
}

// ---------------------------------------------------------------- deliveries

TEST(monitor_delivery, records_a_delivery_or_a_failure) {
  spec t;
  t.given({created()});
  t.when(km::record_delivery{"c1", "inc-1", "down", 1, 204, true, ""})
      .then({notification_delivered{"c1", "inc-1", "down", 1, 204}});
  t.when(km::record_delivery{"c1", "inc-1", "up", 5, 500, false, "status 500"})
      .then({notification_failed{"c1", "inc-1", "up", 5, "status 500"}});
  t.given({monitor_paused{}});  // an in-flight delivery still lands on a paused monitor
  t.when(km::record_delivery{"c1", "inc-1", "up", 1, 200, true, ""})
      .then({notification_delivered{"c1", "inc-1", "up", 1, 200}});
}

TEST(monitor_delivery, rejects_bad_deliveries) {
  spec().given({created()}).when(km::record_delivery{"c1", "inc-1", "sideways", 1, 200, true, ""})
      .then_error(errc::invalid);
  spec().given({created()}).when(km::record_delivery{"c1", "inc-1", "down", 0, 200, true, ""})
      .then_error(errc::invalid);
  spec().given({created()}).when(km::record_delivery{"", "inc-1", "down", 1, 200, true, ""})
      .then_error(errc::invalid);
  spec().given({created()}).when(km::record_delivery{"c1", "inc-1", "down", -1, 0, false, "x"})
      .then_error(errc::invalid);
}

// What the log says is owed: a transition without an outcome per channel.
TEST(monitor_delivery, a_transition_is_owed_to_each_channel_until_it_has_an_outcome) {
  auto cfg = http_config(0);
  cfg.channel_ids = {"c1", "c2"};
  spec t;
  t.given({monitor_created{"m1", cfg}});
  t.when(fail("inc-1")).then({fail_done(), moved(pending, down, "status 503", 1),
                              incident_opened{"inc-1", "status 503"}});
  const timestamp opened = t.last_time();
  ASSERT_EQ(t.state().owed.size(), 1u);
  EXPECT_EQ(t.state().owed[0], (km::owed_notification{"inc-1", "down", "status 503", "site", opened, {"c1", "c2"}}));
  t.when(km::record_delivery{"c1", "inc-1", "down", 2, 200, true, ""})
      .then({notification_delivered{"c1", "inc-1", "down", 2, 200}});
  ASSERT_EQ(t.state().owed.size(), 1u);
  EXPECT_EQ(t.state().owed[0].channel_ids, std::vector<std::string>{"c2"});
  t.when(ok()).then({ok_done(), moved(down, up, "check succeeded", 2), incident_closed{"inc-1", opened, 2 * 60'000}});
  ASSERT_EQ(t.state().owed.size(), 2u);
  EXPECT_EQ(t.state().owed[1].transition, "up");
  EXPECT_EQ(t.state().owed[1].reason, "");
  // Given up without an attempt (a channel that is gone, too old): attempts 0.
  t.when(km::record_delivery{"c2", "inc-1", "down", 0, 0, false, "channel c2 no longer exists"})
      .then({notification_failed{"c2", "inc-1", "down", 0, "channel c2 no longer exists"}});
  t.when(km::record_delivery{"c1", "inc-1", "up", 1, 204, true, ""})
      .then({notification_delivered{"c1", "inc-1", "up", 1, 204}});
  ASSERT_EQ(t.state().owed.size(), 1u);
  EXPECT_EQ(t.state().owed[0].channel_ids, std::vector<std::string>{"c2"});
  // A snapshot owes what the events owe.
  auto back = km::decode_state(km::encode_state(t.state()));
  ASSERT_TRUE(back.ok()) << back.err().message;
  EXPECT_EQ(*back, t.state());
  EXPECT_EQ(back->owed, t.state().owed);
  t.when(km::record_delivery{"c2", "inc-1", "up", 20, 500, false, "status 500"})
      .then({notification_failed{"c2", "inc-1", "up", 20, "status 500"}});
  EXPECT_TRUE(t.state().owed.empty());
}

TEST(monitor_delivery, nothing_is_owed_without_channels_or_after_deletion) {
  spec t;
  t.given({created()});
  t.when(fail("inc-1")).then({fail_done(), moved(pending, down, "status 503", 1),
                              incident_opened{"inc-1", "status 503"}});
  EXPECT_TRUE(t.state().owed.empty());

  auto cfg = http_config(0);
  cfg.channel_ids = {"c1"};
  spec d;
  d.given({monitor_created{"m1", cfg}});
  d.when(fail("inc-1")).then({fail_done(), moved(pending, down, "status 503", 1),
                              incident_opened{"inc-1", "status 503"}});
  EXPECT_EQ(d.state().owed.size(), 1u);
  d.given({monitor_deleted{"m1"}});
  EXPECT_TRUE(d.state().owed.empty());
}

TEST(monitor_delivery, an_older_snapshot_is_not_read_as_owing_nothing) {
  spec t;
  t.given({created()});
  auto j = km::encode_state(t.state());
  auto pos = j.find("\"v\":5");
  ASSERT_NE(pos, std::string::npos);
  EXPECT_EQ(km::decode_state(j.replace(pos, 5, "\"v\":4")).err().code, errc::decode);  // recovery replays the log
}

// ---------------------------------------------------------------- idempotency, versions

TEST(monitor_idempotency, a_retried_command_appends_nothing) {
  spec t;
  t.given({created(0)});
  km::command c{command_meta{}, {}, fail("inc-1")};
  c.meta.command_id = "probe-17";
  t.when(c).then({fail_done(), moved(pending, down, "status 503", 1), incident_opened{"inc-1", "status 503"}});
  ASSERT_TRUE(km::seen(t.state(), "probe-17"));
  EXPECT_EQ(t.state().recent.find("probe-17")->events, 3);
  t.when(c).then({});
  EXPECT_EQ(t.state().check_seq, 1);
}

TEST(monitor_idempotency, the_window_is_bounded) {
  spec t;
  t.given({created()});
  km::command first{command_meta{}, {}, ok()};
  first.meta.command_id = "first";
  t.when(first).then({ok_done(), moved(pending, up, "check succeeded", 1)});
  for (std::size_t i = 0; i < km::recent_commands; ++i) t.when(ok()).then({ok_done()});
  EXPECT_FALSE(km::seen(t.state(), "first"));
}

TEST(monitor_version, counts_domain_events_but_not_checks) {
  spec t;
  t.given({created()});
  EXPECT_EQ(t.state().version, 0);  // monitor_created is in the tenant's stream
  t.when(ok()).then({ok_done(), moved(pending, up, "check succeeded", 1)});
  t.when(ok()).then({ok_done()});
  EXPECT_EQ(t.state().version, 1);
  EXPECT_EQ(t.state().check_seq, 2);
}

TEST(monitor_expected_version, rejects_a_stale_version) {
  spec t;
  t.given({created(), monitor_paused{}});  // version 1
  km::command c{command_meta{}, {}, km::resume_monitor{}};
  c.meta.expected_version = 0;
  t.when(c).then_error(errc::conflict);
  c.meta.expected_version = 1;
  t.when(c).then({monitor_resumed{}});
}

// ---------------------------------------------------------------- restart

TEST(monitor_restart, keeps_its_state_through_a_snapshot) {
  auto cfg = http_config(3);
  cfg.tags = {"prod", "eu"};
  cfg.channel_ids = {"c1"};
  cfg.accepted_status = {{200, 299}, {401, 401}};
  spec t;
  t.given({monitor_created{"m1", cfg}});
  t.when(fail()).then({fail_done()});
  t.when(fail()).then({fail_done()});
  auto text = km::encode_state(t.state());
  auto back = km::decode_state(text);
  ASSERT_TRUE(back.ok()) << back.err().message;
  EXPECT_EQ(*back, t.state());
  EXPECT_EQ(back->consecutive_failures, 2);
  EXPECT_TRUE(km::seen(*back, "cmd-2"));

  spec d;  // with an open incident
  d.given({created(0)}).when(fail("inc-1")).then({fail_done(), moved(pending, down, "status 503", 1),
                                                  incident_opened{"inc-1", "status 503"}});
  auto back2 = km::decode_state(km::encode_state(d.state()));
  ASSERT_TRUE(back2.ok()) << back2.err().message;
  EXPECT_EQ(*back2, d.state());
}

TEST(monitor_restart, rejects_a_corrupt_snapshot) {
  EXPECT_EQ(km::decode_state("").err().code, errc::decode);
  EXPECT_EQ(km::decode_state("[]").err().code, errc::decode);
  spec t;
  t.given({created()});
  auto j = km::encode_state(t.state());
  auto pos = j.find("\"pending\"");
  ASSERT_NE(pos, std::string::npos);
  EXPECT_EQ(km::decode_state(j.replace(pos, 9, "\"sleepy\"")).err().code, errc::decode);
}

TEST(monitor_state, stays_small) {
  // An idle monitor actor is budgeted at 4 KiB; its state is most of it.
  EXPECT_LE(sizeof(km::state), 1536u);
}

}  // namespace
