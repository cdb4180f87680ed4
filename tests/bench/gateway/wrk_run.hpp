// What the gateway benchmarks share to load the real HTTP server: wrk
// (Debian's package) run with a Lua script over keep-alive connections on
// this machine (the load generator shares the cores), its figures parsed
// from its --latency report, and the JSON lines made of them.
#pragma once

#include <cstdio>
#include <fstream>
#include <regex>
#include <string>

#include "../projections/projection_bench.hpp"

namespace kw::gbench {

struct wrk_result {
  double rps = 0;
  double p50_ms = 0, p99_ms = 0;
  long long requests = 0, non2xx = 0, errors = 0;
};

inline double to_ms(double v, const std::string& unit) {
  if (unit == "us") return v / 1000;
  if (unit == "s") return v * 1000;
  if (unit == "m") return v * 60000;
  return v;
}

// Runs wrk (2 threads) with a Lua script; its figures. wrk's own report goes
// to stderr.
inline wrk_result run_wrk(std::uint16_t port, const std::string& path, const std::string& lua, int connections,
                          int seconds) {
  pbench::temp_dir d("wrk");
  const std::string script = d.path + "/req.lua";
  std::ofstream(script) << lua;
  const std::string cmd = "wrk -t2 -c" + std::to_string(connections) + " -d" + std::to_string(seconds) +
                          "s --latency -s " + script + " http://127.0.0.1:" + std::to_string(port) + path + " 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) pbench::fail("popen wrk");
  std::string out;
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  if (::pclose(f) != 0) pbench::fail("wrk failed (is it installed? ops/install-deps.sh): " + out);
  std::fprintf(stderr, "%s", out.c_str());
  wrk_result r;
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) r.rps = std::stod(m[1]);
  if (std::regex_search(out, m, std::regex(R"(\n\s+50%\s+([0-9.]+)(us|ms|s|m))"))) r.p50_ms = to_ms(std::stod(m[1]), m[2]);
  if (std::regex_search(out, m, std::regex(R"(\n\s+99%\s+([0-9.]+)(us|ms|s|m))"))) r.p99_ms = to_ms(std::stod(m[1]), m[2]);
  if (std::regex_search(out, m, std::regex(R"((\d+) requests in)"))) r.requests = std::stoll(m[1]);
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses:\s+(\d+))"))) r.non2xx = std::stoll(m[1]);
  if (std::regex_search(out, m, std::regex(R"(Socket errors:[^\n]*)"))) r.errors = 1;
  return r;
}

// A Lua script sending one fixed request.
inline std::string lua_headers(const std::string& token, const std::string& method = "GET",
                               const std::string& body = "") {
  std::string s = "wrk.method = \"" + method + "\"\n";
  if (!token.empty()) s += "wrk.headers[\"Authorization\"] = \"Bearer " + token + "\"\n";
  if (!body.empty()) {
    s += "wrk.headers[\"Content-Type\"] = \"application/json\"\n";
    s += "wrk.body = [[" + body + "]]\n";
  }
  return s;
}

// A Lua script sending `method path` (with `body`, JSON, when not empty)
// with each of `tokens` in turn.
inline std::string lua_rotating(const std::vector<std::string>& tokens, const std::string& method,
                                const std::string& path, const std::string& body) {
  std::string s = "tokens = {";
  for (auto& t : tokens) s += "\"" + t + "\",";
  s += "}\nlocal n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(\"" + method + "\", \"" + path +
       "\", {[\"Authorization\"] = \"Bearer \" .. tokens[n % " + std::to_string(tokens.size()) + " + 1]";
  if (!body.empty()) s += ", [\"Content-Type\"] = \"application/json\"}, [[" + body + "]])\n";
  else s += "})\n";
  s += "end\n";
  return s;
}

// Two figures (throughput and p99) of one run; answers that were not 2xx
// are told on stderr (a figure made of refusals is no figure).
inline void report(const char* name, const wrk_result& r, const char* rps_target, const char* p99_target) {
  if (r.non2xx || r.errors)
    std::fprintf(stderr, "%s: %lld answers not 2xx/3xx of %lld (see wrk's output above)\n", name, r.non2xx,
                 r.requests);
  pbench::figure(name, "throughput", r.rps, "req/s", rps_target);
  pbench::figure(name, "latency_p99", r.p99_ms, "ms", p99_target);
}

}  // namespace kw::gbench
