// log_tamper: what someone with write access to a stopped node's disk could
// do to its embedded log, for audit_tamper_test.py. It edits the RocksDB of
// <DIR>/log directly (the layout of storage/rocks_log.cpp: column family
// "log", key = topic u8 ‖ partition u32 ‖ offset u64, big-endian; value =
// format u8 ‖ key ‖ headers ‖ value, each byte string u32-length-prefixed).
//
//   log_tamper DIR flip P OFFSET     change one byte of the record's value
//   log_tamper DIR remove P OFFSET   delete the record, later ones move down
//   log_tamper DIR swap P A B        exchange two records
//   log_tamper DIR cut P OFFSET      delete the record and everything after it
//   log_tamper DIR reseal P OFFSET   change the record (one byte of its
//                                    correlationid) and recompute the hashes of
//                                    it and of every later record of its tenant:
//                                    a chain that verifies, over a rewritten history
// Only the events topic (1) is touched. Exits 0 when done.
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "events/hash_chain.hpp"
#include "storage/byte_order.hpp"

namespace bo = kw::storage::byte_order;

namespace {

struct raw_record {
  std::uint8_t format = 0;
  std::string key, value;
  std::vector<std::pair<std::string, std::string>> headers;
};

std::string log_key(int p, std::uint64_t offset) {
  std::string k;
  bo::put_u8(k, 1);
  bo::put_u32(k, static_cast<std::uint32_t>(p));
  bo::put_u64(k, offset);
  return k;
}

bool parse(std::string_view in, raw_record& r) {
  std::uint32_t n = 0;
  if (!bo::get_u8(in, r.format) || !bo::get_bytes(in, r.key) || !bo::get_u32(in, n)) return false;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string a, b;
    if (!bo::get_bytes(in, a) || !bo::get_bytes(in, b)) return false;
    r.headers.emplace_back(a, b);
  }
  return bo::get_bytes(in, r.value);
}

std::string serialise(const raw_record& r) {
  std::string out;
  bo::put_u8(out, r.format);
  bo::put_bytes(out, r.key);
  bo::put_u32(out, static_cast<std::uint32_t>(r.headers.size()));
  for (auto& [a, b] : r.headers) {
    bo::put_bytes(out, a);
    bo::put_bytes(out, b);
  }
  bo::put_bytes(out, r.value);
  return out;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "log_tamper: %s\n", what.c_str());
  std::exit(2);
}

// One byte of the record's correlationid changes (still valid JSON).
void change(std::string& value) {
  auto at = value.find("\"correlationid\":\"");
  if (at == std::string::npos) die("a record without a correlationid");
  at += 17;
  if (value[at] == '"') {
    value.insert(at, "x");
  } else {
    value[at] = value[at] == 'z' ? 'y' : 'z';
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) die("usage: log_tamper DIR flip|remove|swap|cut|reseal P OFFSET [B]");
  const std::string dir = std::string(argv[1]) + "/log", op = argv[2];
  const int p = std::atoi(argv[3]);
  const std::uint64_t off = std::strtoull(argv[4], nullptr, 10);

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* name : {"default", "log", "offsets", "chains", "meta"})
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(rocksdb::DBOptions(), dir, cfs, &handles, &raw);
  if (!s.ok()) die("open " + dir + ": " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ColumnFamilyHandle* log = handles[1];

  // Every record of the partition from `off` on, in offset order.
  std::vector<std::pair<std::uint64_t, raw_record>> tail;
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), log));
    const std::string prefix = log_key(p, 0).substr(0, 5);
    for (it->Seek(log_key(p, off)); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string_view k(it->key().data() + 5, it->key().size() - 5);
      std::uint64_t o = 0;
      bo::get_u64(k, o);
      raw_record r;
      if (!parse(std::string_view(it->value().data(), it->value().size()), r)) die("a record does not parse");
      tail.emplace_back(o, std::move(r));
    }
  }
  if (tail.empty() || tail.front().first != off) die("no record at that offset");
  auto put = [&](std::uint64_t o, const raw_record& r) {
    if (auto st = db->Put(rocksdb::WriteOptions(), log, log_key(p, o), serialise(r)); !st.ok()) die(st.ToString());
  };

  if (op == "flip") {
    change(tail[0].second.value);
    put(off, tail[0].second);
  } else if (op == "remove") {
    for (std::size_t i = 1; i < tail.size(); ++i) put(tail[i].first - 1, tail[i].second);
    db->Delete(rocksdb::WriteOptions(), log, log_key(p, tail.back().first));
  } else if (op == "swap") {
    if (argc < 6) die("swap needs two offsets");
    const std::uint64_t b = std::strtoull(argv[5], nullptr, 10);
    auto other = std::find_if(tail.begin(), tail.end(), [&](auto& x) { return x.first == b; });
    if (other == tail.end() || b <= off) die("swap needs a second, later offset");
    put(off, other->second);
    put(b, tail[0].second);
  } else if (op == "cut") {
    for (auto& [o, r] : tail) db->Delete(rocksdb::WriteOptions(), log, log_key(p, o));
  } else if (op == "reseal") {
    const std::string tenant = tail[0].second.key;
    auto at = tail[0].second.value.find("\"prevhash\":\"");
    std::string prev = tail[0].second.value.substr(at + 12, tail[0].second.value.find('"', at + 12) - at - 12);
    change(tail[0].second.value);
    for (auto& [o, r] : tail) {
      if (r.key != tenant) continue;
      auto h = kw::seal(prev, r.value);
      if (!h) die("reseal: " + h.err().message);
      prev = *h;
      put(o, r);
    }
  } else {
    die("unknown operation " + op);
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  std::printf("%s done\n", op.c_str());
  return 0;
}
