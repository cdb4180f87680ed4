// The snapshot form of a dedupe_window: [[id_hash, events], ...], oldest
// first. Shared by the Tenant and Monitor snapshots.
#pragma once

#include <nlohmann/json.hpp>

#include "actors/common/dedupe_window.hpp"

namespace kw {

template <std::size_t N>
nlohmann::json window_to_json(const dedupe_window<N>& w) {
  auto out = nlohmann::json::array();
  w.for_each([&](const auto& e) { out.push_back(nlohmann::json::array({e.id_hash, e.events})); });
  return out;
}

// False (the window partly filled) when an entry is not [unsigned, int].
template <std::size_t N>
bool window_from_json(const nlohmann::json& j, dedupe_window<N>& w) {
  if (!j.is_array()) return false;
  for (const auto& e : j) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_unsigned() || !e[1].is_number_integer())
      return false;
    w.push(e[0].get<std::uint64_t>(), e[1].get<int>());
  }
  return true;
}

}  // namespace kw
