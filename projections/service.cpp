// The projection service (service.hpp): a detached CAF actor per projection.
#include "projections/service.hpp"

#include <atomic>
#include <map>
#include <mutex>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "projections/projections.hpp"

namespace kw::projections {
namespace {

using step_atom = caf::atom_constant<caf::atom("step")>;

struct shared_counters {
  std::atomic<std::int64_t> records{0};
  std::mutex mu;
  std::map<std::string, std::string> halted;  // projection -> why
};

struct runner_state {
  std::shared_ptr<runner> r;  // this actor's alone once it runs
  std::chrono::steady_clock::time_point last_tick{};
  ~runner_state() {
    if (r) r->close();
  }
};

// States: running (step after step) — a failed step pauses for
// retry_pause, then runs again. An exit message ends it after the step at
// hand; the state's destructor leaves the consumer group.
caf::behavior projection_actor(caf::stateful_actor<runner_state>* self, std::shared_ptr<runner> r,
                               service_options o, std::shared_ptr<shared_counters> counters) {
  self->state.r = std::move(r);
  self->send(self, step_atom::value);
  return {
      [=](step_atom) {
        auto& st = self->state;
        auto n = st.r->step();
        if (!n && st.r->halted()) {
          // Stopped for good (a truncated log): say it once, then idle.
          spdlog::error("projection {} stopped: {}", st.r->view().name(), n.err().message);
          std::lock_guard<std::mutex> lk(counters->mu);
          counters->halted[st.r->view().name()] = n.err().message;
          return;
        }
        if (!n) {
          spdlog::warn("projection {}: {} (retrying)", st.r->view().name(), n.err().message);
          self->delayed_send(self, o.retry_pause, step_atom::value);
          return;
        }
        counters->records += std::int64_t(*n);
        const auto now = std::chrono::steady_clock::now();
        if (*n == 0 || now - st.last_tick >= o.tick_interval) {
          if (now - st.last_tick >= o.tick_interval) {
            st.last_tick = now;
            const auto wall = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch());
            if (auto t = st.r->tick(timestamp{wall.count()}); !t)
              spdlog::warn("projection {}: {}", st.r->view().name(), t.err().message);
          }
        }
        self->send(self, step_atom::value);
      },
  };
}

}  // namespace

struct service::impl {
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::vector<caf::actor> actors;
  std::shared_ptr<shared_counters> counters = std::make_shared<shared_counters>();
  bool stopped = false;
};

service::service(std::unique_ptr<impl> i) : impl_(std::move(i)) {}
service::~service() { stop(); }

result<std::unique_ptr<service>> service::start(storage::event_log& log, service_options o) {
  std::vector<std::unique_ptr<projection>> views;
  if (o.projections.empty()) {
    views = all_projections();
  } else {
    for (auto& name : o.projections) {
      auto p = make_projection(name);
      if (!p) return error{errc::invalid, "no projection named '" + name + "'"};
      views.push_back(std::move(p));
    }
  }
  std::vector<std::shared_ptr<runner>> runners;
  for (auto& v : views) {
    auto r = runner::open(std::move(v), log, o.runner);
    if (!r) return r.err();
    runners.push_back(std::shared_ptr<runner>(std::move(*r)));
  }
  auto im = std::make_unique<impl>();
  im->cfg = std::make_unique<caf::actor_system_config>();
  im->cfg->set("scheduler.max-threads", 1);
  im->cfg->set("logger.verbosity", caf::atom("quiet"));
  im->sys = std::make_unique<caf::actor_system>(*im->cfg);
  for (auto& r : runners)
    im->actors.push_back(im->sys->spawn<caf::detached>(projection_actor, r, o, im->counters));
  return std::unique_ptr<service>(new service(std::move(im)));
}

std::int64_t service::records() const { return impl_->counters->records.load(); }

std::vector<std::string> service::problems() const {
  std::vector<std::string> out;
  std::lock_guard<std::mutex> lk(impl_->counters->mu);
  for (const auto& [name, why] : impl_->counters->halted)
    out.push_back("projection " + name + " stopped: " + why);
  return out;
}

void service::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  for (auto& a : impl_->actors) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  impl_->actors.clear();
  impl_->sys->await_all_actors_done();
}

}  // namespace kw::projections
