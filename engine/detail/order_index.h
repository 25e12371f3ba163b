// haihe::engine internal: order id -> pool slot, a fixed-capacity
// open-addressing table (linear probing, backward-shift deletion, no
// tombstones). Capacity is a power of two >= 2 * max_orders, so the load
// factor never exceeds 1/2 and probes stay short. Nothing iterates over it:
// only point lookups, so its layout never affects output.
#pragma once

#include <cassert>
#include <cstdint>

#include "engine/detail/storage.h"
#include "engine/params.h"

namespace haihe::engine::detail {

class OrderIndex {
 public:
  OrderIndex() = default;
  explicit OrderIndex(std::uint32_t max_entries) {
    std::uint32_t bits = 1;
    while ((std::uint64_t{1} << bits) < std::uint64_t{max_entries} * 2) ++bits;
    shift_ = 64 - bits;
    mask_ = (std::uint32_t{1} << bits) - 1;
    cells_ = ZeroArray<Cell>(std::size_t{mask_} + 1);
    max_entries_ = max_entries;
  }

  /// The slot of `id`, or 0 when absent.
  [[gnu::always_inline]] std::uint32_t find(OrderId id) const noexcept {
    for (std::uint32_t i = home(id);; i = (i + 1) & mask_) {
      const Cell& c = cells_[i];
      if (c.slot == 0) return 0;
      if (c.id == id) return c.slot;
    }
  }

  /// Where a lookup of `id` ended: its slot (0 if absent) and the cell it was
  /// found in, or the empty cell where insert_at() may put it as long as
  /// nothing has been erased since.
  struct Probe {
    std::uint32_t slot;
    std::uint32_t cell;
  };
  [[gnu::always_inline]] Probe probe(OrderId id) const noexcept {
    for (std::uint32_t i = home(id);; i = (i + 1) & mask_) {
      const Cell& c = cells_[i];
      if (c.slot == 0) return Probe{0, i};
      if (c.id == id) return Probe{c.slot, i};
    }
  }
  [[gnu::always_inline]] void insert_at(std::uint32_t cell, OrderId id, std::uint32_t slot) noexcept {
    assert(slot != 0 && cells_[cell].slot == 0);
    assert(size_ < max_entries_);
    cells_[cell] = Cell{id, slot, 0};
    ++size_;
    assert(find(id) == slot);
  }

  /// Adds `id` -> `slot`; `id` must be absent, slot != 0. Returns its cell.
  [[gnu::always_inline]] std::uint32_t insert(OrderId id, std::uint32_t slot) noexcept {
    assert(slot != 0);
    assert(find(id) == 0);
    assert(size_ < max_entries_);
    std::uint32_t i = home(id);
    while (cells_[i].slot != 0) i = (i + 1) & mask_;
    cells_[i] = Cell{id, slot, 0};
    ++size_;
    return i;
  }

  /// Removes the entry in `cell`. Entries after it in its probe run may move
  /// back; on_move(slot, new_cell) is called for each one that does.
  template <class OnMove>
  [[gnu::always_inline]] void erase_at(std::uint32_t cell, OnMove&& on_move) noexcept {
    assert(cells_[cell].slot != 0);
    std::uint32_t i = cell;
    std::uint32_t j = cell;
    // Backward shift: pull later cells of the probe run into the hole when
    // their home position does not lie cyclically in (hole, cell].
    for (;;) {
      j = (j + 1) & mask_;
      const Cell& c = cells_[j];
      if (c.slot == 0) [[likely]] break;
      const std::uint32_t h = home(c.id);
      const bool stays = ((j - h) & mask_) < ((j - i) & mask_);
      if (!stays) {
        cells_[i] = c;
        on_move(c.slot, i);
        i = j;
      }
    }
    cells_[i].slot = 0;
    --size_;
  }

  std::uint32_t size() const noexcept { return size_; }

 private:
  struct Cell {
    OrderId id;
    std::uint32_t slot;  // 0: empty
    std::uint32_t pad;
  };

  std::uint32_t home(OrderId id) const noexcept {
    return static_cast<std::uint32_t>((id * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  ZeroArray<Cell> cells_;
  std::uint32_t shift_ = 63;
  std::uint32_t mask_ = 0;
  std::uint32_t size_ = 0;
  std::uint32_t max_entries_ = 0;
};

}  // namespace haihe::engine::detail
