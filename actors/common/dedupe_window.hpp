// A bounded window of the most recent command ids an aggregate has seen, with
// the number of events each produced.
//
// Idempotency: a command whose id is still in the window was already applied;
// the decider answers it with no events and the shell replays its cached
// reply. The window is filled by `evolve` from each event's causation id, so
// it survives restarts exactly as far as the log and the snapshot do.
// Invariant: consecutive events with the same causation id count as one
// entry; after N newer commands an id is forgotten (retries must come sooner).
// Fixed storage: recording reuses the strings' capacity, so a warmed-up
// window records without allocating.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace kw {

template <std::size_t N>
class dedupe_window {
public:
  static_assert(N > 0);
  static constexpr std::size_t capacity = N;

  struct entry {
    std::string command_id;
    int events = 0;
    friend bool operator==(const entry& a, const entry& b) {
      return a.command_id == b.command_id && a.events == b.events;
    }
  };

  // The entry for `id`, or nullptr when it is not (or no longer) in the
  // window. An empty id is never found.
  const entry* find(std::string_view id) const noexcept {
    if (id.empty()) return nullptr;
    for (std::size_t i = 0; i < size_; ++i) {
      const entry& e = ring_[(head_ + N - 1 - i) % N];  // newest first
      if (e.command_id.size() == id.size() && e.command_id == id) return &e;
    }
    return nullptr;
  }

  bool contains(std::string_view id) const noexcept { return find(id) != nullptr; }

  // Counts one event caused by `id`. Empty ids are ignored.
  void record(std::string_view id) {
    if (id.empty()) return;
    if (size_ > 0) {
      entry& last = ring_[(head_ + N - 1) % N];
      if (last.command_id == id) {
        ++last.events;
        return;
      }
    }
    push(id, 1);
  }

  // Appends an entry as it was (used when decoding a snapshot).
  void push(std::string_view id, int events) {
    entry& e = ring_[head_];
    e.command_id.assign(id.data(), id.size());
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
  std::size_t head_ = 0;  // next slot to write
  std::size_t size_ = 0;
};

}  // namespace kw
