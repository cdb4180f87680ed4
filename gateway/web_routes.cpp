// Routes of the "web" group: the dashboard app (gateway/web), served from
// the binary itself. The build embeds every file of gateway/web into a
// generated source (gateway/web/embed.cmake), so an installed gateway needs
// no source tree.
//
//  - GET /              index.html, `Cache-Control: no-cache` (always
//                       revalidated, so a new build is picked up at once).
//  - GET /assets/{file} the app's scripts, styles and images, by base name,
//                       with the Content-Type of their extension and a short
//                       max-age; an unknown name is the JSON 404.
// Both answer with a strong ETag (a hash of the bytes) and 304 to a matching
// If-None-Match, and carry a strict Content-Security-Policy: scripts,
// styles and fetches from this origin only, no inline code, no framing.
// The app reaches the API and the live stream (a WebSocket to the same host)
// and nothing else; tenant text is only ever put in the page as text.
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "gateway/api_context.hpp"
#include "gateway/openapi_parts.hpp"
#include "gateway/tokens.hpp"

namespace kw::gateway {

// The files of gateway/web, by base name (the generated web_assets.cpp).
std::vector<std::pair<std::string, std::string>> embedded_web_files();

namespace {

struct asset {
  std::string body;
  std::string content_type;
  std::string etag;
};

using asset_table = std::map<std::string, asset>;

const char* content_type_of(const std::string& name) {
  const auto dot = name.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  return "application/octet-stream";
}

std::shared_ptr<const asset_table> load_assets() {
  auto t = std::make_shared<asset_table>();
  for (auto& [name, body] : embedded_web_files()) {
    asset a;
    a.content_type = content_type_of(name);
    a.etag = "\"" + sha256_of(body).substr(0, 32) + "\"";
    a.body = std::move(body);
    (*t)[name] = std::move(a);
  }
  return t;
}

// The host the page was loaded from, if it is a plain host[:port]; the CSP
// names its ws:// and wss:// origins for the live stream (browsers that do
// not yet count a same-host WebSocket as 'self' need them spelled out).
std::string sane_host(const http_request& req) {
  const auto h = req.header("host");
  if (!h || h->empty() || h->size() > 255) return "";
  for (char ch : *h) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                    ch == '-' || ch == ':' || ch == '[' || ch == ']';
    if (!ok) return "";
  }
  return *h;
}

std::string csp_for(const http_request& req) {
  std::string connect = "'self'";
  if (auto host = sane_host(req); !host.empty()) connect += " ws://" + host + " wss://" + host;
  return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src " + connect +
         "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
}

http_response serve(const asset& a, const http_request& req, const char* cache_control) {
  http_response res;
  if (if_none_match(req, a.etag)) {
    res.status = 304;
    res.content_type.clear();
  } else {
    res.status = 200;
    res.content_type = a.content_type;
    res.body = a.body;
  }
  res.set_header("ETag", a.etag);
  res.set_header("Cache-Control", cache_control);
  res.set_header("Content-Security-Policy", csp_for(req));
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  return res;
}

}  // namespace

void add_web_routes(router& r, const api_context&) {
  auto assets = load_assets();
  r.add("GET", "/", [assets](const http_request& q, const path_params&) {
    auto it = assets->find("index.html");
    if (it == assets->end())
      return http_response::error(404, "not_found", "the dashboard app is not built in", q.request_id);
    return serve(it->second, q, "no-cache");
  });
  r.add("GET", "/assets/{file}", [assets](const http_request& q, const path_params& p) {
    const auto& name = p.at("file");
    auto it = assets->find(name);
    if (it == assets->end() || name == "index.html")
      return http_response::error(404, "not_found", "no such asset: " + name, q.request_id);
    // Names carry no version, so assets are revalidated after five minutes
    // (a 304 when unchanged) rather than cached for long.
    return serve(it->second, q, "public, max-age=300");
  });
}

void describe_web_routes(json& paths, json&) {
  using namespace oa;
  const json headers = {
      {"ETag", {{"schema", {{"type", "string"}}}, {"description", "a strong validator of the bytes"}}},
      {"Content-Security-Policy", {{"schema", {{"type", "string"}}}}}};
  paths["/"]["get"] = {
      {"summary", "The dashboard app (no authentication: the app signs in through /api/v1/auth)"},
      {"description",
       "index.html of the single-page dashboard. Cache-Control no-cache; an ETag, If-None-Match answers 304. "
       "A strict Content-Security-Policy (same-origin scripts, styles and connections, the live stream's "
       "WebSocket, no framing)."},
      {"security", json::array()},
      {"responses",
       {{"200", {{"description", "the page"}, {"headers", headers}, {"content", {{"text/html", {{"schema", {{"type", "string"}}}}}}}}},
        {"304", {{"description", "not modified (If-None-Match)"}}}}}};
  paths["/assets/{file}"]["get"] = {
      {"summary", "A file of the dashboard app (script, style sheet, image)"},
      {"description",
       "Served from the binary with the Content-Type of its extension (text/javascript, text/css, "
       "image/svg+xml). Cache-Control public, max-age=300; an ETag, If-None-Match answers 304."},
      {"parameters", json::array({path_param("file")})},
      {"security", json::array()},
      {"responses",
       {{"200",
         {{"description", "the file"},
          {"headers", headers},
          {"content",
           {{"text/javascript", {{"schema", {{"type", "string"}}}}},
            {"text/css", {{"schema", {{"type", "string"}}}}},
            {"image/svg+xml", {{"schema", {{"type", "string"}}}}}}}}},
        {"304", {{"description", "not modified (If-None-Match)"}}},
        {"404", error_response("no such asset")}}}};
}

}  // namespace kw::gateway
