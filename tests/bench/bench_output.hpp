// What every Keepwatch benchmark shares: its clock, one JSON line per figure
// (STYLE.md item 10), failing loudly, and percentiles.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace kw::bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// One figure, one line on stdout.
inline void figure(const char* bench, const char* metric, double value, const char* unit,
                   const char* target) {
  std::printf("{\"bench\":\"%s\",\"metric\":\"%s\",\"value\":%.6g,\"unit\":\"%s\",\"target\":\"%s\"}\n",
              bench, metric, value, unit, target);
  std::fflush(stdout);
}

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "bench failed: %s\n", what.c_str());
  std::exit(1);
}

// Nearest-rank percentile of an unsorted sample (sorted in place).
inline double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(p / 100.0 * double(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace kw::bench
