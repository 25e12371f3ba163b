// The steady-state path does not allocate: global operator new is replaced
// in this test binary by a counting one, and a replay (LOB-W1 plus replaces,
// mass cancels, state changes and expiries) runs with counting switched on.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "engine/engine.h"
#include "engine/lob_w1.h"

namespace {
bool g_counting = false;
std::size_t g_allocations = 0;

void* counted_alloc(std::size_t n) {
  if (g_counting) ++g_allocations;
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* counted_alloc_aligned(std::size_t n, std::align_val_t a) {
  if (g_counting) ++g_allocations;
  const auto al = static_cast<std::size_t>(a);
  void* p = std::aligned_alloc(al, (n + al - 1) / al * al);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc_aligned(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace haihe::engine {
namespace {

struct Counting : NullListener {
  std::uint64_t events = 0;
  void on_accepted(const Accepted&) noexcept { ++events; }
  void on_trade(const Trade&) noexcept { ++events; }
  void on_cancelled(const Cancelled&) noexcept { ++events; }
  void on_replaced(const Replaced&) noexcept { ++events; }
  void on_expired(const Expired&) noexcept { ++events; }
  void on_level(const LevelChanged&) noexcept { ++events; }
  void on_indicative(const Indicative&) noexcept { ++events; }
};

TEST(EngineAlloc, SteadyStateDoesNotAllocate) {
#ifdef HAIHE_SANITIZE
  constexpr std::uint64_t kOps = 50'000;
#else
  constexpr std::uint64_t kOps = 300'000;
#endif
  const lob_w1::Workload w = lob_w1::generate(42, kOps, lob_w1::kDeepM);
  InstrumentParams p;
  p.tick_fen = 1;
  p.lot_qty = 1;
  p.floor_fen = 1;
  p.ceiling_fen = 2 * lob_w1::kMid;
  p.reference_fen = lob_w1::kMid;
  p.band_bps = 100;
  p.max_orders = w.peak_resting + 64 + 200;  // + a call phase's orders
  Counting l;
  Engine<Counting> e(std::span<const InstrumentParams>(&p, 1), l);  // allocation happens here
  e.set_state(0, TradingState::open);

  std::uint64_t failures = 0;
  g_allocations = 0;
  g_counting = true;
  for (const auto& op : w.ops) {
    const auto side = static_cast<Side>(op.side);
    const auto acct = static_cast<AccountId>(op.id % 7);
    switch (op.kind) {
      case lob_w1::OpKind::add: {
        const TimeInForce tif = op.id % 3 == 0 ? TimeInForce::day : TimeInForce::gtc;
        e.new_order(NewOrder{0, op.id, acct, side, OrderType::limit, tif,
                             static_cast<StpMode>(op.id % 3), false, op.price, op.qty, 0});
        if (op.id % 5 == 0) {
          e.replace(ReplaceOrder{0, op.id, acct, op.price + (side == Side::buy ? -1 : 1), op.qty + 3});
        }
        break;
      }
      case lob_w1::OpKind::cancel:
        e.cancel(CancelOrder{0, op.id, static_cast<AccountId>(op.id % 7)});
        break;
      case lob_w1::OpKind::market:
        e.new_order(NewOrder{0, op.id, acct, side, OrderType::market, TimeInForce::ioc,
                             StpMode::cancel_oldest, false, 0, op.qty, 0});
        break;
    }
    if (op.id % 50'000 == 49'999) {
      e.mass_cancel(3);
      e.set_state(0, TradingState::midday_break);
      // A call phase: crossing orders (some self-crossing), an indicative,
      // a replace and a cancel, then the uncross and back to open.
      e.set_state(0, TradingState::call);
      for (std::uint64_t k = 0; k < 200; ++k) {
        const OrderId id = 1'000'000'000 + op.id * 1000 + k;
        const auto s = static_cast<Side>(k & 1);
        const auto px = static_cast<PriceFen>(lob_w1::kMid + (s == Side::buy ? 1 : -1) * static_cast<PriceFen>(k % 20));
        e.new_order(NewOrder{0, id, static_cast<AccountId>(k % 7), s, OrderType::limit, TimeInForce::day,
                             static_cast<StpMode>(k % 3), false, px, static_cast<Qty>(1 + k % 9), 0});
        if (k % 10 == 0) e.replace(ReplaceOrder{0, id, static_cast<AccountId>(k % 7), px, 20});
        if (k % 13 == 0) e.cancel(CancelOrder{0, id, static_cast<AccountId>(k % 7)});
      }
      if (e.book(0)->indicative().volume_qty > 0) ++l.events;
      if (e.uncross(0).trades > 0) ++l.events;
      if (e.set_state(0, TradingState::open) != RejectReason::none) ++failures;
      e.expire_gtd(0, 20270101);
      e.set_reference(0, lob_w1::kMid + 1);
      e.book(0)->for_each_resting([&](const RestingOrder&) { ++l.events; });
    }
  }
  e.end_of_day(0);
  g_counting = false;
  EXPECT_EQ(g_allocations, 0u);
  EXPECT_EQ(failures, 0u);
  EXPECT_GT(l.events, kOps);
}

}  // namespace
}  // namespace haihe::engine
