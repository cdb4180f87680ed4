// Monitors checking real targets end to end: a node with its prober against
// HTTP servers and a webhook receiver the test starts on 127.0.0.1, and push
// monitors fed (or starved) by beats. Asserts what a user would see: the
// status, the incident, the check results and deliveries in the log.
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>

#include "events/hash_chain.hpp"
#include "actors/checks/test_http_server.hpp"
#include "actors/host/node_fixture.hpp"
#include "actors/checks/webhook_sender.hpp"
#include "events/codec.hpp"
#include "actors/host/shell.hpp"
#include "storage/partitioner.hpp"

#include <nlohmann/json.hpp>

namespace kw::test {
namespace {

std::vector<event> all_events(node& n, storage::topic t) {
  std::vector<event> out;
  for (int p = 0; p < n.partitions(); ++p) {
    auto recs = n.log().read(t, partition_id{p}, log_offset{0}, 1000000);
    if (!recs) continue;
    for (auto& r : *recs)
      if (auto e = decode(r.value)) out.push_back(std::move(*e));
  }
  return out;
}

template <class T>
std::vector<T> events_of(node& n) {
  std::vector<T> out;
  for (auto& e : all_events(n, storage::topic::events))
    if (auto* x = std::get_if<T>(&e.data)) out.push_back(*x);
  return out;
}

class checks_e2e : public ::testing::TestWithParam<backend> {
protected:
  temp_dir dir;
  log_env env{GetParam().name};
  std::unique_ptr<node> n;

