// The node as its callers see it: commands acknowledged only once durable,
// state untouched by a failing log, quotas held under concurrency, tenant
// isolation, idempotent retries, passivation, and a restart that keeps every
// tenant, monitor and status. Parameterized over log backends.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "actors/host/node_fixture.hpp"
#include "events/codec.hpp"
#include "actors/host/recovery.hpp"
#include "storage/partitioner.hpp"
#include "storage/rocks_log.hpp"

namespace kw::test {
namespace {


class node_test : public ::testing::TestWithParam<backend> {
protected:
  temp_dir dir;
  log_env env{GetParam().name};

  node_options options(const std::string& d) { return env.options(d); }

  std::unique_ptr<node> start(node_options o) {
    auto n = node::start(std::move(o));
    EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.err().message);
    return n.ok() ? std::move(*n) : nullptr;
  }
  std::unique_ptr<node> start() { return start(env.options(dir.path.string())); }

  static void create_tenant(node& n, const std::string& t, const std::string& plan = "test") {
    auto r = n.execute(tcmd(tenant::create_tenant{"Acme " + t, plan, "u1", "owner@example.com"}),
                       tenant_id{t});
    ASSERT_TRUE(r.ok()) << r.err().message;
  }
  static result<command_reply> create_monitor(node& n, const std::string& t, const std::string& m,
                                              int interval_s = 60) {
    return n.execute(tcmd(tenant::create_monitor{m, http_config("http://127.0.0.1:9/", interval_s)}),
                     tenant_id{t});
  }
};

TEST_P(node_test, a_reply_points_at_durable_events_in_the_log) {
  auto n = start();
  auto r = n->execute(tcmd(tenant::create_tenant{"Acme", "test", "u1", "owner@example.com"}),
                      tenant_id{"acme"});
  ASSERT_TRUE(r.ok()) << r.err().message;
  ASSERT_EQ(r->event_ids.size(), r->offsets.size());
  ASSERT_FALSE(r->event_ids.empty());
  auto recs = n->log().read(storage::topic::events, partition_id{r->partition},
                            log_offset{r->offsets[0]}, 1);
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 1u);
  auto e = decode(recs->front().value);
  ASSERT_TRUE(e.ok()) << e.err().message;
  EXPECT_EQ(e->meta.id, r->event_ids[0]);
  EXPECT_EQ(e->meta.tenant.get(), "acme");
  EXPECT_EQ(std::string(type_of(e->data)), "keepwatch.tenant.created.v1");
  EXPECT_FALSE(e->meta.hash.empty()) << "domain events are sealed into the tenant's chain";
  EXPECT_EQ(recs->front().key, "acme");
  std::map<std::string, std::string> headers;
  for (auto& h : recs->front().headers) headers[h.name] = h.value;
  EXPECT_EQ(headers["ce_type"], "keepwatch.tenant.created.v1");
  EXPECT_EQ(headers["ce_id"], r->event_ids[0]);
  EXPECT_EQ(headers["ce_specversion"], "1.0");
  EXPECT_EQ(headers["content-type"], "application/cloudevents+json");
}

