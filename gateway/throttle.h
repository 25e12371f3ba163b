// haihe::gateway — per-session message throttle: a token bucket of
// `per_s` tokens, refilled continuously (per_s tokens per second), one token
// per application message. Integer arithmetic in nano-tokens; the caller
// passes a monotonic clock reading. One session thread uses it.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>

namespace haihe::gateway {

class Throttle {
 public:
  static constexpr std::int64_t kNsPerS = 1'000'000'000;
  static constexpr std::uint32_t kMaxPerS = 1'000'000;

  /// per_s == 0: no limit. Starts full.
  explicit Throttle(std::uint32_t per_s = 0) { reset(per_s); }

  void reset(std::uint32_t per_s) {
    per_s_ = std::min(per_s, kMaxPerS);
    capacity_ = static_cast<std::int64_t>(per_s_) * kNsPerS;  // <= 1e15
    tokens_ = capacity_;
    last_ns_ = -1;
  }

  /// True: the message may pass (a token is taken). False: over the limit.
  bool allow(std::int64_t now_ns) {
    if (per_s_ == 0) return true;
    if (last_ns_ >= 0 && now_ns > last_ns_) {
      const std::int64_t elapsed = std::min(now_ns - last_ns_, kNsPerS);  // bounds the product
      tokens_ = std::min(capacity_, tokens_ + elapsed * static_cast<std::int64_t>(per_s_));
    }
    if (last_ns_ < 0 || now_ns > last_ns_) last_ns_ = now_ns;
    assert(tokens_ >= 0 && tokens_ <= capacity_);
    if (tokens_ < kNsPerS) return false;
    tokens_ -= kNsPerS;
    return true;
  }

  std::uint32_t per_s() const { return per_s_; }

 private:
  std::uint32_t per_s_ = 0;
  std::int64_t capacity_ = 0;
  std::int64_t tokens_ = 0;
  std::int64_t last_ns_ = -1;
};

}  // namespace haihe::gateway
