// Webhook secrets are sealed with the node's key: they round-trip, the sealed
// form reveals nothing, another key or an altered value cannot open them, and
// the key survives a restart (same file, same key).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

#include "actors/host/node_fixture.hpp"
#include "actors/host/secret_box.hpp"

namespace kw::test {
namespace {

TEST(secret_box, seals_and_opens_with_the_same_key_only) {
  temp_dir dir;
  auto key = (dir.path / "secret.key").string();
  auto box = secret_box::open_or_create(key);
  ASSERT_TRUE(box.ok()) << box.err().message;
  auto sealed = (*box)->seal("hunter2");
  EXPECT_EQ(sealed.rfind("sb1:", 0), 0u);
  EXPECT_EQ(sealed.find("hunter2"), std::string::npos);
  EXPECT_NE(sealed, (*box)->seal("hunter2")) << "a fresh nonce each time";
  EXPECT_EQ(*(*box)->open(sealed), "hunter2");

  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto again = secret_box::open_or_create(key);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*again)->open(sealed), "hunter2") << "the key file is reused";

  auto other = secret_box::open_or_create((dir.path / "other.key").string());
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE((*other)->open(sealed).ok());

  auto altered = sealed;
  altered[altered.size() - 3] = altered[altered.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE((*box)->open(altered).ok());
  EXPECT_FALSE((*box)->open("hunter2").ok());
  EXPECT_FALSE((*box)->open("sb1:!!!").ok());
}

TEST(secret_box, a_key_file_of_the_wrong_size_is_an_error) {
  temp_dir dir;
  auto key = (dir.path / "bad.key").string();
  std::ofstream(key) << "short";
  auto box = secret_box::open_or_create(key);
  ASSERT_FALSE(box.ok());
  EXPECT_NE(box.err().message.find("bytes"), std::string::npos);
}

}  // namespace
}  // namespace kw::test
