// haihe::sim — the lab's own pseudo-random numbers.
//
// xoshiro256** (Blackman & Vigna), seeded through splitmix64. The lab never
// uses std::random_device or the standard distributions (whose output is not
// specified across library versions): every draw below is defined here, so a
// seed gives the same run on any machine and compiler.
#pragma once

#include <cassert>
#include <cstdint>

namespace haihe::sim {

__extension__ typedef unsigned __int128 u128;  // 64 x 64 -> 128-bit products

/// One step of splitmix64: advances `state` and returns the next output.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// A seed derived from two values (e.g. a run's seed and an agent's index):
/// distinct inputs give unrelated streams.
inline std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
  std::uint64_t s = a * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL;
  std::uint64_t x = splitmix64(s);
  s ^= b + 0x9e3779b97f4a7c15ULL + (x << 6) + (x >> 2);
  return splitmix64(s);
}

/// xoshiro256**: 2^256 - 1 period, 64-bit outputs.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t sm = seed;
    for (auto& w : s_) w = splitmix64(sm);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, n), n > 0, without modulo bias (Lemire's method).
  std::uint64_t below(std::uint64_t n) {
    assert(n > 0);
    u128 m = static_cast<u128>(next()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<u128>(next()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  /// Uniform integer in [lo, hi], lo <= hi.
  std::int64_t uniform(std::int64_t lo, std::int64_t hi) {
    assert(lo <= hi);
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    if (span == 0) return static_cast<std::int64_t>(next());  // the whole range
    return lo + static_cast<std::int64_t>(below(span));
  }

  /// Uniform double in [0, 1) with 53 random bits.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

}  // namespace haihe::sim