TEST_P(node_test, a_rejected_command_appends_nothing) {
  auto n = start();
  create_tenant(*n, "acme");
  auto st = n->tenant_state(tenant_id{"acme"});
  ASSERT_TRUE(st.ok());
  std::vector<std::int64_t> before;
  for (int i = 0; i < n->partitions(); ++i)
    before.push_back(n->log().end_offset(storage::topic::events, partition_id{i})->get());
  auto r = n->execute(tcmd(tenant::create_tenant{"Again", "test", "u1", "o@example.com"}),
                      tenant_id{"acme"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::conflict);
  auto bad = n->execute(tcmd(tenant::change_plan{"no-such-plan"}), tenant_id{"acme"});
  ASSERT_FALSE(bad.ok());
  for (int i = 0; i < n->partitions(); ++i)
    EXPECT_EQ(n->log().end_offset(storage::topic::events, partition_id{i})->get(), before[std::size_t(i)]);
  auto after = n->tenant_state(tenant_id{"acme"});
  EXPECT_TRUE(after.ok() && *after == *st);
}

// Tests that fault one log in its own way.
class embedded_node_test : public node_test {};
class kafka_node_test : public node_test {};

TEST_P(embedded_node_test, a_failing_log_leaves_state_unchanged_and_the_caller_gets_an_error) {
  auto log = storage::rocks_log::open((dir.path / "log").string(), 4, nullptr);
  ASSERT_TRUE(log.ok());
  std::shared_ptr<storage::rocks_log> shared(std::move(*log));
  auto o = options(dir.path.string());
  o.log = shared;
  auto n = start(o);
  create_tenant(*n, "acme");
  auto before = n->tenant_state(tenant_id{"acme"});
  ASSERT_TRUE(before.ok());

  shared->inject_failure(true);
  auto r = n->execute(tcmd(tenant::rename_tenant{"Renamed"}), tenant_id{"acme"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::storage);
  auto m = create_monitor(*n, "acme", "m1");
  ASSERT_FALSE(m.ok());
  auto during = n->tenant_state(tenant_id{"acme"});
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(during->name, before->name);
  EXPECT_EQ(during->version, before->version);
  EXPECT_TRUE(during->monitors.empty());
  EXPECT_EQ(n->monitor_count(), 0);

  shared->inject_failure(false);
  auto ok = n->execute(tcmd(tenant::rename_tenant{"Renamed"}), tenant_id{"acme"});
  ASSERT_TRUE(ok.ok()) << ok.err().message;
  EXPECT_EQ(n->tenant_state(tenant_id{"acme"})->name, "Renamed");
}

TEST_P(kafka_node_test, an_unreachable_cluster_fails_commands_clearly_and_work_resumes) {
  auto n = start();
  create_tenant(*n, "acme");
  auto before = n->tenant_state(tenant_id{"acme"});
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(env.broker().broker_down(1).ok());
  auto r = n->execute(tcmd(tenant::rename_tenant{"Renamed"}), tenant_id{"acme"});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.err().code == errc::unavailable || r.err().code == errc::storage) << r.err().message;
  ASSERT_TRUE(env.broker().broker_up(1).ok());
  auto during = n->tenant_state(tenant_id{"acme"});
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(during->name, before->name) << "nothing half-applied";
  EXPECT_EQ(during->version, before->version);
  // The cluster is back: work resumes.
  auto ok = n->execute(tcmd(tenant::rename_tenant{"Renamed"}), tenant_id{"acme"});
  ASSERT_TRUE(ok.ok()) << ok.err().message;
  EXPECT_EQ(n->tenant_state(tenant_id{"acme"})->name, "Renamed");
  EXPECT_EQ(n->tenant_state(tenant_id{"acme"})->version, before->version + 1);
}

// A log that passes everything but append to the real one (the tests'
// wrappers below decide what an append does).
class forwarding_log : public storage::event_log {
public:
  explicit forwarding_log(std::shared_ptr<storage::event_log> inner) : inner_(std::move(inner)) {}
  int partitions() const noexcept override { return inner_->partitions(); }
  result<std::vector<storage::stored_record>> read(storage::topic t, partition_id p, log_offset f,
                                                   std::size_t m) override {
    return inner_->read(t, p, f, m);
  }
  result<log_offset> end_offset(storage::topic t, partition_id p) override { return inner_->end_offset(t, p); }
  result<std::string> chain_head(partition_id p, const std::string& k) override { return inner_->chain_head(p, k); }
  status commit_offset(const std::string& g, storage::topic t, partition_id p, log_offset n) override {
    return inner_->commit_offset(g, t, p, n);
  }
  result<std::optional<log_offset>> committed_offset(const std::string& g, storage::topic t,
                                                     partition_id p) override {
    return inner_->committed_offset(g, t, p);
  }

protected:
  std::shared_ptr<storage::event_log> inner_;
};

// A log whose next append commits but answers "outcome unknown", as a Kafka
// commit that timed out after it was sent.
class ambiguous_log final : public forwarding_log {
public:
  using forwarding_log::forwarding_log;
  std::atomic<bool> lie_once{false};
  void append(partition_id p, std::vector<storage::record> rs, storage::append_callback done) override {
    bool lie = lie_once.exchange(false);
    inner_->append(p, std::move(rs), [lie, done = std::move(done)](result<storage::append_ack> a) {
      if (lie && a) return done(make_error(errc::unavailable, "commit timed out"));
      done(std::move(a));
    });
  }
};

TEST_P(embedded_node_test, an_append_of_unknown_outcome_is_resolved_from_the_log) {
  auto rocks = storage::rocks_log::open((dir.path / "log").string(), 4, nullptr);
  ASSERT_TRUE(rocks.ok());
  auto log = std::make_shared<ambiguous_log>(std::shared_ptr<storage::event_log>(std::move(*rocks)));
  auto o = options(dir.path.string());
  o.log = log;
  tenant::state after;
  {
    auto n = start(o);
    create_tenant(*n, "acme");
    log->lie_once = true;
    auto r = n->execute(tcmd(tenant::rename_tenant{"Committed"}, "rename-1"), tenant_id{"acme"});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::unavailable);
    EXPECT_NE(r.err().message.find("unknown"), std::string::npos) << r.err().message;
    // The next command waits until the actor has learnt from the log that the
    // rename is there, and is decided on top of it.
    auto next = n->execute(tcmd(tenant::add_member{"u2", "two@example.com", "viewer"}), tenant_id{"acme"});
    ASSERT_TRUE(next.ok()) << next.err().message;
    after = *n->tenant_state(tenant_id{"acme"});
    EXPECT_EQ(after.name, "Committed");
    EXPECT_EQ(after.version, 3);
    // A retry of the ambiguous command is recognised: nothing appended twice.
    auto retry = n->execute(tcmd(tenant::rename_tenant{"Committed"}, "rename-1"), tenant_id{"acme"});
    ASSERT_TRUE(retry.ok()) << retry.err().message;
    EXPECT_TRUE(retry->duplicate);
    n->stop();
  }
  std::filesystem::remove_all(dir.path / "snapshots");
  auto o2 = options(dir.path.string());
  o2.log = log;
  auto n = start(o2);
  EXPECT_EQ(*n->tenant_state(tenant_id{"acme"}), after) << "seqs stayed unique: the replay agrees";
}

