// Recovery is opening the data directory: with 100,000 resting orders (and
// a journal tail after the last snapshot) a restart takes under 10 seconds.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "bench/bench_market.h"
#include "tests/exchange/core_support.h"

namespace haihe::exchange::test {
namespace {

#ifdef HAIHE_SANITIZE
constexpr int kResting = 20'000;  // the sanitizers are ~10x slower
#else
constexpr int kResting = 100'000;
#endif

TEST(CoreRecovery, ManyRestingOrdersReopenQuickly) {
  TempDir dir;
  const std::string text = bench::market_text(32, 4);
  ManualClock clock(beijing(10, 0));
  CoreOptions o;
  o.data_dir = dir.path();
  o.rules = rules::load_rules_text(text, "bench.toml");
  o.rules_text = text;
  o.durability = ledger::Durability::none;
  o.clock = &clock;
  o.max_orders_per_book = 1u << 15;  // 4 books: at most 131,072 resting
  std::string books;
  {
    auto core = Core::open(o);
    std::mt19937_64 rng(42);
    const PartyIndex first = o.rules->find_party("E0");
    std::uint64_t n = 0;
    auto order = [&](bool cross) {
      Command c{};
      c.kind = CommandKind::new_order;
      c.party = first + static_cast<PartyIndex>(rng() % 32);
      c.instrument = static_cast<InstrumentIndex>(rng() % 4);
      c.side = rng() % 2 ? Side::buy : Side::sell;
      c.tif = TimeInForce::gtc;
      const Fen off = 1 + static_cast<Fen>(rng() % 1500);
      c.price_fen = cross ? (c.side == Side::buy ? 10000 + off : 10000 - off)
                          : (c.side == Side::buy ? 10000 - off : 10000 + off);
      c.qty = 1 + static_cast<Qty>(rng() % 20);
      std::string id("O");
      id.append(std::to_string(++n));
      c.cl_ord_id = *ClOrdId::from(id);
      while (core->submit(c) == SubmitResult::busy) core->step();
    };
    for (int k = 0; k < kResting; ++k) order(false);
    // Then trading until a snapshot was taken and a full snapshot interval
    // after it (the longest tail a restart re-runs).
    while (core->stats().snapshots == 0) {
      for (int k = 0; k < 1000; ++k) order(k % 3 == 0);
      core->step();
    }
    for (std::uint64_t k = 0; k < core->resting_orders() * 9 / 10; ++k) order(k % 3 == 0);
    while (core->step() > 0) {
    }
    EXPECT_GE(core->resting_orders(), static_cast<std::uint64_t>(kResting * 9 / 10));
    books = core->books_text();
  }
  const auto started = std::chrono::steady_clock::now();
  auto core = Core::open(o);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(core->books_text(), books);
  EXPECT_GT(core->recovery().snapshot_seq, 0u);
  EXPECT_GT(core->recovery().rerun_commands, 0u);
  EXPECT_LT(seconds, 10.0) << "reopening " << core->resting_orders() << " resting orders";
  std::printf("reopened %llu resting orders in %.2f s (snapshot batch %llu, %llu commands re-run)\n",
              static_cast<unsigned long long>(core->resting_orders()), seconds,
              static_cast<unsigned long long>(core->recovery().snapshot_seq),
              static_cast<unsigned long long>(core->recovery().rerun_commands));
}

}  // namespace
}  // namespace haihe::exchange::test
