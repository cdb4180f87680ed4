// Writes a scripted history through a node on Kafka: tenants with members,
// keys, channels, status pages, maintenance, monitors that go down and up,
// plan changes, a suspension and a deletion, then signed tree heads. Used by
// kafka_contract_test.py, which reads the topics back with kcat, and by the
// audit tests. Usage: kafka_scenario BOOTSTRAP|embedded DIR
#include <cstdio>

#include "events/hash_chain.hpp"
#include "actors/host/node_fixture.hpp"
#include "actors/host/notary.hpp"

using namespace kw;
using namespace kw::test;

namespace {

int failures = 0;

void must(const result<command_reply>& r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.err().message.c_str());
    ++failures;
  }
}

monitor::command check(bool ok) {
  return mcmd(monitor::record_check{ok, ok ? 1200 : 0, ok ? 200 : 503,
                                    ok ? "" : "status 503 not accepted", std::nullopt, new_id()});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  auto o = options(argv[2]);
  // "embedded": the same history on the embedded log in DIR instead.
  if (std::string(argv[1]) != "embedded") {
    storage::kafka_options k;
    k.bootstrap_servers = argv[1];
    k.timeout = std::chrono::seconds(20);
    o.kafka = k;
  }
  auto started = node::start(o);
  if (!started) {
    std::fprintf(stderr, "start: %s\n", started.err().message.c_str());
    return 1;
  }
  auto& n = **started;
  const tenant_id acme{"acme"}, globex{"globex"}, initech{"initech"};
  for (auto& t : {acme, globex, initech})
    must(n.execute(tcmd(tenant::create_tenant{"Tenant " + t.get(), "big", "owner-" + t.get(),
                                              "owner@" + t.get() + ".example"}),
                   t),
         "create tenant");
  must(n.execute(tcmd(tenant::add_member{"u2", "ops@acme.example", "admin"}), acme), "add member");
  must(n.execute(tcmd(tenant::change_role{"u2", "member"}), acme), "change role");
  must(n.execute(tcmd(tenant::create_api_key{"k1", "ci", std::string(64, 'a'), "read_write"}), acme),
       "api key");
  must(n.execute(tcmd(tenant::revoke_api_key{"k1"}), acme), "revoke key");
  must(n.execute(tcmd(tenant::create_channel{"c1", "ops hook", "https://hooks.example/kw",
                                             n.seal_secret("s3cret")}),
                 acme),
       "channel");
  must(n.execute(tcmd(tenant::update_channel{"c1", "ops hook 2", "https://hooks.example/kw2", ""}), acme),
       "update channel");
  auto web = http_config("https://acme.example/health", 60);
  web.channel_ids = {"c1"};
  must(n.execute(tcmd(tenant::create_monitor{"web", web}), acme), "monitor web");
  monitor_config push;
  push.name = "nightly backup";
  push.kind = monitor_kind::push;
  push.push_token_hash = sha256_hex("", "tok-acme-backup");
  push.interval_s = 3600;
  push.timeout_ms = 1000;
  must(n.execute(tcmd(tenant::create_monitor{"backup", push}), acme), "monitor backup");
  must(n.execute(tcmd(tenant::create_status_page{"p1", "acme-status", "Acme status", {"web"}}), acme),
       "status page");
  must(n.execute(tcmd(tenant::update_status_page{"p1", "acme", "Acme", {"web", "backup"}}), acme),
       "update page");
  auto t0 = now();
  must(n.execute(tcmd(tenant::schedule_maintenance{"w1", "db upgrade", {"web"},
                                                   timestamp{t0.get() + 3'600'000'000},
                                                   timestamp{t0.get() + 7'200'000'000}}),
                 acme),
       "maintenance");
  must(n.execute(tcmd(tenant::cancel_maintenance{"w1"}), acme), "cancel maintenance");
  for (bool ok : {true, true, false, true, false, false, true, true})
    must(n.execute(check(ok), acme, "web"), "check web");
  must(n.execute(mcmd(monitor::record_delivery{"c1", "inc", "down", 1, 204, true, ""}), acme, "web"),
       "delivery");
  must(n.execute(mcmd(monitor::record_delivery{"c1", "inc", "up", 5, 500, false, "status 500"}), acme,
                 "web"),
       "failed delivery");
  must(n.push_beat("tok-acme-backup"), "beat");
  must(n.execute(mcmd(monitor::pause_monitor{}), acme, "web"), "pause");
  must(n.execute(mcmd(monitor::resume_monitor{}), acme, "web"), "resume");
  web.interval_s = 120;
  must(n.execute(mcmd(monitor::update_monitor{web}), acme, "web"), "update");
  must(n.execute(tcmd(tenant::delete_status_page{"p1"}), acme), "delete page");
  must(n.execute(tcmd(tenant::delete_channel{"c1"}), acme), "delete channel");
  must(n.execute(tcmd(tenant::delete_monitor{"backup"}), acme), "delete monitor");
  must(n.execute(tcmd(tenant::rename_tenant{"Acme Corporation"}), acme), "rename");
  must(n.execute(tcmd(tenant::change_plan{"test"}), acme), "change plan");
  must(n.execute(tcmd(tenant::remove_member{"u2"}), acme), "remove member");

  must(n.execute(tcmd(tenant::create_monitor{"api", http_config("http://api.globex.example/", 60)}), globex),
       "globex monitor");
  for (bool ok : {false, false, true}) must(n.execute(check(ok), globex, "api"), "check api");
  must(n.execute(tcmd(tenant::suspend_tenant{"unpaid invoice"}), globex), "suspend");
  must(n.execute(tcmd(tenant::activate_tenant{}), globex), "activate");
  must(n.execute(tcmd(tenant::record_api_calls{"2026-11-24", 42}), globex), "record API calls");

  must(n.execute(tcmd(tenant::create_monitor{"tps", http_config("http://tps.initech.example/", 60)}),
                 initech),
       "initech monitor");
  must(n.execute(tcmd(tenant::delete_tenant{}), initech), "delete tenant");

  // The notary signs a head for every tenant (initech's after its deletion),
  // then acme changes once more and gets a second head.
  auto signer = tree_head_signer::open_or_create(std::string(argv[2]) + "/audit-signing.key");
  if (!signer) return 1;
  notary_options no;
  no.dir = std::string(argv[2]) + "/merkle";
  no.signer = *signer;
  no.head_interval = std::chrono::hours(1);
  auto nt = notary::start(n, no);
  if (!nt) {
    std::fprintf(stderr, "notary: %s\n", nt.err().message.c_str());
    return 1;
  }
  if (auto st = (*nt)->catch_up_and_sign(); !st) ++failures;
  must(n.execute(tcmd(tenant::rename_tenant{"Acme Corp."}), acme), "rename again");
  if (auto st = (*nt)->catch_up_and_sign(); !st) ++failures;
  if ((*nt)->heads_issued() != 4) {
    std::fprintf(stderr, "notary: %lld heads issued, 4 expected\n", static_cast<long long>((*nt)->heads_issued()));
    ++failures;
  }
  (*nt)->stop();
  std::printf("public-key %s\n", (*signer)->public_key_hex().c_str());
  n.stop();
  std::printf("scenario done, %d failures\n", failures);
  return failures == 0 ? 0 : 1;
}