// A log that holds appends until the test lets each one through: as it is
// (ok), refused without writing (fail), or written and then answered
// "outcome unknown" (lie). While one of a tenant's appends is held, the
// commands sent to it after it queue up behind it.
class gated_log final : public forwarding_log {
public:
  enum class mode { ok, fail, lie };
  using forwarding_log::forwarding_log;
  std::atomic<bool> hold{false};
  std::atomic<int> appends{0};

  void append(partition_id p, std::vector<storage::record> rs, storage::append_callback done) override {
    ++appends;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (hold) {
        held_.push_back({p, std::move(rs), std::move(done)});
        return;
      }
    }
    inner_->append(p, std::move(rs), std::move(done));
  }
  // Waits (generously) until `n` appends are held.
  bool wait_held(std::size_t n) {
    for (int i = 0; i < 3000; ++i) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (held_.size() >= n) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // Fails whatever is held and holds nothing more.
  void fail_all() {
    hold = false;
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (held_.empty()) return;
      }
      release(mode::fail);
    }
  }
  // Lets the oldest held append through; its number of records.
  std::size_t release(mode m) {
    held h;
    {
      std::lock_guard<std::mutex> lk(mu_);
      h = std::move(held_.front());
      held_.pop_front();
    }
    const auto n = h.records.size();
    if (m == mode::fail) {
      h.done(make_error(errc::storage, "injected failure"));
      return n;
    }
    inner_->append(h.p, std::move(h.records), [m, done = std::move(h.done)](result<storage::append_ack> a) {
      if (m == mode::lie && a) return done(make_error(errc::unavailable, "commit timed out"));
      done(std::move(a));
    });
    return n;
  }

private:
  struct held {
    partition_id p{0};
    std::vector<storage::record> records;
    storage::append_callback done;
  };
  std::mutex mu_;
  std::deque<held> held_;
};

// Commands queued behind an append in flight: c1 creates m1, c2 creates m1
// again (a conflict, but only with c1), c3 creates m2 and is sent twice
// (the second a retry), c4 creates m3, c5 creates m4 (over the plan's 3
// monitors, but only with the others).
class tenant_batch_test : public node_test {
protected:
  std::shared_ptr<gated_log> gate;
  std::unique_ptr<node> n;
  using reply_future = std::future<result<command_reply>>;
  std::vector<reply_future> replies;
  tenant::state before;

