// The dashboard app as a browser fetches it from the real server, on both
// logs: the page at /, every script, style sheet and image it loads (the
// module graph followed through its imports), each with its Content-Type,
// an ETag that gives 304, the security headers, and the JSON 404 of an
// unknown asset. When Node.js is installed, every script is also parsed by
// `node --check`, so a syntax error cannot ship.
#include "api_fixture.hpp"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>

using namespace kw;
using namespace kw::test;

namespace {

class WebApiTest : public api_test {
protected:
  http_reply get(const std::string& target, std::vector<std::pair<std::string, std::string>> headers = {}) {
    return call("GET", target, std::string(), "", std::move(headers));
  }

  // The /assets/... names index.html and the scripts refer to, following
  // every import of every module from the page.
  std::set<std::string> assets_of_the_app() {
    std::set<std::string> seen;
    std::vector<std::string> todo;
    const auto index = get("/");
    static const std::regex in_html(R"re((?:src|href)="/assets/([A-Za-z0-9._-]+)")re");
    for (std::sregex_iterator it(index.body.begin(), index.body.end(), in_html), end; it != end; ++it)
      if (seen.insert((*it)[1]).second) todo.push_back((*it)[1]);
    static const std::regex in_js(R"re((?:from\s*|import\s*\(?\s*)"\./([A-Za-z0-9._-]+)")re");
    while (!todo.empty()) {
      const std::string name = todo.back();
      todo.pop_back();
      if (name.size() < 3 || name.compare(name.size() - 3, 3, ".js") != 0) continue;
      const auto js = get("/assets/" + name);
      for (std::sregex_iterator it(js.body.begin(), js.body.end(), in_js), end; it != end; ++it)
        if (seen.insert((*it)[1]).second) todo.push_back((*it)[1]);
    }
    return seen;
  }
};

std::string type_for(const std::string& name) {
  const auto ext = name.substr(name.rfind('.') + 1);
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  return "?";
}

void expect_security_headers(const http_reply& r) {
  const auto csp = r.header("content-security-policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  // The live stream is a WebSocket to the page's own host.
  EXPECT_NE(csp.find("connect-src 'self' ws://127.0.0.1 wss://127.0.0.1"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(r.header("x-frame-options"), "DENY");
}

}  // namespace

TEST_P(WebApiTest, TheRootIsTheAppsPageWithoutCredentials) {
  const auto r = get("/");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.body.rfind("<!DOCTYPE html>", 0), 0u) << r.body;
  EXPECT_NE(r.body.find(R"(<script type="module" src="/assets/app.js">)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"(href="/assets/app.css")"), std::string::npos) << r.body;
  // No inline script the CSP would block.
  EXPECT_EQ(std::regex_search(r.body, std::regex("<script(?![^>]*src=)")), false) << r.body;
  EXPECT_EQ(r.header("cache-control"), "no-cache");
  EXPECT_FALSE(r.header("etag").empty());
  expect_security_headers(r);
}

TEST_P(WebApiTest, EveryFileThePageLoadsIsServedWithItsType) {
  const auto names = assets_of_the_app();
  // The page, its style sheet and icon, and more than one module.
  EXPECT_TRUE(names.count("app.js"));
  EXPECT_TRUE(names.count("app.css"));
  EXPECT_TRUE(names.count("icon.svg"));
  EXPECT_GE(names.size(), 5u);
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const auto r = get("/assets/" + name);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type"), type_for(name));
    EXPECT_FALSE(r.body.empty());
    EXPECT_FALSE(r.header("etag").empty());
    EXPECT_EQ(r.header("cache-control"), "public, max-age=300");
    expect_security_headers(r);
  }
}

TEST_P(WebApiTest, TheScriptsNeverPutTextIntoThePageAsHtml) {
  // Tenant text reaches the page only as text (textContent), never through
  // innerHTML, outerHTML, insertAdjacentHTML or document.write.
  for (const auto& name : assets_of_the_app()) {
    if (type_for(name) != "text/javascript; charset=utf-8") continue;
    SCOPED_TRACE(name);
    const auto js = get("/assets/" + name).body;
    for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("})
      EXPECT_EQ(js.find(sink), std::string::npos) << sink;
  }
}

TEST_P(WebApiTest, AnUnchangedFileIsNotModified) {
  for (const std::string target : {"/", "/assets/app.js"}) {
    SCOPED_TRACE(target);
    const auto first = get(target);
    ASSERT_EQ(first.status, 200);
    const auto etag = first.header("etag");
    ASSERT_EQ(etag.front(), '"');
    const auto again = get(target, {{"If-None-Match", etag}});
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(again.header("etag"), etag);
    EXPECT_EQ(get(target, {{"If-None-Match", "\"other\", W/" + etag}}).status, 304);
    const auto changed = get(target, {{"If-None-Match", "\"0123456789abcdef\""}});
    EXPECT_EQ(changed.status, 200);
    EXPECT_EQ(changed.body, first.body);
  }
  // Each file has its own tag.
  EXPECT_NE(get("/").header("etag"), get("/assets/app.js").header("etag"));
}

TEST_P(WebApiTest, AnUnknownAssetIsAJsonNotFound) {
  for (const std::string target :
       {"/assets/nope.js", "/assets/index.html", "/assets/embed.cmake", "/assets/..%2Fweb_routes.cpp",
        "/assets/app.js/x"}) {
    SCOPED_TRACE(target);
    const auto r = get(target);
    EXPECT_EQ(r.status, 404) << r.body;
    const auto j = r.j();
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j["error"]["code"], "not_found");
  }
  EXPECT_EQ(call("POST", "/assets/app.js", std::string(), "{}").status, 405);
}

TEST_P(WebApiTest, TheScriptsParse) {
  if (std::system("command -v node >/dev/null 2>&1") != 0) GTEST_SKIP() << "node is not installed";
  for (const auto& name : assets_of_the_app()) {
    if (type_for(name) != "text/javascript; charset=utf-8") continue;
    SCOPED_TRACE(name);
    const auto path = (dir_.path / (name + ".mjs")).string();
    std::ofstream(path) << get("/assets/" + name).body;
    EXPECT_EQ(std::system(("node --check '" + path + "'").c_str()), 0);
  }
}

KW_API_TEST_SUITE(WebApiTest);
