// Access tokens and password hashes: what is issued verifies; an expired,
// tampered, unsigned ("alg":"none"), otherwise-signed or wrong-key token is
// refused; a password verifies only against its own hash.
#include "gateway/passwords.hpp"
#include "gateway/tokens.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sodium.h>

using namespace kw;
using namespace kw::gateway;

namespace {

const std::string key = "0123456789abcdef0123456789abcdef-test-key";

access_claims claims(std::int64_t exp = 2000) {
  return access_claims{"u1", "acme", "owner", 1000, exp, "jti-1"};
}

std::string b64url(const std::string& s) {
  std::string out(sodium_base64_encoded_len(s.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string payload_of(const std::string& token) {
  auto a = token.find('.');
  auto b = token.find('.', a + 1);
  return token.substr(a + 1, b - a - 1);
}

}  // namespace

TEST(Tokens, WhatIsIssuedVerifiesWithItsClaims) {
  token_signer s(key);
  auto t = s.issue(claims());
  auto c = s.verify(t, 1500);
  ASSERT_TRUE(c.ok()) << c.err().message;
  EXPECT_EQ(c->user_id, "u1");
  EXPECT_EQ(c->tenant, "acme");
  EXPECT_EQ(c->role, "owner");
  EXPECT_EQ(c->expires_at, 2000);
  EXPECT_EQ(c->jti, "jti-1");
}

TEST(Tokens, ExpiredIsRefused) {
  token_signer s(key);
  auto c = s.verify(s.issue(claims(2000)), 2000);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.err().code, errc::forbidden);
  EXPECT_NE(c.err().message.find("expired"), std::string::npos);
}

// A token that verified is remembered; it is refused all the same once it
// expires, and a tampered copy of it is not taken for it.
TEST(Tokens, AVerifiedTokenIsStillRefusedOnceExpiredOrTampered) {
  token_signer s(key);
  auto t = s.issue(claims(2000));
  ASSERT_TRUE(s.verify(t, 1500).ok());
  ASSERT_TRUE(s.verify(t, 1999).ok());
  auto c = s.verify(t, 2000);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.err().message.find("expired"), std::string::npos);
  auto flipped = t;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(s.verify(flipped, 1500).ok());
}

TEST(Tokens, TamperedPayloadIsRefused) {
  token_signer s(key);
  auto t = s.issue(claims());
  // Same signature, a payload that says tenant globex and role owner.
  auto forged_payload = b64url(R"({"sub":"u1","tenant":"globex","role":"owner","jti":"j","iat":1000,"exp":2000})");
  auto forged = t.substr(0, t.find('.') + 1) + forged_payload + t.substr(t.rfind('.'));
  EXPECT_FALSE(s.verify(forged, 1500).ok());
  // A flipped signature character.
  auto flipped = t;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(s.verify(flipped, 1500).ok());
}

TEST(Tokens, AlgNoneAndOtherAlgorithmsAreRefused) {
  token_signer s(key);
  auto payload = payload_of(s.issue(claims()));
  for (auto header : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"None"})", R"({"alg":"HS512","typ":"JWT"})",
                      R"({"typ":"JWT"})"}) {
    auto none = b64url(header) + "." + payload + ".";
    auto c = s.verify(none, 1500);
    EXPECT_FALSE(c.ok()) << header;
    auto with_sig = b64url(header) + "." + payload + "." + b64url("whatever");
    EXPECT_FALSE(s.verify(with_sig, 1500).ok()) << header;
  }
}

TEST(Tokens, AnotherKeysTokenIsRefused) {
  token_signer mine(key), theirs("another-key-another-key-another-key!!");
  EXPECT_FALSE(mine.verify(theirs.issue(claims()), 1500).ok());
}

TEST(Tokens, GarbageIsRefusedWithoutCrashing) {
  token_signer s(key);
  for (const std::string& t : std::vector<std::string>{"", ".", "..", "a.b.c", "not a token", std::string(5000, 'a'), "\xff\xfe.x.y"})
    EXPECT_FALSE(s.verify(t, 1500).ok()) << t;
}

TEST(Tokens, RandomSecretsAndHashes) {
  EXPECT_EQ(random_hex(32).size(), 64u);
  EXPECT_NE(random_hex(16), random_hex(16));
  EXPECT_EQ(sha256_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Passwords, VerifyOnlyAgainstTheirOwnHash) {
  auto h = hash_password("correct horse battery staple", password_cost::fast);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u) << *h;
  EXPECT_TRUE(verify_password(*h, "correct horse battery staple"));
  EXPECT_FALSE(verify_password(*h, "correct horse battery stapl"));
  EXPECT_FALSE(verify_password("garbage", "x"));
  auto h2 = hash_password("correct horse battery staple", password_cost::fast);
  EXPECT_NE(*h, *h2);  // salted
}