  void SetUp() override {
    auto rocks = storage::rocks_log::open((dir.path / "log").string(), 4, nullptr);
    ASSERT_TRUE(rocks.ok());
    gate = std::make_shared<gated_log>(std::shared_ptr<storage::event_log>(std::move(*rocks)));
    auto o = options(dir.path.string());
    o.log = gate;
    n = start(o);
    ASSERT_TRUE(n);
    create_tenant(*n, "acme");  // plan "test": 3 monitors
  }
  void TearDown() override {
    if (gate) gate->fail_all();
    if (n) n->stop();
  }
  void send(tenant::body b, const std::string& command_id) {
    auto p = std::make_shared<std::promise<result<command_reply>>>();
    replies.push_back(p->get_future());
    n->submit(tcmd(std::move(b), command_id), tenant_id{"acme"},
              [p](result<command_reply> r) { p->set_value(std::move(r)); });
  }
  // The answer to the i-th command sent (an error after a generous wait).
  result<command_reply> answer(std::size_t i) {
    if (replies[i].wait_for(std::chrono::seconds(30)) != std::future_status::ready)
      return make_error(errc::internal, "no answer to command " + std::to_string(i));
    return replies[i].get();
  }
  tenant::body create(const std::string& m) {
    return tenant::create_monitor{m, http_config("http://127.0.0.1:9/")};
  }
  // A rename in flight (held), the five commands queued behind it, and the
  // rename acknowledged: the five are then decided as one batch, whose
  // append is held when this returns. Until it is acknowledged the tenant
  // shows its durable state only.
  void queue_a_batch() {
    gate->hold = true;
    send(tenant::rename_tenant{"Renamed"}, "rename");
    ASSERT_TRUE(gate->wait_held(1));
    send(create("m1"), "c1");
    send(create("m1"), "c2");
    send(create("m2"), "c3");
    send(create("m2"), "c3");
    send(create("m3"), "c4");
    send(create("m4"), "c5");
    // Answered by the tenant's actor, after the commands sent before it
    // reached its queue.
    auto st = n->tenant_state(tenant_id{"acme"});
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->name, "Acme acme") << "an append in flight is not shown";
    EXPECT_EQ(gate->release(gated_log::mode::ok), 1u);
    auto renamed = answer(0);
    ASSERT_TRUE(renamed.ok()) << renamed.err().message;
    ASSERT_TRUE(gate->wait_held(1));
    before = *n->tenant_state(tenant_id{"acme"});
    EXPECT_EQ(before.name, "Renamed");
    EXPECT_TRUE(before.monitors.empty()) << "a batch in flight is not shown";
  }
};

TEST_P(tenant_batch_test, queued_commands_share_one_append_and_each_gets_its_own_answer) {
  queue_a_batch();
  EXPECT_EQ(gate->release(gated_log::mode::ok), 3u) << "c1, c3 and c4 in one append";
  auto c1 = answer(1), c2 = answer(2), c3 = answer(3), c3again = answer(4),
       c4 = answer(5), c5 = answer(6);
  ASSERT_TRUE(c1.ok()) << c1.err().message;
  ASSERT_FALSE(c2.ok());
  EXPECT_EQ(c2.err().code, errc::conflict);
  ASSERT_TRUE(c3.ok()) << c3.err().message;
  ASSERT_TRUE(c3again.ok()) << c3again.err().message;
  EXPECT_TRUE(c3again->duplicate);
  EXPECT_EQ(c3again->event_ids, c3->event_ids) << "a retry answers with its first outcome";
  ASSERT_TRUE(c4.ok()) << c4.err().message;
  ASSERT_FALSE(c5.ok());
  EXPECT_EQ(c5.err().code, errc::quota_exceeded);
  EXPECT_EQ(gate->appends.load(), 1 + 2) << "the tenant, the rename, one batch";
  // Each command's events are its own, in the order the commands came.
  ASSERT_EQ(c1->offsets.size(), 1u);
  ASSERT_EQ(c3->offsets.size(), 1u);
  ASSERT_EQ(c4->offsets.size(), 1u);
  EXPECT_EQ(c3->offsets[0], c1->offsets[0] + 1);
  EXPECT_EQ(c4->offsets[0], c3->offsets[0] + 1);
  EXPECT_EQ(c1->version, before.version + 1);
  EXPECT_EQ(c4->version, before.version + 3);
  for (auto* r : {&c1, &c3, &c4}) {
    auto recs = n->log().read(storage::topic::events, partition_id{(*r)->partition},
                              log_offset{(*r)->offsets[0]}, 1);
    ASSERT_TRUE(recs.ok());
    auto e = decode(recs->front().value);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->meta.id, (*r)->event_ids[0]);
  }
  auto after = n->tenant_state(tenant_id{"acme"});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->monitors, (std::set<std::string>{"m1", "m2", "m3"}));
  EXPECT_EQ(after->version, before.version + 3);
  EXPECT_EQ(n->monitor_count(), 3);
}

