// Big-endian encoding of fixed-width integers for RocksDB keys and values.
// Big-endian so that RocksDB's bytewise order is numeric order for
// non-negative values: (topic, partition, offset) keys sort in log order.
// Decoders read from a cursor and report a short buffer instead of reading
// past it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kw::storage::byte_order {

inline void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }

inline void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

inline void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// A length-prefixed (u32) byte string.
inline void put_bytes(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s.data(), s.size());
}

// Reads from the front of `in`, consuming what it reads. Each returns false,
// leaving `in` unspecified, if the buffer is too short.
inline bool get_u8(std::string_view& in, std::uint8_t& v) {
  if (in.empty()) return false;
  v = static_cast<std::uint8_t>(in[0]);
  in.remove_prefix(1);
  return true;
}

inline bool get_u32(std::string_view& in, std::uint32_t& v) {
  if (in.size() < 4) return false;
  v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(in[i]);
  in.remove_prefix(4);
  return true;
}

inline bool get_u64(std::string_view& in, std::uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(in[i]);
  in.remove_prefix(8);
  return true;
}

inline bool get_bytes(std::string_view& in, std::string& v) {
  std::uint32_t n = 0;
  if (!get_u32(in, n) || in.size() < n) return false;
  v.assign(in.data(), n);
  in.remove_prefix(n);
  return true;
}

}  // namespace kw::storage::byte_order
