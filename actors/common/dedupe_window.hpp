// A bounded window of the most recent command ids an aggregate has seen, with
// the number of events each produced.
//
// Idempotency: a command whose id is still in the window was already applied;
// the decider answers it with no events and the shell replays its cached
// reply. The window is filled by `evolve` from each event's causation id, so
// it survives restarts exactly as far as the log and the snapshot do.
// Invariant: the events of one command count as one entry, even when
// something else comes between them (a command's check result and its
// status change are in two topics, and a replay may interleave them with
// another command's); after N newer commands an id is forgotten (retries
// must come sooner). A retried command appends nothing, so an id that is
// still in the window never starts a second entry.
// Fixed storage, no heap: an entry keeps a 64-bit FNV-1a hash of the id, not
// the id (16 bytes an entry: a monitor has one window each, so size matters).
// The hash is stable across builds and runs — snapshots store it — and a
// false match needs a 64-bit collision among the last N ids of one aggregate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kw {

template <std::size_t N>
class dedupe_window {
public:
  static_assert(N > 0);
  static constexpr std::size_t capacity = N;

  struct entry {
    std::uint64_t id_hash = 0;
    int events = 0;
    friend bool operator==(const entry& a, const entry& b) {
      return a.id_hash == b.id_hash && a.events == b.events;
    }
  };

  // FNV-1a, 64 bit: fixed by definition, so persisted hashes stay valid.
  static constexpr std::uint64_t hash(std::string_view id) noexcept {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : id) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
    return h;
  }

  // The entry for `id`, or nullptr when it is not (or no longer) in the
  // window. An empty id is never found.
  const entry* find(std::string_view id) const noexcept {
    if (id.empty()) return nullptr;
    const auto h = hash(id);
    for (std::size_t i = 0; i < size_; ++i) {
      const entry& e = ring_[(head_ + N - 1 - i) % N];  // newest first
      if (e.id_hash == h) return &e;
    }
    return nullptr;
  }

  bool contains(std::string_view id) const noexcept { return find(id) != nullptr; }

  // Counts one event caused by `id`. Empty ids are ignored.
  void record(std::string_view id) {
    if (id.empty()) return;
    const auto h = hash(id);
    for (std::size_t i = 0; i < size_; ++i) {
      entry& e = ring_[(head_ + N - 1 - i) % N];  // newest first: usually the last
      if (e.id_hash == h) {
        ++e.events;
        return;
      }
    }
    push(h, 1);
  }

  // Appends an entry as it was (used when decoding a snapshot).
  void push(std::uint64_t id_hash, int events) {
    entry& e = ring_[head_];
    e.id_hash = id_hash;
    e.events = events;
    head_ = (head_ + 1) % N;
    if (size_ < N) ++size_;
  }

  std::size_t size() const noexcept { return size_; }

  // Visits the entries oldest first.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < size_; ++i) f(ring_[(head_ + N - size_ + i) % N]);
  }

  friend bool operator==(const dedupe_window& a, const dedupe_window& b) {
    if (a.size_ != b.size_) return false;
    for (std::size_t i = 0; i < a.size_; ++i)
      if (!(a.ring_[(a.head_ + N - a.size_ + i) % N] == b.ring_[(b.head_ + N - b.size_ + i) % N]))
        return false;
    return true;
  }
  friend bool operator!=(const dedupe_window& a, const dedupe_window& b) { return !(a == b); }

private:
  std::array<entry, N> ring_{};
  std::uint32_t head_ = 0;  // next slot to write
  std::uint32_t size_ = 0;
};

}  // namespace kw