TEST_P(tenant_batch_test, a_failed_batch_changes_nothing_and_the_refusals_it_caused_are_decided_again) {
  queue_a_batch();
  gate->release(gated_log::mode::fail);
  for (int i : {1, 3, 5}) {
    auto r = answer(i);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::storage);
  }
  // c2, the retry of c3 and c5 were refused only because of the batch that
  // failed: decided again, against the state as it is, they are appended.
  ASSERT_TRUE(gate->wait_held(1));
  EXPECT_EQ(*n->tenant_state(tenant_id{"acme"}), before) << "nothing of the failed batch applied";
  EXPECT_EQ(gate->release(gated_log::mode::ok), 3u);
  for (int i : {2, 4, 6}) {
    auto r = answer(i);
    ASSERT_TRUE(r.ok()) << i << ": " << r.err().message;
    EXPECT_FALSE(r->duplicate);
  }
  auto after = n->tenant_state(tenant_id{"acme"});
  EXPECT_EQ(after->monitors, (std::set<std::string>{"m1", "m2", "m4"}));
  EXPECT_EQ(after->version, before.version + 3);
  EXPECT_EQ(n->monitor_count(), 3);
}

TEST_P(tenant_batch_test, a_batch_of_unknown_outcome_is_resolved_from_the_log_for_each_command) {
  queue_a_batch();
  gate->hold = false;
  gate->release(gated_log::mode::lie);  // written, but answered "unknown"
  for (int i : {1, 3, 5}) {
    auto r = answer(i);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, errc::unavailable);
  }
  // The others are answered once the log has told the actor what happened.
  auto c2 = answer(2), c3again = answer(4), c5 = answer(6);
  ASSERT_FALSE(c2.ok());
  EXPECT_EQ(c2.err().code, errc::conflict);
  ASSERT_TRUE(c3again.ok()) << c3again.err().message;
  EXPECT_TRUE(c3again->duplicate);
  ASSERT_FALSE(c5.ok());
  EXPECT_EQ(c5.err().code, errc::quota_exceeded);
  auto after = n->tenant_state(tenant_id{"acme"});
  EXPECT_EQ(after->monitors, (std::set<std::string>{"m1", "m2", "m3"}));
  EXPECT_EQ(after->version, before.version + 3);
  // A retry of an appended command is recognised.
  auto retry = n->execute(tcmd(create("m3"), "c4"), tenant_id{"acme"});
  ASSERT_TRUE(retry.ok()) << retry.err().message;
  EXPECT_TRUE(retry->duplicate);
}

TEST_P(node_test, every_request_is_answered_even_when_the_node_stops_under_load) {
  auto n = start();
  create_tenant(*n, "acme");
  ASSERT_TRUE(create_monitor(*n, "acme", "m1").ok());
  std::atomic<int> answered{0}, ok{0};
  const int sent = 2000;
  for (int i = 0; i < sent; ++i)
    n->submit(mcmd(monitor::record_check{true, 1000, 200, "", std::nullopt, new_id()}),
              tenant_id{"acme"}, "m1", [&](result<command_reply> r) {
                ++answered;
                if (r) ++ok;
              });
  n->stop();
  EXPECT_TRUE(eventually([&] { return answered.load() == sent; }, 10)) << answered.load();
  auto refused = n->execute(tcmd(tenant::rename_tenant{"Late"}), tenant_id{"acme"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.err().code, errc::unavailable);
  // What was acknowledged is in the log after a restart.
  auto again = start();
  EXPECT_GE(again->monitor_state(tenant_id{"acme"}, "m1")->check_seq, ok.load());
}

TEST_P(node_test, commands_queued_for_a_deleted_monitor_are_answered) {
  auto n = start();
  create_tenant(*n, "acme");
  ASSERT_TRUE(create_monitor(*n, "acme", "m1").ok());
  std::atomic<int> answered{0};
  for (int i = 0; i < 300; ++i)
    n->submit(mcmd(i % 2 ? monitor::body{monitor::resume_monitor{}} : monitor::body{monitor::pause_monitor{}}),
              tenant_id{"acme"}, "m1", [&](result<command_reply>) { ++answered; });
  ASSERT_TRUE(n->execute(tcmd(tenant::delete_monitor{"m1"}), tenant_id{"acme"}).ok());
  EXPECT_TRUE(eventually([&] { return answered.load() == 300; }, 10)) << answered.load();
  auto gone = n->execute(mcmd(monitor::pause_monitor{}), tenant_id{"acme"}, "m1");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.err().code, errc::not_found);
}

