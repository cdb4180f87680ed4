// The route table (router.hpp).
#include "gateway/router.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "events/codec.hpp"

namespace kw::gateway {
namespace {

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 1;
  while (i <= path.size()) {
    const auto slash = path.find('/', i);
    const auto end = slash == std::string::npos ? path.size() : slash;
    out.push_back(path.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

bool match(const std::vector<std::string>& pattern, const std::vector<std::string>& path, path_params& out) {
  if (pattern.size() != path.size()) return false;
  out.clear();
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const auto& p = pattern[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (path[i].empty()) return false;
      out[p.substr(1, p.size() - 2)] = path[i];
    } else if (p != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void router::add(const std::string& method, const std::string& pattern, handler h) {
  entries_.push_back({method, pattern, split(pattern), std::move(h)});
}

const router::entry* router::find(const http_request& req, const std::vector<std::string>& segments,
                                  path_params& params, std::string& allow, const entry*& first_path) const {
  first_path = nullptr;
  for (auto& e : entries_) {
    if (!match(e.segments, segments, params)) continue;
    if (e.method == req.method || (req.method == "HEAD" && e.method == "GET")) return &e;
    if (!first_path) first_path = &e;
    if (allow.find(e.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + e.method;
  }
  return nullptr;
}

http_response router::route(const http_request& req, std::string* pattern) const {
  const auto segments = split(req.path);
  std::string allow;
  path_params params;
  const entry* first_path = nullptr;
  const entry* e = find(req, segments, params, allow, first_path);
  if (pattern) *pattern = e ? e->pattern : first_path ? first_path->pattern : "unmatched";
  http_response res;
  std::string bad_param;
  if (e)
    for (auto& [name, value] : params)
      if (!valid_utf8(value)) bad_param = name;
  if (e && !bad_param.empty()) {
    // An id that is not UTF-8 names nothing, and must not reach SQL as text.
    res = http_response::error(400, "bad_request", "the path parameter '" + bad_param + "' is not valid UTF-8",
                               req.request_id,
                               nlohmann::json::array({{{"field", bad_param}, {"message", "not valid UTF-8"}}}));
  } else if (e) {
    try {
      res = e->h(req, params);
    } catch (const std::exception& ex) {
      spdlog::error("request {} {} {}: {}", req.request_id, req.method, req.path, ex.what());
      res = http_response::error(500, "internal", "internal error", req.request_id);
    }
  } else if (!allow.empty()) {
    res = http_response::error(405, "method_not_allowed", req.method + " is not allowed on " + req.path,
                               req.request_id);
    res.set_header("Allow", allow);
  } else {
    res = http_response::error(404, "not_found", "no such resource: " + req.path, req.request_id);
  }
  res.set_header("X-Request-Id", req.request_id);
  return res;
}

std::string router::pattern_of(const http_request& req) const {
  const auto segments = split(req.path);
  path_params params;
  std::string allow;
  const entry* first_path = nullptr;
  const entry* e = find(req, segments, params, allow, first_path);
  return e ? e->pattern : first_path ? first_path->pattern : "unmatched";
}

std::vector<route_info> router::routes() const {
  std::vector<route_info> out;
  for (auto& e : entries_) out.push_back({e.method, e.pattern});
  return out;
}

}  // namespace kw::gateway
