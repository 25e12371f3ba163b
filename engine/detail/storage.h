// haihe::engine internal: fixed-size, zero-initialised arrays and an exact
// division by a constant. Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <memory>
#include <new>
#include <type_traits>

namespace haihe::engine::detail {

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};

/// A fixed-size array of a trivial type, zero-filled, allocated once with
/// calloc. Large arrays come straight from the kernel as zero pages, so the
/// parts never touched (price levels far from the market) cost no memory.
template <class T>
class ZeroArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  ZeroArray() = default;
  explicit ZeroArray(std::size_t n) : size_(n) {
    // 64 spare bytes to align the array to a cache line.
    void* p = std::calloc(1, (n == 0 ? 1 : n) * sizeof(T) + 64);
    if (p == nullptr) throw std::bad_alloc();
    raw_.reset(p);
    const auto a = (reinterpret_cast<std::uintptr_t>(p) + 63) & ~std::uintptr_t{63};
    data_ = reinterpret_cast<T*>(a);
  }
  ZeroArray(ZeroArray&& o) noexcept : raw_(std::move(o.raw_)), data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  ZeroArray& operator=(ZeroArray&& o) noexcept {
    raw_ = std::move(o.raw_);
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
    return *this;
  }
  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  std::size_t size() const noexcept { return size_; }

 private:
  std::unique_ptr<void, FreeDeleter> raw_;
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

__extension__ typedef unsigned __int128 U128;

/// Exact unsigned division by a divisor fixed at start-up, without a divide
/// instruction or a branch: q = high64((2x) * m) with m = ceil(2^63 / d).
/// Exact for every x with x * d < 2^63 (then 2x fits, and the rounding
/// error of m, below d, adds less than one to x * m / 2^63). The book only
/// divides values it has bounded that way (checked when the book is built).
class Divider {
 public:
  Divider() = default;
  explicit Divider(std::uint64_t d) : d_(d), magic_(((std::uint64_t{1} << 63) - 1) / d + 1) {}
  std::uint64_t divisor() const noexcept { return d_; }
  std::uint64_t quotient(std::uint64_t x) const noexcept {
    return static_cast<std::uint64_t>((static_cast<U128>(x << 1) * magic_) >> 64);
  }

 private:
  std::uint64_t d_ = 1;
  std::uint64_t magic_ = std::uint64_t{1} << 63;
};

}  // namespace haihe::engine::detail