TEST_P(node_test, two_tenants_may_use_the_same_monitor_id) {
  // Two tenants of one partition, so they share a host.
  std::vector<std::string> same;
  for (int i = 0; same.size() < 2; ++i) {
    auto t = "tenant-" + std::to_string(i);
    if (storage::partition_for(tenant_id{t}, 4).get() == 0) same.push_back(t);
  }
  {
    auto n = start();
    for (auto& t : same) {
      create_tenant(*n, t);
      ASSERT_TRUE(create_monitor(*n, t, "m1").ok());
    }
    ASSERT_TRUE(n->execute(mcmd(monitor::pause_monitor{}), tenant_id{same[0]}, "m1").ok());
    EXPECT_FALSE(n->monitor_state(tenant_id{same[0]}, "m1")->active);
    EXPECT_TRUE(n->monitor_state(tenant_id{same[1]}, "m1")->active);
    ASSERT_TRUE(n->execute(tcmd(tenant::delete_monitor{"m1"}), tenant_id{same[1]}).ok());
    EXPECT_TRUE(n->monitor_state(tenant_id{same[0]}, "m1").ok()) << "only the other tenant's went";
    n->stop();
  }
  auto n = start();
  auto m = n->monitor_state(tenant_id{same[0]}, "m1");
  ASSERT_TRUE(m.ok()) << m.err().message;
  EXPECT_FALSE(m->active);
  EXPECT_FALSE(n->monitor_state(tenant_id{same[1]}, "m1").ok());
  EXPECT_EQ(n->monitor_count(), 1);
}

TEST_P(node_test, a_deleted_monitor_stays_deleted_whatever_its_snapshot_says) {
  monitor::state alive;
  {
    auto n = start();
    create_tenant(*n, "acme");
    ASSERT_TRUE(create_monitor(*n, "acme", "m1").ok());
    alive = *n->monitor_state(tenant_id{"acme"}, "m1");
    ASSERT_TRUE(n->execute(tcmd(tenant::delete_monitor{"m1"}), tenant_id{"acme"}).ok());
    n->stop();
  }
  {
    // The race a snapshot taken between the deletion and the host's
    // handling of it would leave: the monitor "alive", covering the log's end.
    auto snaps = storage::rocks_snapshot_store::open((dir.path / "snapshots").string());
    ASSERT_TRUE(snaps.ok());
    auto p = storage::partition_for(tenant_id{"acme"}, 4);
    ASSERT_TRUE((*snaps)->save(p, make_snapshot("acme", "m1", alive, 1'000'000, 1'000'000)).ok());
  }
  auto n = start();
  EXPECT_FALSE(n->monitor_state(tenant_id{"acme"}, "m1").ok());
  EXPECT_EQ(n->monitor_count(), 0);
}

