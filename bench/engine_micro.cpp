// engine_micro — Google Benchmark micro-benchmarks of the matching engine:
// adding a passive order, cancelling one, an aggressive order sweeping
// through several price levels, and call auctions: an order entering a
// call book (self-trade check and indicative included) and the uncross.
// Fixed seeds; not pass/fail.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/engine.h"
#include "engine/lob_w1.h"

namespace {

using namespace haihe::engine;

struct Sink : NullListener {
  std::uint64_t fills = 0;
  void on_trade(const Trade& t) noexcept { fills += static_cast<std::uint64_t>(t.qty); }
};

constexpr PriceFen kMid = 100000;
constexpr std::uint32_t kBatch = 4096;

InstrumentParams params(std::uint32_t max_orders = 2 * kBatch) {
  InstrumentParams p;
  p.tick_fen = 1;
  p.lot_qty = 1;
  p.floor_fen = 1;
  p.ceiling_fen = 2 * kMid;
  p.reference_fen = kMid;
  p.band_bps = 100;
  p.max_orders = max_orders;
  return p;
}

std::unique_ptr<Book<Sink>> open_book(Sink& s) {
  auto b = std::make_unique<Book<Sink>>(params(), s);
  b->set_state(TradingState::open);
  return b;
}

NewOrder order(OrderId id, Side side, PriceFen px, Qty qty, TimeInForce tif = TimeInForce::gtc) {
  return NewOrder{0, id, static_cast<AccountId>(id), side, OrderType::limit, tif,
                  StpMode::cancel_newest, false, px, qty, 0};
}

/// A passive limit order joining one of 50 levels on its side.
void BM_AddPassive(benchmark::State& state) {
  Sink sink;
  auto book = open_book(sink);
  haihe::engine::lob_w1::SplitMix64 rng{1};
  std::vector<NewOrder> orders;
  for (std::uint32_t i = 0; i < kBatch; ++i) {
    const auto side = static_cast<Side>(rng.next() & 1);
    const auto off = static_cast<PriceFen>(rng.next() % 50);
    orders.push_back(order(i + 1, side, side == Side::buy ? kMid - 1 - off : kMid + off,
                           static_cast<Qty>(1 + rng.next() % 100)));
  }
  std::uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(book->new_order(orders[i]));
    if (++i == kBatch) {
      state.PauseTiming();
      book = open_book(sink);
      i = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AddPassive);

/// Cancelling a resting order chosen at random among kBatch.
void BM_Cancel(benchmark::State& state) {
  Sink sink;
  std::unique_ptr<Book<Sink>> book;
  haihe::engine::lob_w1::SplitMix64 rng{2};
  std::vector<OrderId> ids(kBatch);
  auto refill = [&] {
    book = open_book(sink);
    for (std::uint32_t k = 0; k < kBatch; ++k) {
      const auto side = static_cast<Side>(rng.next() & 1);
      const auto off = static_cast<PriceFen>(rng.next() % 50);
      book->new_order(order(k + 1, side, side == Side::buy ? kMid - 1 - off : kMid + off, 10));
      ids[k] = k + 1;
    }
    for (std::uint32_t k = kBatch - 1; k > 0; --k) std::swap(ids[k], ids[rng.next() % (k + 1)]);
  };
  refill();
  std::uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(book->cancel(CancelOrder{0, ids[i], static_cast<AccountId>(ids[i])}));
    if (++i == kBatch) {
      state.PauseTiming();
      refill();
      i = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Cancel);

/// An IOC order sweeping state.range(0) levels of 4 orders each.
void BM_Sweep(benchmark::State& state) {
  const auto levels = static_cast<PriceFen>(state.range(0));
  Sink sink;
  auto book = open_book(sink);
  OrderId next = 1;
  for (auto _ : state) {
    for (PriceFen l = 0; l < levels; ++l) {
      for (int k = 0; k < 4; ++k) book->new_order(order(next++, Side::sell, kMid + l, 10));
    }
    const NewOrder sweep = order(next++, Side::buy, kMid + levels - 1, 40 * levels, TimeInForce::ioc);
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(book->new_order(sweep));
    const auto t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  state.counters["fills_per_sweep"] = static_cast<double>(4 * levels);
  state.SetItemsProcessed(state.iterations() * 4 * levels);
}
BENCHMARK(BM_Sweep)->Arg(1)->Arg(4)->Arg(16)->Arg(64)->UseManualTime();

/// A call-phase order stream: limit orders uniformly within +-range(0)/2
/// ticks of the mid on both sides (so bids and asks overlap over range(0)
/// levels and most orders cross), 500 accounts (some self-crossing: the
/// self-trade check at entry runs), the indicative recomputed after each.
/// The book is rebuilt every range(1) orders: the per-order cost averaged
/// over 0..range(1) resting orders, the indicative's O(levels in the
/// overlap) and the self-trade check's O(crossing orders of the other side)
/// included.
std::vector<NewOrder> call_orders(std::uint64_t seed, PriceFen width, std::uint32_t n) {
  haihe::engine::lob_w1::SplitMix64 rng{seed};
  std::vector<NewOrder> orders;
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto side = static_cast<Side>(rng.next() & 1);
    const PriceFen px = kMid - width / 2 + static_cast<PriceFen>(rng.next() % static_cast<std::uint64_t>(width));
    NewOrder o = order(i + 1, side, px, static_cast<Qty>(1 + rng.next() % 100));
    o.account = static_cast<AccountId>(rng.next() % 500);
    o.stp = StpMode::cancel_oldest;
    orders.push_back(o);
  }
  return orders;
}

std::unique_ptr<Book<Sink>> call_book(Sink& s, std::uint32_t max_orders = 2 * kBatch) {
  auto b = std::make_unique<Book<Sink>>(params(max_orders), s);
  b->set_state(TradingState::call);
  return b;
}

void BM_CallAdd(benchmark::State& state) {
  Sink sink;
  const auto n = static_cast<std::uint32_t>(state.range(1));
  auto book = call_book(sink, n);
  const std::vector<NewOrder> orders = call_orders(3, static_cast<PriceFen>(state.range(0)), n);
  std::uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(book->new_order(orders[i]));
    if (++i == n) {
      state.PauseTiming();
      book = call_book(sink, n);
      i = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CallAdd)->Args({10, 4096})->Args({100, 4096})->Args({1000, 4096})->Args({100, 32768});

/// The uncross of a call book holding range(0) orders over 100 levels
/// around the mid.
void BM_Uncross(benchmark::State& state) {
  Sink sink;
  const auto n = static_cast<std::uint32_t>(state.range(0));
  const std::vector<NewOrder> orders = call_orders(4, 100, n);
  std::uint64_t traded = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto book = call_book(sink);
    for (const NewOrder& o : orders) book->new_order(o);
    state.ResumeTiming();
    const UncrossResult r = book->uncross();
    benchmark::DoNotOptimize(r);
    traded += r.trades;
  }
  state.counters["trades_per_uncross"] = static_cast<double>(traded) / static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Uncross)->Arg(1000)->Arg(4000);

}  // namespace

BENCHMARK_MAIN();
