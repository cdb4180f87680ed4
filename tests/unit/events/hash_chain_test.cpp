// Tests of the hash chain: a sealed chain verifies; a changed, removed or
// reordered record is detected and named; seal()'s no-parse fast path gives
// exactly the hash of the definition (SHA-256 of prevhash ‖ canonical JSON
// without "hash").
#include "events/hash_chain.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "events/codec.hpp"
#include "samples.hpp"

namespace {

using nlohmann::json;

// Five domain events of one tenant, encoded and sealed in order.
std::vector<std::string> sealed_chain(std::size_t n = 5) {
  const auto payloads = kw::test::sample_payloads();
  const std::size_t picks[] = {0, 6, 11, 19, 24, 25, 27};
  std::vector<std::string> out;
  std::string prev;
  for (std::size_t i = 0; i < n; ++i) {
    std::string value = kw::encode(kw::test::sample_event(payloads[picks[i % 7]], 1 + i));
    auto h = kw::seal(prev, value);
    EXPECT_TRUE(h.ok()) << h.err().message;
    prev = *h;
    out.push_back(value);
  }
  return out;
}

std::string id_of(const std::string& value) { return json::parse(value)["id"]; }

void expect_broken(const std::vector<std::string>& chain, std::size_t index,
                   const std::string& how) {
  auto st = kw::verify_chain(chain);
  ASSERT_FALSE(st.ok()) << "tampering not detected";
  EXPECT_EQ(st.err().code, kw::errc::invalid);
  const std::string& msg = st.err().message;
  EXPECT_EQ(msg.rfind("record " + std::to_string(index) + " (id " + id_of(chain[index]) + "): ", 0), 0u)
      << msg;
  EXPECT_NE(msg.find(how), std::string::npos) << msg;
}

TEST(sha256, known_answer) {
  EXPECT_EQ(kw::sha256_hex("", "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(kw::sha256_hex("a", "bc"), kw::sha256_hex("ab", "c"));
}

TEST(hash_chain, a_sealed_chain_verifies) {
  const auto chain = sealed_chain();
  ASSERT_EQ(chain.size(), 5u);
  EXPECT_TRUE(kw::verify_chain(chain).ok()) << kw::verify_chain(chain).err().message;
  EXPECT_EQ(json::parse(chain[0])["prevhash"], "");
  for (std::size_t i = 1; i < chain.size(); ++i) {
    EXPECT_EQ(json::parse(chain[i])["prevhash"], json::parse(chain[i - 1])["hash"]);
  }
  // Sealed records still decode, with the chain fields filled in.
  auto e = kw::decode(chain[2]);
  ASSERT_TRUE(e.ok()) << e.err().message;
  EXPECT_EQ(e->meta.hash.size(), 64u);
  EXPECT_EQ(e->meta.prevhash, json::parse(chain[1])["hash"]);
}

TEST(hash_chain, seal_matches_the_definition) {
  std::string prev;
  for (const auto& d : kw::test::sample_payloads()) {
    if (kw::is_check_result(d)) continue;
    SCOPED_TRACE(kw::type_of(d));
    auto e = kw::test::sample_event(d);
    e.meta.prevhash = "stale \"prev\" \\ ";  // whatever was there is replaced
    e.meta.hash = "stale";
    std::string value = kw::encode(e);
    auto h = kw::seal(prev, value);
    ASSERT_TRUE(h.ok()) << h.err().message;

    // Slow path: parse, set prevhash, hash without "hash", re-encode.
    json j = json::parse(kw::encode(e));
    j["prevhash"] = prev;
    j.erase("hash");
    const std::string expected = kw::sha256_hex(prev, j.dump());
    EXPECT_EQ(*h, expected);
    j["hash"] = expected;
    EXPECT_EQ(value, j.dump());
    prev = *h;
  }
}

TEST(hash_chain, resealing_is_deterministic) {
  std::string a = kw::encode(kw::test::sample_event(kw::test::sample_payloads()[3]));
  std::string b = a;
  const std::string prev(64, 'e');
  auto h1 = kw::seal(prev, a);
  auto h2 = kw::seal(prev, b);
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_EQ(*h1, *h2);
  auto h3 = kw::seal(prev, a);  // sealing a sealed value again: same result
  ASSERT_TRUE(h3.ok());
  EXPECT_EQ(*h3, *h1);
  EXPECT_EQ(a, b);
  auto h4 = kw::seal(std::string(64, 'f'), b);  // another predecessor: another hash
  ASSERT_TRUE(h4.ok());
  EXPECT_NE(*h4, *h1);
}

TEST(hash_chain, a_changed_record_is_detected) {
  auto chain = sealed_chain();
  json j = json::parse(chain[2]);
  j["data"]["name"] = "Evil Corp hook";
  chain[2] = j.dump();
  expect_broken(chain, 2, "hash mismatch (the record was changed)");
}

TEST(hash_chain, a_changed_and_rehashed_record_breaks_the_next_link) {
  auto chain = sealed_chain();
  json j = json::parse(chain[2]);
  j["actor"]["ip"] = "198.51.100.1";
  std::string forged = j.dump();
  ASSERT_TRUE(kw::seal(j["prevhash"].get<std::string>(), forged).ok());
  chain[2] = forged;
  expect_broken(chain, 3, "prevhash mismatch (a record was removed or reordered)");
}

TEST(hash_chain, a_non_canonical_record_is_detected) {
  auto chain = sealed_chain();
  chain[1].insert(1, " ");
  expect_broken(chain, 1, "the record was changed");
  chain = sealed_chain();
  // A duplicate key that a lenient reader might prefer.
  chain[4].insert(1, R"("data":{"name":"x"},)");
  EXPECT_FALSE(kw::verify_chain(chain).ok());
}

TEST(hash_chain, a_removed_record_is_detected) {
  auto chain = sealed_chain();
  chain.erase(chain.begin() + 2);
  expect_broken(chain, 2, "prevhash mismatch (a record was removed or reordered)");

  chain = sealed_chain();
  chain.erase(chain.begin());
  expect_broken(chain, 0, "prevhash mismatch");

  chain = sealed_chain();
  chain.pop_back();  // truncating the tail is not detectable from the records alone
  EXPECT_TRUE(kw::verify_chain(chain).ok());
}

TEST(hash_chain, reordered_records_are_detected) {
  auto chain = sealed_chain();
  std::swap(chain[1], chain[3]);
  expect_broken(chain, 1, "prevhash mismatch (a record was removed or reordered)");
  chain = sealed_chain();
  std::swap(chain[3], chain[4]);
  expect_broken(chain, 3, "prevhash mismatch");
}

TEST(hash_chain, a_slice_verifies_from_its_anchor) {
  const auto chain = sealed_chain(7);
  const std::vector<std::string> tail(chain.begin() + 3, chain.end());
  EXPECT_FALSE(kw::verify_chain(tail).ok());
  EXPECT_TRUE(kw::verify_chain(tail, json::parse(chain[2])["hash"]).ok());
}

TEST(hash_chain, seal_rejects_what_it_cannot_chain) {
  std::string check = kw::encode(kw::test::sample_event(kw::test::sample_payloads()[29]));
  const std::string before = check;
  auto r = kw::seal("", check);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.err().code, kw::errc::invalid);
  EXPECT_EQ(check, before);

  std::string value = kw::encode(kw::test::sample_event(kw::test::sample_payloads()[0]));
  EXPECT_FALSE(kw::seal("ABC", value).ok());
  EXPECT_FALSE(kw::seal(std::string(64, 'G'), value).ok());
  for (const char* junk : {"", "{", "[]", R"({"hash":"","prevhash":1})",
                           R"({"hash":"x","hash":"y","prevhash":""})", R"({"hash":"x})"}) {
    std::string v = junk;
    EXPECT_FALSE(kw::seal("", v).ok()) << junk;
  }
  // Keys named hash inside data are not the envelope's.
  std::string nested = R"({"data":{"hash":"","prevhash":""},"id":"x"})";
  EXPECT_FALSE(kw::seal("", nested).ok());
}

// check_seal is what readers (audit verify, replay) use instead of sealing a
// copy: on every record, intact or edited, it must say exactly what sealing a
// copy says (the hash, and whether the copy came out unchanged).
TEST(hash_chain, check_seal_agrees_with_sealing_a_copy) {
  const auto chain = sealed_chain(7);
  std::vector<std::string> variants;
  for (const auto& v : chain) {
    variants.push_back(v);
    for (std::size_t at : {std::size_t{1}, v.size() / 3, v.size() / 2, v.size() - 2}) {
      std::string flipped = v;
      flipped[at] = static_cast<char>(flipped[at] ^ 1);
      variants.push_back(flipped);
    }
    // Another record's hash in "prevhash" or "hash", an escaped hash, a
    // backslash run at a string's end, and no members at all.
    auto j = json::parse(v);
    j["prevhash"] = json::parse(chain[0])["hash"];
    variants.push_back(j.dump());
    j["hash"] = "";
    variants.push_back(j.dump());
    std::string escaped = v;
    escaped.replace(escaped.find("\"prevhash\":\"") + 12, 1, "\\u0030");
    variants.push_back(escaped);
    j = json::parse(v);
    j["data"] = json{{"x", "a\\\\"}, {"y", "\"\\"}};
    variants.push_back(j.dump());
    variants.push_back(R"({"data":{"hash":"","prevhash":""},"id":"x"})");
    variants.push_back(R"({"hash":"x","prevhash":"y\\")");
  }
  std::vector<std::string> prevs = {""};
  for (const auto& v : chain) prevs.push_back(json::parse(v)["hash"]);
  prevs.push_back("ABC");
  std::size_t agreed = 0, as_is = 0;
  for (const auto& v : variants)
    for (const auto& prev : prevs) {
      std::string copy = v;
      auto sealed = kw::seal(prev, copy);
      auto checked = kw::check_seal(prev, v);
      ASSERT_EQ(sealed.ok(), checked.ok()) << v;
      if (!sealed) {
        EXPECT_EQ(sealed.err().message, checked.err().message);
        continue;
      }
      EXPECT_EQ(*sealed, checked->hash) << v;
      EXPECT_EQ(copy == v, checked->sealed_as_is) << v;
      as_is += checked->sealed_as_is;
      ++agreed;
    }
  EXPECT_GT(agreed, variants.size());
  EXPECT_GE(as_is, chain.size());  // at least each intact record on its own predecessor
}

TEST(hash_chain, check_results_in_a_chain_are_rejected) {
  auto chain = sealed_chain();
  chain.push_back(kw::encode(kw::test::sample_event(kw::test::sample_payloads()[29])));
  expect_broken(chain, 5, "not a sealed domain event");
}

}  // namespace