TEST_P(node_test, concurrent_creates_never_exceed_the_plan_quota) {
  auto n = start();
  create_tenant(*n, "acme");  // plan "test": 3 monitors
  std::vector<std::future<result<command_reply>>> results;
  for (int i = 0; i < 10; ++i) {
    auto p = std::make_shared<std::promise<result<command_reply>>>();
    results.push_back(p->get_future());
    n->submit(tcmd(tenant::create_monitor{"m" + std::to_string(i), http_config("http://127.0.0.1:9/")}),
              tenant_id{"acme"}, [p](result<command_reply> r) { p->set_value(std::move(r)); });
  }
  int ok = 0, quota = 0;
  for (auto& f : results) {
    auto r = f.get();
    if (r.ok()) ++ok;
    else if (r.err().code == errc::quota_exceeded) ++quota;
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(quota, 7);
  EXPECT_EQ(n->monitor_count(), 3);
}

TEST_P(node_test, another_tenants_monitor_is_not_found) {
  auto n = start();
  create_tenant(*n, "acme");
  create_tenant(*n, "globex");
  ASSERT_TRUE(create_monitor(*n, "globex", "g1").ok());
  auto r = n->execute(mcmd(monitor::pause_monitor{}), tenant_id{"acme"}, "g1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, errc::not_found);
  auto st = n->monitor_state(tenant_id{"globex"}, "g1");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->active) << "the foreign pause changed nothing";
  EXPECT_FALSE(n->monitor_state(tenant_id{"acme"}, "g1").ok());
}

TEST_P(node_test, monitor_commands_from_users_follow_their_role) {
  auto n = start();
  create_tenant(*n, "acme");
  ASSERT_TRUE(n->execute(tcmd(tenant::add_member{"viewer1", "v@example.com", "viewer"}),
                         tenant_id{"acme"}).ok());
  ASSERT_TRUE(create_monitor(*n, "acme", "m1").ok());
  auto as = [](const std::string& user) {
    auto c = mcmd(monitor::pause_monitor{});
    c.meta.actor = actor_ref{"user", user, "203.0.113.9"};
    return c;
  };
  auto denied = n->execute(as("viewer1"), tenant_id{"acme"}, "m1");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.err().code, errc::forbidden);
  auto stranger = n->execute(as("nobody"), tenant_id{"acme"}, "m1");
  ASSERT_FALSE(stranger.ok());
  EXPECT_TRUE(n->monitor_state(tenant_id{"acme"}, "m1")->active);
  auto owner = n->execute(as("u1"), tenant_id{"acme"}, "m1");
  ASSERT_TRUE(owner.ok()) << owner.err().message;
  EXPECT_FALSE(n->monitor_state(tenant_id{"acme"}, "m1")->active);
}

TEST_P(node_test, a_retried_command_returns_its_first_outcome_and_appends_nothing) {
  auto n = start();
  create_tenant(*n, "acme");
  auto first = n->execute(tcmd(tenant::rename_tenant{"One"}, "cmd-42"), tenant_id{"acme"});
  ASSERT_TRUE(first.ok());
  auto p = partition_id{first->partition};
  auto end = n->log().end_offset(storage::topic::events, p)->get();
  auto again = n->execute(tcmd(tenant::rename_tenant{"One"}, "cmd-42"), tenant_id{"acme"});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->event_ids, first->event_ids);
  EXPECT_EQ(again->offsets, first->offsets);
  EXPECT_EQ(n->log().end_offset(storage::topic::events, p)->get(), end);

  auto m1 = create_monitor(*n, "acme", "m1");
  ASSERT_TRUE(m1.ok());
  auto c1 = n->execute(mcmd(monitor::pause_monitor{}, "pause-1"), tenant_id{"acme"}, "m1");
  ASSERT_TRUE(c1.ok());
  auto c2 = n->execute(mcmd(monitor::pause_monitor{}, "pause-1"), tenant_id{"acme"}, "m1");
  ASSERT_TRUE(c2.ok()) << c2.err().message;
  EXPECT_TRUE(c2->duplicate);
}

TEST_P(node_test, an_idle_tenant_is_passivated_and_comes_back_intact) {
  auto o = options(dir.path.string());
  o.passivate_after_s = 1;
  auto n = start(o);
  create_tenant(*n, "acme");
  ASSERT_TRUE(n->execute(tcmd(tenant::add_member{"u2", "two@example.com", "viewer"}),
                         tenant_id{"acme"}).ok());
  auto before = n->tenant_state(tenant_id{"acme"});
  ASSERT_TRUE(before.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto r = n->execute(tcmd(tenant::rename_tenant{"Back"}), tenant_id{"acme"});
  ASSERT_TRUE(r.ok()) << r.err().message;
  auto after = n->tenant_state(tenant_id{"acme"});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->members, before->members);
  EXPECT_EQ(after->name, "Back");
  EXPECT_EQ(after->version, before->version + 1);
}

