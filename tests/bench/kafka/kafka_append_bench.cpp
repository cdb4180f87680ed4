// kafka.append_ratio: appends through KafkaLog to the dev broker, as a ratio
// of raw librdkafka produce to the same broker in the same run.
//
// One in-process dev broker (librdkafka's mock cluster, 1 broker), then:
//  (a) kafka.raw_produce: an idempotent librdkafka producer (acks=all,
//      linger.ms=5) produces ~400-byte records with three headers, round-robin
//      over 8 partitions, with up to `window` records unacknowledged; records
//      per second acknowledged by a successful delivery report.
//  (b) kafka.log_append: KafkaLog (8 partitions) takes single-record appends —
//      the same ~400-byte value and headers, chained (sealed by a cheap
//      sealer, so each transaction also writes the chain heads), round-robin
//      over the 8 partitions — with `window` appends in flight: each callback
//      sends the next one. Appends per second acknowledged.
// Each phase: a 0.5 s warm-up, then a 3 s measured window.
//
// Usage: kafka_append_bench [window [raw|log|both [producers]]]   (default
// 8192 in flight, both phases, the log's default producer count; naming one
// phase runs only it, for profiling, and prints only its figure).
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "storage/dev_broker.hpp"
#include "storage/kafka_log.hpp"

namespace {

using namespace kw;
using namespace kw::storage;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int partitions = 8;
constexpr int tenants = 200;
constexpr std::size_t value_size = 400;
constexpr auto warmup = 500ms;
constexpr auto window_time = 3s;

void figure(const char* bench, const char* metric, double value, const char* unit,
            const char* target) {
  std::printf("{\"bench\":\"%s\",\"metric\":\"%s\",\"value\":%.6g,\"unit\":\"%s\",\"target\":\"%s\"}\n",
              bench, metric, value, unit, target);
  std::fflush(stdout);
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "bench failed: %s\n", what.c_str());
  std::exit(1);
}

std::string value_of(std::uint64_t i) {
  std::string v = "{\"type\":\"monitor.check_recorded\",\"seq\":" + std::to_string(i) + ",\"data\":\"";
  v.resize(value_size - 2, 'x');
  v += "\"}";
  return v;
}

std::string key_of(std::uint64_t i) { return "tenant-" + std::to_string(i % tenants); }

const std::vector<header>& headers() {
  static const std::vector<header> h = {
      {"ce_type", "monitor.check_recorded"},
      {"ce_id", "0190a5b2-7c1e-7def-8a11-3f6c2b9d4e10"},
      {"content-type", "application/json"}};
  return h;
}

// A cheap chain sealer: the bench measures the log, not the hash.
class bench_sealer final : public chain_sealer {
public:
  result<std::string> seal(const std::string& prev, std::string& value) override {
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : prev) h = (h ^ c) * 1099511628211ULL;
    for (unsigned char c : value) h = (h ^ c) * 1099511628211ULL;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return std::string(buf);
  }
};

// Acknowledged counts at the start and the end of the measured window.
struct window_counter {
  std::atomic<long> acked{0};
  std::atomic<long> failed{0};
  long at_start = 0, at_end = 0;

  double measure(clock_type::time_point t0) {
    std::this_thread::sleep_until(t0 + warmup);
    at_start = acked.load();
    std::this_thread::sleep_until(t0 + warmup + window_time);
    at_end = acked.load();
    return double(at_end - at_start) / std::chrono::duration<double>(window_time).count();
  }
};

// ---- (a) raw librdkafka produce --------------------------------------------

struct raw_state {
  window_counter c;
  std::atomic<long> in_flight{0};
};

void on_raw_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* s = static_cast<raw_state*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    s->c.acked.fetch_add(1, std::memory_order_relaxed);
  } else if (s->c.failed++ == 0) {
    std::fprintf(stderr, "raw delivery: %s\n", rd_kafka_err2str(m->err));
  }
  s->in_flight.fetch_sub(1, std::memory_order_relaxed);
}

