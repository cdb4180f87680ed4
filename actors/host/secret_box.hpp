// Secrets at rest: webhook signing secrets enter the event log (kept forever)
// only sealed with the node's secret key (libsodium secretbox: XSalsa20 +
// Poly1305, a random nonce per secret).
//
// The key lives in a file (created with mode 0600 on first start when it does
// not exist); every node of a cluster must share it. Sealed form:
// "sb1:" + base64(nonce ‖ ciphertext). Opening anything else, or a secret
// sealed with another key, is an error — never a silently empty secret.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "events/result.hpp"

namespace kw {

class secret_box {
public:
  static result<std::shared_ptr<const secret_box>> open_or_create(const std::string& key_file);

  std::string seal(std::string_view plain) const;
  result<std::string> open(std::string_view sealed) const;

private:
  std::array<unsigned char, 32> key_{};
};

}  // namespace kw