  void SetUp() override {
    auto started = node::start(env.options(dir.path.string(), /*run_checks=*/true));
    ASSERT_TRUE(started.ok()) << started.err().message;
    n = std::move(*started);
    auto r = n->execute(tcmd(tenant::create_tenant{"Acme", "test", "u1", "owner@example.com"}),
                        tenant_id{"acme"});
    ASSERT_TRUE(r.ok()) << r.err().message;
  }
  void TearDown() override {
    if (n) n->stop();
  }
  monitor_status status(const std::string& m) {
    auto st = n->monitor_state(tenant_id{"acme"}, m);
    return st ? st->status : monitor_status::pending;
  }
};

TEST_P(checks_e2e, an_http_monitor_goes_up_then_down_opens_an_incident_and_notifies_once) {
  std::atomic<bool> healthy{true};
  test_http_server site([&](const test_request&) {
    return healthy ? test_response{200, "all good"} : test_response{503, "down for maintenance"};
  });
  std::atomic<int> hook_calls{0};
  test_http_server hook([&](const test_request&) {
    // Fails twice, then accepts.
    return ++hook_calls <= 2 ? test_response{500, "busy"} : test_response{204, ""};
  });
  ASSERT_TRUE(n->execute(tcmd(tenant::create_channel{"ch1", "ops", hook.url("/hook"),
                                                     n->seal_secret("s3cret")}),
                         tenant_id{"acme"}).ok());
  for (auto& c : events_of<channel_created>(*n))
    EXPECT_EQ(c.secret_enc.find("s3cret"), std::string::npos) << "secrets enter the log sealed";
  auto cfg = http_config(site.url("/health"), 1);
  cfg.channel_ids = {"ch1"};
  auto r = n->execute(tcmd(tenant::create_monitor{"web", cfg}), tenant_id{"acme"});
  ASSERT_TRUE(r.ok()) << r.err().message;

  ASSERT_TRUE(eventually([&] { return status("web") == monitor_status::up; }));
  healthy = false;
  ASSERT_TRUE(eventually([&] { return status("web") == monitor_status::down; }));
  auto opened = events_of<incident_opened>(*n);
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_NE(opened[0].cause.find("503"), std::string::npos) << opened[0].cause;

  ASSERT_TRUE(eventually([&] { return events_of<notification_delivered>(*n).size() == 1; }));
  auto delivered = events_of<notification_delivered>(*n);
  EXPECT_EQ(delivered[0].channel_id, "ch1");
  EXPECT_EQ(delivered[0].transition, "down");
  EXPECT_EQ(delivered[0].attempts, 3);
  EXPECT_EQ(delivered[0].incident_id, opened[0].incident_id);
  EXPECT_EQ(hook_calls.load(), 3);
  auto last = hook.requests().back();
  EXPECT_EQ(last.header("X-Keepwatch-Signature"), checks::webhook_signature("s3cret", last.body));
  EXPECT_TRUE(events_of<notification_failed>(*n).empty());

  healthy = true;
  ASSERT_TRUE(eventually([&] { return status("web") == monitor_status::up; }));
  ASSERT_TRUE(eventually([&] { return events_of<incident_closed>(*n).size() == 1; }));
  EXPECT_EQ(events_of<incident_closed>(*n)[0].incident_id, opened[0].incident_id);

  // Every check is on the checks topic with a gapless per-monitor seq.
  auto checks = all_events(*n, storage::topic::checks);
  ASSERT_GE(checks.size(), 3u);
  for (std::size_t i = 0; i < checks.size(); ++i)
    EXPECT_EQ(checks[i].meta.seq.get(), std::int64_t(i + 1));
}

// What is owed survives a stop: the log says which transition has no outcome
// yet, and the restarted node sends it, with the same body and delivery id.
TEST_P(checks_e2e, a_notification_waiting_for_a_retry_is_sent_after_a_restart) {
  auto opts = env.options(dir.path.string(), /*run_checks=*/true);
  opts.webhook_max_attempts = 20;  // retries for ~20 s: the stop finds one pending
  n->stop();
  auto restarted = node::start(opts);
  ASSERT_TRUE(restarted.ok()) << restarted.err().message;
  n = std::move(*restarted);
  std::atomic<bool> healthy{true};
  test_http_server site([&](const test_request&) {
    return healthy ? test_response{200, "all good"} : test_response{503, "down"};
  });
  std::atomic<bool> accept{false};
  test_http_server hook([&](const test_request&) {
    return accept ? test_response{204, ""} : test_response{500, "busy"};
  });
  ASSERT_TRUE(n->execute(tcmd(tenant::create_channel{"ch1", "ops", hook.url("/hook"), n->seal_secret("s3cret")}),
                         tenant_id{"acme"}).ok());
  auto cfg = http_config(site.url("/health"), 1);
  cfg.channel_ids = {"ch1"};
  ASSERT_TRUE(n->execute(tcmd(tenant::create_monitor{"web", cfg}), tenant_id{"acme"}).ok());
  ASSERT_TRUE(eventually([&] { return status("web") == monitor_status::up; }));
  healthy = false;
  ASSERT_TRUE(eventually([&] { return hook.requests().size() >= 2; }));  // failing, retried
  ASSERT_TRUE(events_of<notification_delivered>(*n).empty());
  n->stop();
  n.reset();

  const auto failed = hook.requests().front();
  accept = true;
  auto started = node::start(opts);
  ASSERT_TRUE(started.ok()) << started.err().message;
  n = std::move(*started);
  ASSERT_TRUE(eventually([&] { return events_of<notification_delivered>(*n).size() == 1; }));
  auto delivered = events_of<notification_delivered>(*n);
  EXPECT_EQ(delivered[0].transition, "down");
  EXPECT_EQ(delivered[0].incident_id, events_of<incident_opened>(*n).at(0).incident_id);
  auto last = hook.requests().back();
  EXPECT_EQ(last.body, failed.body);
  EXPECT_EQ(last.header("X-Keepwatch-Delivery"), failed.header("X-Keepwatch-Delivery"));
  EXPECT_EQ(last.header("X-Keepwatch-Delivery"), delivered[0].incident_id + ":down:ch1");
  EXPECT_EQ(last.header("X-Keepwatch-Signature"), checks::webhook_signature("s3cret", last.body));
  EXPECT_TRUE(eventually([&] {
    auto st = n->monitor_state(tenant_id{"acme"}, "web");
    return st && st->owed.empty();
  }));
}

// Owed to a channel deleted meanwhile: recorded as failed after the restart,
// saying why, and not sent.
TEST_P(checks_e2e, a_notification_owed_to_a_deleted_channel_is_recorded_failed_not_sent) {
  auto opts = env.options(dir.path.string(), /*run_checks=*/true);
  opts.webhook_max_attempts = 20;
  n->stop();
  auto restarted = node::start(opts);
  ASSERT_TRUE(restarted.ok()) << restarted.err().message;
  n = std::move(*restarted);
  test_http_server site([&](const test_request&) { return test_response{503, "down"}; });
  test_http_server hook([&](const test_request&) { return test_response{500, "busy"}; });
  ASSERT_TRUE(n->execute(tcmd(tenant::create_channel{"ch1", "ops", hook.url("/hook"), ""}), tenant_id{"acme"}).ok());
  auto cfg = http_config(site.url("/health"), 1);
  cfg.channel_ids = {"ch1"};
  ASSERT_TRUE(n->execute(tcmd(tenant::create_monitor{"web", cfg}), tenant_id{"acme"}).ok());
  ASSERT_TRUE(eventually([&] { return !hook.requests().empty(); }));  // owed, failing
  ASSERT_TRUE(n->execute(tcmd(tenant::delete_channel{"ch1"}), tenant_id{"acme"}).ok());
  n->stop();
  const auto sent = hook.requests().size();

  auto started = node::start(opts);
  ASSERT_TRUE(started.ok()) << started.err().message;
  n = std::move(*started);
  ASSERT_TRUE(eventually([&] { return events_of<notification_failed>(*n).size() == 1; }));
  auto failed = events_of<notification_failed>(*n)[0];
  EXPECT_EQ(failed.channel_id, "ch1");
  EXPECT_EQ(failed.transition, "down");
  EXPECT_EQ(failed.attempts, 0);
  EXPECT_EQ(failed.error, "channel ch1 no longer exists");
  EXPECT_TRUE(events_of<notification_delivered>(*n).empty());
  EXPECT_EQ(hook.requests().size(), sent);
  auto st = n->monitor_state(tenant_id{"acme"}, "web");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->owed.empty());
}

TEST_P(checks_e2e, a_paused_monitor_is_not_checked) {
  std::atomic<int> hits{0};
  test_http_server site([&](const test_request&) {
    ++hits;
    return test_response{200, "ok"};
  });
  ASSERT_TRUE(n->execute(tcmd(tenant::create_monitor{"web", http_config(site.url(), 1)}),
                         tenant_id{"acme"}).ok());
  ASSERT_TRUE(eventually([&] { return hits.load() >= 1; }));
  ASSERT_TRUE(n->execute(mcmd(monitor::pause_monitor{}), tenant_id{"acme"}, "web").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int after_pause = hits.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  EXPECT_EQ(hits.load(), after_pause);
}

TEST_P(checks_e2e, a_push_monitor_is_up_on_time_and_down_when_beats_stop) {
  monitor_config cfg;
  cfg.name = "cron";
  cfg.kind = monitor_kind::push;
  cfg.push_token_hash = sha256_hex("", "tok-123");
  cfg.interval_s = 1;
  cfg.timeout_ms = 500;
  cfg.grace_s = 0;
  ASSERT_TRUE(n->execute(tcmd(tenant::create_monitor{"cron", cfg}), tenant_id{"acme"}).ok());
  for (int i = 0; i < 3; ++i) {
    auto beat = n->push_beat("tok-123");
    ASSERT_TRUE(beat.ok()) << beat.err().message;
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  EXPECT_EQ(status("cron"), monitor_status::up);
  auto unknown = n->push_beat("no-such-token");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.err().code, errc::not_found);
  // No more beats: late by more than interval + grace → down.
  ASSERT_TRUE(eventually([&] { return status("cron") == monitor_status::down; }, 5));
  auto opened = events_of<incident_opened>(*n);
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_NE(opened[0].cause.find("no beat"), std::string::npos) << opened[0].cause;
}

// A push URL made by an earlier release (monitor.created.v1, the token in
// clear in the log) still takes beats after the upgrade: recovery reads the
// old record through its upcaster, and the registry matches the token's hash.
TEST_P(checks_e2e, a_push_url_made_before_v2_still_takes_beats_after_a_restart) {
  auto before = n->tenant_state(tenant_id{"acme"});
  ASSERT_TRUE(before.ok()) << before.err().message;
  monitor_config cfg;
  cfg.name = "old cron";
  cfg.kind = monitor_kind::push;
  cfg.url = "";
  cfg.interval_s = 60;
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  event e{envelope{}, monitor_created{"old-cron", cfg}};
  e.meta.id = uuid_v7(timestamp{now_us}, 7, 8);
  e.meta.source = "keepwatch/earlier-release";
  e.meta.subject = "monitor/old-cron";
  e.meta.time = timestamp{now_us};
  e.meta.tenant = tenant_id{"acme"};
  e.meta.aggregate = "tenant/acme";
  e.meta.seq = seq_no{before->version + 1};
  auto records = to_records({e});
  ASSERT_EQ(records.size(), 1u);
  auto j = nlohmann::json::parse(records[0].value);
  j["type"] = "keepwatch.monitor.created.v1";
  j["data"]["config"].erase("push_token_hash");
  j["data"]["config"].erase("push_token_sealed");
  j["data"]["config"]["push_token"] = "old-clear-token";
  records[0].value = j.dump();
  for (auto& h : records[0].headers)
    if (h.name == "ce_type") h.value = "keepwatch.monitor.created.v1";
  ASSERT_TRUE(n->log().append_sync(storage::partition_for(tenant_id{"acme"}, n->partitions()), records).ok());

  // The record went around the tenant's actor, so the snapshots the stop
  // writes claim to cover it: without them, recovery replays the whole log.
  n->stop();
  n.reset();
  std::filesystem::remove_all(dir.path / "snapshots");
  auto restarted = node::start(env.options(dir.path.string(), /*run_checks=*/true));
  ASSERT_TRUE(restarted.ok()) << restarted.err().message;
  n = std::move(*restarted);
  auto st = n->monitor_state(tenant_id{"acme"}, "old-cron");
  ASSERT_TRUE(st.ok()) << st.err().message;
  EXPECT_EQ(st->config.push_token_hash, sha256_hex("", "old-clear-token"));
  auto beat = n->push_beat("old-clear-token");
  ASSERT_TRUE(beat.ok()) << beat.err().message;
  EXPECT_EQ(status("old-cron"), monitor_status::up);
  EXPECT_FALSE(n->push_beat(sha256_hex("", "old-clear-token")).ok());
}

TEST_P(checks_e2e, a_refused_connection_takes_a_monitor_down_after_its_retries) {
  auto cfg = http_config("http://127.0.0.1:" + std::to_string(closed_port()) + "/", 1);
  cfg.retries = 1;
  ASSERT_TRUE(n->execute(tcmd(tenant::create_monitor{"gone", cfg}), tenant_id{"acme"}).ok());
  ASSERT_TRUE(eventually([&] { return status("gone") == monitor_status::down; }));
  auto st = n->monitor_state(tenant_id{"acme"}, "gone");
  ASSERT_TRUE(st.ok());
  EXPECT_GE(st->check_seq, 2) << "one retry means the second failure goes down";
  auto changes = events_of<monitor_status_changed>(*n);
  ASSERT_FALSE(changes.empty());
  EXPECT_NE(changes.back().reason.find("refused"), std::string::npos) << changes.back().reason;
}

INSTANTIATE_TEST_SUITE_P(backends, checks_e2e, ::testing::ValuesIn(all_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kw::test
