// haihe::engine internal: a hierarchical bitmap over price levels.
//
// Bit i is set iff level i holds at least one order. Tier 0 has one bit per
// level; each bit of tier t+1 says "word j of tier t is non-zero"; the top
// tier is a single word. Finding the next non-empty level above or below a
// given one costs one word test in the common case and at most
// 2 * tiers word operations (tiers <= 6 for 2^30 levels).
#pragma once

#include <cassert>
#include <cstdint>

#include "engine/detail/storage.h"

namespace haihe::engine::detail {

class LevelBitmap {
 public:
  static constexpr std::uint32_t kMaxTiers = 6;

  LevelBitmap() = default;
  explicit LevelBitmap(std::uint32_t levels) : levels_(levels) {
    assert(levels > 0);
    std::uint64_t total = 0;
    std::uint64_t bits = levels;
    tiers_ = 0;
    for (;;) {
      assert(tiers_ < kMaxTiers);
      const std::uint64_t words = (bits + 63) / 64;
      offset_[tiers_] = static_cast<std::uint32_t>(total);
      words_[tiers_] = static_cast<std::uint32_t>(words);
      total += words;
      ++tiers_;
      if (words == 1) break;
      bits = words;
    }
    bits_ = ZeroArray<std::uint64_t>(static_cast<std::size_t>(total));
    t0_ = bits_.data();
  }

  std::uint32_t levels() const noexcept { return levels_; }

  bool test(std::uint32_t i) const noexcept {
    assert(i < levels_);
    return (tier(0)[i >> 6] >> (i & 63)) & 1u;
  }

  [[gnu::always_inline]] void set(std::uint32_t i) noexcept {
    assert(i < levels_);
    std::uint64_t& w0 = t0_[i >> 6];
    const std::uint64_t before0 = w0;
    w0 = before0 | (std::uint64_t{1} << (i & 63));
    if (before0 != 0) [[likely]] return;
    set_upper(i >> 6);
  }

  [[gnu::always_inline]] void clear(std::uint32_t i) noexcept {
    assert(i < levels_);
    std::uint64_t& w0 = t0_[i >> 6];
    w0 &= ~(std::uint64_t{1} << (i & 63));
    if (w0 != 0) [[likely]] return;
    clear_upper(i >> 6);
  }

  /// The highest set index <= i, or -1. i may be -1.
  [[gnu::always_inline]] std::int32_t find_prev(std::int32_t i) const noexcept {
    assert(i < static_cast<std::int32_t>(levels_));
    if (i >= 0) [[likely]] {
      const auto pos = static_cast<std::uint32_t>(i);
      const std::uint64_t mask = (std::uint64_t{2} << (pos & 63)) - 1;
      const std::uint64_t w = t0_[pos >> 6] & mask;
      if (w != 0) [[likely]] {
        return static_cast<std::int32_t>((pos & ~63u) | (63u - static_cast<std::uint32_t>(__builtin_clzll(w))));
      }
    }
    return find_prev_slow(i);
  }

  /// The lowest set index >= i, or levels(). i may be levels().
  [[gnu::always_inline]] std::int32_t find_next(std::int32_t i) const noexcept {
    assert(i >= 0);
    const auto pos = static_cast<std::uint32_t>(i);
    if (pos < levels_) [[likely]] {
      const std::uint64_t mask = ~std::uint64_t{0} << (pos & 63);
      const std::uint64_t w = t0_[pos >> 6] & mask;
      if (w != 0) [[likely]] {
        return static_cast<std::int32_t>((pos & ~63u) | static_cast<std::uint32_t>(__builtin_ctzll(w)));
      }
    }
    return find_next_slow(i);
  }

 private:
  void set_upper(std::uint32_t i) noexcept {
    for (std::uint32_t t = 1; t < tiers_; ++t) {
      std::uint64_t& w = tier(t)[i >> 6];
      const std::uint64_t before = w;
      w = before | (std::uint64_t{1} << (i & 63));
      if (before != 0) return;
      i >>= 6;
    }
  }

  void clear_upper(std::uint32_t i) noexcept {
    for (std::uint32_t t = 1; t < tiers_; ++t) {
      std::uint64_t& w = tier(t)[i >> 6];
      w &= ~(std::uint64_t{1} << (i & 63));
      if (w != 0) return;
      i >>= 6;
    }
  }

  [[gnu::noinline]] std::int32_t find_prev_slow(std::int32_t i) const noexcept {
    if (i < 0) return -1;
    std::uint64_t pos = static_cast<std::uint64_t>(i);
    for (std::uint32_t t = 0; t < tiers_; ++t) {
      // Bits 0..pos%64 of the word holding pos (2 << 63 wraps to 0: all ones).
      const std::uint64_t mask = (std::uint64_t{2} << (pos & 63)) - 1;
      const std::uint64_t w = tier(t)[pos >> 6] & mask;
      if (w != 0) {
        pos = (pos & ~std::uint64_t{63}) | (63u - static_cast<std::uint64_t>(__builtin_clzll(w)));
        while (t-- > 0) {
          const std::uint64_t down = tier(t)[pos];
          assert(down != 0);
          pos = pos * 64 + (63u - static_cast<std::uint64_t>(__builtin_clzll(down)));
        }
        return static_cast<std::int32_t>(pos);
      }
      if ((pos >> 6) == 0) return -1;
      pos = (pos >> 6) - 1;
    }
    return -1;
  }

  [[gnu::noinline]] std::int32_t find_next_slow(std::int32_t i) const noexcept {
    std::uint64_t pos = static_cast<std::uint64_t>(i);
    const auto none = static_cast<std::int32_t>(levels_);
    for (std::uint32_t t = 0; t < tiers_; ++t) {
      if ((pos >> 6) >= words_[t]) return none;
      const std::uint64_t mask = ~std::uint64_t{0} << (pos & 63);
      const std::uint64_t w = tier(t)[pos >> 6] & mask;
      if (w != 0) {
        pos = (pos & ~std::uint64_t{63}) | static_cast<std::uint64_t>(__builtin_ctzll(w));
        while (t-- > 0) {
          const std::uint64_t down = tier(t)[pos];
          assert(down != 0);
          pos = pos * 64 + static_cast<std::uint64_t>(__builtin_ctzll(down));
        }
        return static_cast<std::int32_t>(pos);
      }
      pos = (pos >> 6) + 1;
    }
    return none;
  }

  std::uint64_t* tier(std::uint32_t t) noexcept { return bits_.data() + offset_[t]; }
  const std::uint64_t* tier(std::uint32_t t) const noexcept { return bits_.data() + offset_[t]; }

  ZeroArray<std::uint64_t> bits_;
  std::uint64_t* t0_ = nullptr;  // tier 0 = bits_.data()
  std::uint32_t offset_[kMaxTiers] = {};
  std::uint32_t words_[kMaxTiers] = {};
  std::uint32_t tiers_ = 0;
  std::uint32_t levels_ = 0;
};

}  // namespace haihe::engine::detail
