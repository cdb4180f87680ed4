// RFC 9162 Merkle trees over a tenant's events (see merkle.hpp).
#include "events/merkle.hpp"

#include <openssl/evp.h>

#include <memory>

namespace kw::merkle {
namespace {

const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct ctx_free {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

// SHA-256 of prefix byte (if any) ‖ a ‖ b.
hash digest(int prefix, std::string_view a, std::string_view b = {}) {
  thread_local std::unique_ptr<EVP_MD_CTX, ctx_free> ctx(EVP_MD_CTX_new());
  hash out{};
  unsigned int len = 0;
  const unsigned char p = static_cast<unsigned char>(prefix);
  bool ok = ctx && sha256_md() && EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) == 1;
  if (prefix >= 0) ok = ok && EVP_DigestUpdate(ctx.get(), &p, 1) == 1;
  ok = ok && EVP_DigestUpdate(ctx.get(), a.data(), a.size()) == 1;
  ok = ok && EVP_DigestUpdate(ctx.get(), b.data(), b.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1;
  if (!ok || len != out.size()) out.fill(0);  // OpenSSL broken: nothing will verify
  return out;
}

std::string_view bytes(const hash& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}

// The largest power of two strictly below n (n ≥ 2).
std::uint64_t split_point(std::uint64_t n) {
  std::uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

bool is_power_of_two(std::uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

}  // namespace

hash empty_root() { return digest(-1, {}); }
hash leaf_hash(std::string_view leaf) { return digest(0x00, leaf); }
hash node_hash(const hash& left, const hash& right) { return digest(0x01, bytes(left), bytes(right)); }

std::string to_hex(const hash& h) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < h.size(); ++i) {
    out[2 * i] = digits[h[i] >> 4];
    out[2 * i + 1] = digits[h[i] & 0xF];
  }
  return out;
}

result<hash> from_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() != 64) return make_error(errc::invalid, "a hash is 64 hex digits");
  hash h{};
  for (std::size_t i = 0; i < h.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return make_error(errc::invalid, "a hash is 64 hex digits");
    h[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return h;
}

void tree::append(const hash& leaf) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf);
  // Each completed pair of subtrees completes the one above it.
  for (std::size_t l = 0; levels_[l].size() % 2 == 0; ++l) {
    if (l + 1 == levels_.size()) levels_.emplace_back();
    auto& below = levels_[l];
    levels_[l + 1].push_back(node_hash(below[below.size() - 2], below.back()));
  }
}

result<hash> tree::leaf(std::uint64_t index) const {
  if (index >= size()) return make_error(errc::invalid, "leaf index " + std::to_string(index) + " is past the end");
  return levels_[0][index];
}

frontier::frontier(const subtrees& t) : size_(t.size()) {
  for (unsigned l = 0; (size_ >> l) != 0; ++l) {
    edge_.emplace_back();
    if ((size_ >> l) & 1) edge_[l] = t.node(l, (size_ >> l) - 1);
  }
}

std::vector<completed_node> frontier::append(const hash& leaf) {
  std::vector<completed_node> out;
  hash h = leaf;
  unsigned l = 0;
  std::uint64_t index = size_;
  out.push_back({0, index, h});
  // Carry upwards while this level already held a pending left node.
  while ((size_ >> l) & 1) {
    h = node_hash(edge_[l], h);
    index >>= 1;
    ++l;
    out.push_back({l, index, h});
  }
  if (edge_.size() <= l) edge_.resize(l + 1);
  edge_[l] = h;
  ++size_;
  return out;
}

namespace {

struct walker {
  const subtrees& t;

  hash range_root(std::uint64_t begin, std::uint64_t end) const {  // MTH(D[begin:end])
    const std::uint64_t n = end - begin;
    if (n == 0) return empty_root();
    if (is_power_of_two(n) && begin % n == 0) {
      unsigned l = 0;
      while ((std::uint64_t{1} << l) < n) ++l;
      return t.node(l, begin >> l);  // complete: end ≤ size is checked by the callers
    }
    const std::uint64_t k = split_point(n);
    return node_hash(range_root(begin, begin + k), range_root(begin + k, end));
  }