double raw_produce(dev_broker& broker, const std::string& topic, long window) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const char* v) {
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
      fail(std::string("raw producer: ") + k + ": " + errstr);
  };
  raw_state s;
  set("bootstrap.servers", broker.bootstrap().c_str());
  set("enable.idempotence", "true");
  set("acks", "all");
  set("linger.ms", "5");
  set("queue.buffering.max.messages", "1000000");
  rd_kafka_conf_set_dr_msg_cb(conf, on_raw_delivery);
  rd_kafka_conf_set_opaque(conf, &s);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) fail(std::string("raw producer: ") + errstr);

  // Warm the metadata first, as KafkaLog does at open.
  {
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
      rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
  }

  std::atomic<bool> stop{false};
  const auto t0 = clock_type::now();
  std::thread producer([&] {
    std::uint64_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      if (s.in_flight.load(std::memory_order_relaxed) >= window) {
        rd_kafka_poll(rk, 1);
        continue;
      }
      const std::string key = key_of(i), value = value_of(i);
      rd_kafka_headers_t* h = rd_kafka_headers_new(headers().size());
      for (const auto& x : headers())
        rd_kafka_header_add(h, x.name.data(), ssize_t(x.name.size()), x.value.data(),
                            ssize_t(x.value.size()));
      s.in_flight.fetch_add(1, std::memory_order_relaxed);
      const auto err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(std::int32_t(i % partitions)),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(h),
          RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h);
        s.in_flight.fetch_sub(1, std::memory_order_relaxed);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) fail(std::string("produce: ") + rd_kafka_err2str(err));
        rd_kafka_poll(rk, 1);
        continue;
      }
      ++i;
      rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 10000);
  });
  const double rate = s.c.measure(t0);
  stop = true;
  producer.join();
  rd_kafka_destroy(rk);
  if (s.c.failed) fail("raw produce: " + std::to_string(s.c.failed.load()) + " failed deliveries");
  std::fprintf(stderr, "raw produce: %ld acked in the window (%ld in flight max)\n",
               s.c.at_end - s.c.at_start, window);
  return rate;
}

// ---- (b) KafkaLog appends ---------------------------------------------------

struct log_state {
  window_counter c;
  kafka_log* log = nullptr;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> next{0};
  std::mutex mu;
  std::condition_variable cv;
  long running = 0;
  std::string first_error;

  void send() {
    const std::uint64_t i = next.fetch_add(1, std::memory_order_relaxed);
    record r;
    r.t = topic::events;
    r.key = key_of(i);
    r.value = value_of(i);
    r.headers = headers();
    r.chained = true;
    std::vector<record> rs;
    rs.push_back(std::move(r));
    log->append(partition_id{std::int32_t(i % partitions)}, std::move(rs),
                [this](result<append_ack> a) {
                  if (a.ok()) {
                    c.acked.fetch_add(1, std::memory_order_relaxed);
                  } else if (c.failed++ == 0) {
                    std::lock_guard<std::mutex> lk(mu);
                    first_error = a.err().message;
                  }
                  if (!stop.load(std::memory_order_relaxed) && a.ok()) return send();
                  std::lock_guard<std::mutex> lk(mu);
                  if (--running == 0) cv.notify_all();
                });
  }
};

double log_append(dev_broker& broker, const std::string& prefix, long window, int producers) {
  kafka_options o;
  o.producers = producers;
  o.bootstrap_servers = broker.bootstrap();
  o.topic_prefix = prefix;
  o.partitions = partitions;
  o.node_name = "bench";
  o.timeout = 20s;
  o.append_timeout = 10s;
  o.create_topic = [&broker](const kafka_topic_spec& s) {
    return broker.create_topic(s.name, s.partitions, s.replication_factor);
  };
  auto opened = kafka_log::open(std::move(o), std::make_shared<bench_sealer>());
  if (!opened) fail("kafka_log::open: " + opened.err().message);
  auto log = std::move(opened.value());

  log_state s;
  s.log = log.get();
  s.running = window;
  const auto t0 = clock_type::now();
  for (long k = 0; k < window; ++k) s.send();
  const double rate = s.c.measure(t0);
  s.stop = true;
  {
    std::unique_lock<std::mutex> lk(s.mu);
    s.cv.wait(lk, [&] { return s.running == 0; });
  }
  log->close();
  if (s.c.failed) fail("log append: " + std::to_string(s.c.failed.load()) + " failed: " + s.first_error);
  std::fprintf(stderr, "log append: %ld acked in the window (%ld in flight, %d producers)\n",
               s.c.at_end - s.c.at_start, window, producers);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  const long window = argc > 1 ? std::atol(argv[1]) : 8192;
  if (window <= 0) fail("window must be positive");
  auto started = dev_broker::start(1);
  if (!started) fail("dev broker: " + started.err().message);
  auto& broker = *started.value();
  const std::string prefix = "bench" + std::to_string(::getpid()) + ".";

  const std::string only = argc > 2 ? argv[2] : "both";
  const int producers = argc > 3 ? std::atoi(argv[3]) : kafka_options{}.producers;
  if (only == "log") {
    figure("kafka.log_append", "throughput", log_append(broker, prefix, window, producers),
           "records/s", "-");
    return 0;
  }
  const std::string raw_topic = prefix + "raw.v1";
  if (auto s = broker.create_topic(raw_topic, partitions); !s) fail(s.err().message);
  const double raw = raw_produce(broker, raw_topic, window);
  if (only == "raw") {
    figure("kafka.raw_produce", "throughput", raw, "records/s", "-");
    return 0;
  }
  const double appended = log_append(broker, prefix, window, producers);

  figure("kafka.raw_produce", "throughput", raw, "records/s", "-");
  figure("kafka.log_append", "throughput", appended, "records/s", "-");
  figure("kafka.append_ratio", "ratio", raw > 0 ? appended / raw : 0, "x", ">= 0.5");
  return 0;
}