TEST_P(node_test, a_restarted_node_has_the_same_tenants_monitors_and_statuses) {
  tenant::state acme, globex;
  monitor::state m1, m2;
  {
    auto n = start();
    create_tenant(*n, "acme");
    create_tenant(*n, "globex");
    ASSERT_TRUE(create_monitor(*n, "acme", "m1").ok());
    ASSERT_TRUE(create_monitor(*n, "globex", "m2").ok());
    ASSERT_TRUE(n->execute(mcmd(monitor::record_check{true, 1200, 200, "", std::nullopt, new_id()}),
                           tenant_id{"acme"}, "m1").ok());
    ASSERT_TRUE(n->execute(mcmd(monitor::record_check{false, 0, 500, "status 500 not accepted",
                                                      std::nullopt, new_id()}),
                           tenant_id{"globex"}, "m2").ok());
    ASSERT_TRUE(n->execute(mcmd(monitor::pause_monitor{}), tenant_id{"acme"}, "m1").ok());
    ASSERT_TRUE(n->execute(tcmd(tenant::suspend_tenant{"unpaid"}), tenant_id{"globex"}).ok());
    acme = *n->tenant_state(tenant_id{"acme"});
    globex = *n->tenant_state(tenant_id{"globex"});
    m1 = *n->monitor_state(tenant_id{"acme"}, "m1");
    m2 = *n->monitor_state(tenant_id{"globex"}, "m2");
    EXPECT_EQ(m2.status, monitor_status::down);
    n->stop();
  }
  auto n = start();
  EXPECT_GT(n->recovery().snapshots_loaded, 0);
  EXPECT_EQ(*n->tenant_state(tenant_id{"acme"}), acme);
  EXPECT_EQ(*n->tenant_state(tenant_id{"globex"}), globex);
  EXPECT_EQ(*n->monitor_state(tenant_id{"acme"}, "m1"), m1);
  EXPECT_EQ(*n->monitor_state(tenant_id{"globex"}, "m2"), m2);
  EXPECT_EQ(n->monitor_count(), 2);
  // And it goes on from there: the next check continues the monitor's seq.
  auto r = n->execute(mcmd(monitor::record_check{true, 900, 200, "", std::nullopt, new_id()}),
                      tenant_id{"acme"}, "m1");
  EXPECT_FALSE(r.ok()) << "m1 is paused";
  ASSERT_TRUE(n->execute(tcmd(tenant::activate_tenant{}), tenant_id{"globex"}).ok());
  auto c = n->execute(mcmd(monitor::record_check{true, 900, 200, "", std::nullopt, new_id()}),
                      tenant_id{"globex"}, "m2");
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_EQ(n->monitor_state(tenant_id{"globex"}, "m2")->check_seq, m2.check_seq + 1);
  EXPECT_EQ(n->monitor_state(tenant_id{"globex"}, "m2")->status, monitor_status::up);
}

TEST_P(node_test, a_restart_without_snapshots_replays_the_whole_log) {
  tenant::state acme;
  monitor::state m1;
  {
    auto n = start();
    create_tenant(*n, "acme");
    ASSERT_TRUE(create_monitor(*n, "acme", "m1").ok());
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(n->execute(mcmd(monitor::record_check{i % 2 == 0, 1000, 200, i % 2 ? "boom" : "",
                                                        std::nullopt, new_id()}),
                             tenant_id{"acme"}, "m1").ok());
    acme = *n->tenant_state(tenant_id{"acme"});
    m1 = *n->monitor_state(tenant_id{"acme"}, "m1");
    n->stop();
  }
  std::filesystem::remove_all(dir.path / "snapshots");
  auto n = start();
  EXPECT_EQ(n->recovery().snapshots_loaded, 0);
  EXPECT_EQ(*n->tenant_state(tenant_id{"acme"}), acme);
  EXPECT_EQ(*n->monitor_state(tenant_id{"acme"}, "m1"), m1);
}

INSTANTIATE_TEST_SUITE_P(backends, node_test, ::testing::ValuesIn(all_backends()),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(backends, tenant_batch_test, ::testing::Values(backend{"embedded"}),
                         [](const auto& i) { return i.param.name; });
INSTANTIATE_TEST_SUITE_P(backends, embedded_node_test, ::testing::Values(backend{"embedded"}),
                         [](const auto& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(backends, kafka_node_test, ::testing::Values(backend{"kafka"}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kw::test