  void path(std::uint64_t m, std::uint64_t begin, std::uint64_t end, std::vector<hash>& out) const {
    if (end - begin <= 1) return;
    const std::uint64_t k = split_point(end - begin);
    if (m < begin + k) {
      path(m, begin, begin + k, out);
      out.push_back(range_root(begin + k, end));
    } else {
      path(m, begin + k, end, out);
      out.push_back(range_root(begin, begin + k));
    }
  }

  void subproof(std::uint64_t m, std::uint64_t begin, std::uint64_t end, bool whole, std::vector<hash>& out) const {
    if (m == end) {
      if (!whole) out.push_back(range_root(begin, end));
      return;
    }
    const std::uint64_t k = split_point(end - begin);
    if (m <= begin + k) {
      subproof(m, begin, begin + k, whole, out);
      out.push_back(range_root(begin + k, end));
    } else {
      subproof(m, begin + k, end, false, out);
      out.push_back(range_root(begin, begin + k));
    }
  }
};

error past_end(std::uint64_t n, std::uint64_t size) {
  return make_error(errc::invalid, "tree size " + std::to_string(n) + " is above the " + std::to_string(size) +
                                       " leaves there are");
}

}  // namespace

result<hash> root_of(const subtrees& t, std::uint64_t n) {
  if (n > t.size()) return past_end(n, t.size());
  return walker{t}.range_root(0, n);
}

result<std::vector<hash>> inclusion_proof(const subtrees& t, std::uint64_t index, std::uint64_t tree_size) {
  if (tree_size > t.size()) return past_end(tree_size, t.size());
  if (index >= tree_size)
    return make_error(errc::invalid, "leaf index " + std::to_string(index) + " is not below tree size " +
                                         std::to_string(tree_size));
  std::vector<hash> out;
  walker{t}.path(index, 0, tree_size, out);
  return out;
}

result<std::vector<hash>> consistency_proof(const subtrees& t, std::uint64_t old_size, std::uint64_t new_size) {
  if (new_size > t.size()) return past_end(new_size, t.size());
  if (old_size == 0 || old_size > new_size)
    return make_error(errc::invalid, "a consistency proof needs 0 < old size ≤ new size");
  std::vector<hash> out;
  if (old_size < new_size) walker{t}.subproof(old_size, 0, new_size, true, out);
  return out;
}

status verify_inclusion(const hash& leaf, std::uint64_t index, std::uint64_t tree_size,
                        const std::vector<hash>& proof, const hash& root) {
  if (index >= tree_size) return make_error(errc::invalid, "leaf index is not below the tree size");
  std::uint64_t fn = index, sn = tree_size - 1;
  hash r = leaf;
  for (const auto& p : proof) {
    if (sn == 0) return make_error(errc::invalid, "inclusion proof is longer than the tree allows");
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      if (!(fn & 1))
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return make_error(errc::invalid, "inclusion proof is shorter than the tree needs");
  if (r != root) return make_error(errc::invalid, "inclusion proof does not lead to the root");
  return ok_status();
}

status verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const hash& old_root,
                          const hash& new_root, const std::vector<hash>& proof) {
  if (old_size == 0 || old_size > new_size)
    return make_error(errc::invalid, "a consistency proof needs 0 < old size ≤ new size");
  if (old_size == new_size) {
    if (!proof.empty()) return make_error(errc::invalid, "a proof between equal sizes is empty");
    if (old_root != new_root) return make_error(errc::invalid, "equal sizes with different roots");
    return ok_status();
  }
  if (proof.empty()) return make_error(errc::invalid, "consistency proof is empty");
  std::vector<hash> path;
  path.reserve(proof.size() + 1);
  if (is_power_of_two(old_size)) path.push_back(old_root);
  path.insert(path.end(), proof.begin(), proof.end());
  std::uint64_t fn = old_size - 1, sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  hash fr = path[0], sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const hash& c = path[i];
    if (sn == 0) return make_error(errc::invalid, "consistency proof is longer than the trees allow");
    if ((fn & 1) || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      if (!(fn & 1))
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return make_error(errc::invalid, "consistency proof is shorter than the trees need");
  if (fr != old_root) return make_error(errc::invalid, "consistency proof does not lead to the old root");
  if (sr != new_root) return make_error(errc::invalid, "consistency proof does not lead to the new root");
  return ok_status();
}

}  // namespace kw::merkle
