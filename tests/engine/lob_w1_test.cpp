// LOB-W1 (../shared/bench/LOB-W1.md) through the engine: at a small n against
// the reference book (identical event streams), and at n = 1,000,000 against
// the expected table.
#include <gtest/gtest.h>

#include <cstdint>

#include "engine/engine.h"
#include "engine/lob_w1.h"
#include "tests/engine/reference_book.h"
#include "tests/engine/test_util.h"

namespace haihe::engine::test {
namespace {

InstrumentParams lob_params(std::uint32_t max_orders) {
  InstrumentParams p;
  p.tick_fen = 1;
  p.lot_qty = 1;
  p.floor_fen = 1;
  p.ceiling_fen = 2 * lob_w1::kMid;
  p.reference_fen = lob_w1::kMid;
  p.band_bps = 100;
  p.max_orders = max_orders;
  return p;
}

NewOrder to_order(const lob_w1::Op& op) {
  NewOrder o;
  o.id = op.id;
  o.account = static_cast<AccountId>(op.id);
  o.side = static_cast<Side>(op.side);
  o.type = OrderType::limit;
  o.tif = op.kind == lob_w1::OpKind::add ? TimeInForce::gtc : TimeInForce::ioc;
  o.price_fen = op.price;
  o.qty = op.qty;
  return o;
}

struct Counter : NullListener {
  lob_w1::Results r;
  void on_trade(const Trade& t) noexcept {
    ++r.fills;
    r.filled_qty += static_cast<std::uint64_t>(t.qty);
    r.checksum += static_cast<std::uint64_t>(t.qty) * static_cast<std::uint64_t>(t.price_fen);
  }
};

template <class E>
void apply(E& e, const lob_w1::Op& op) {
  if (op.kind == lob_w1::OpKind::cancel) {
    e.cancel(CancelOrder{0, op.id, static_cast<AccountId>(op.id)});
  } else {
    e.new_order(to_order(op));
  }
}

lob_w1::Results run_engine(const lob_w1::Workload& w) {
  const InstrumentParams p = lob_params(w.peak_resting + 16);
  Counter c;
  Engine<Counter> e(std::span<const InstrumentParams>(&p, 1), c);
  e.set_state(0, TradingState::open);
  for (const auto& op : w.ops) apply(e, op);
  c.r.resting = e.book(0)->resting_count();
  return c.r;
}

class LobW1Small : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(LobW1Small, EngineMatchesReferenceEventForEvent) {
#ifdef HAIHE_SANITIZE
  constexpr std::uint64_t kOps = 4000;
#else
  constexpr std::uint64_t kOps = 20000;
#endif
  for (std::uint64_t seed : {1ull, 42ull, 7777ull}) {
    const lob_w1::Workload w = lob_w1::generate(seed, kOps, GetParam());
    const InstrumentParams p = lob_params(w.peak_resting + 16);
    const std::vector<InstrumentParams> ps{p};
    Recorder eo;
    Recorder ro;
    Engine<Recorder> e(ps, eo);
    RefEngine ref(ps, ro);
    e.set_state(0, TradingState::open);
    ref.set_state(0, TradingState::open, false);
    for (std::size_t i = 0; i < w.ops.size(); ++i) {
      apply(e, w.ops[i]);
      apply(ref, w.ops[i]);
      const auto a = eo.take();
      const auto b = ro.take();
      ASSERT_EQ(a, b) << "seed " << seed << " op " << i << "\nengine:\n"
                      << describe(a) << "reference:\n"
                      << describe(b);
      if (i % 1000 == 999) {
        const char* why = e.book(0)->audit();
        ASSERT_EQ(why, nullptr) << why << " after op " << i;
      }
    }
    EXPECT_EQ(run_engine(w), w.expected) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(Profiles, LobW1Small, ::testing::Values(lob_w1::kThinM, lob_w1::kDeepM));

TEST(LobW1, ExpectedTableThin) {
  const lob_w1::Workload w = lob_w1::generate(42, 1'000'000, lob_w1::kThinM);
  EXPECT_EQ(w.expected, lob_w1::kExpectedThin);
  EXPECT_EQ(run_engine(w), lob_w1::kExpectedThin);
}

TEST(LobW1, ExpectedTableDeep) {
  const lob_w1::Workload w = lob_w1::generate(42, 1'000'000, lob_w1::kDeepM);
  EXPECT_EQ(w.expected, lob_w1::kExpectedDeep);
  EXPECT_EQ(run_engine(w), lob_w1::kExpectedDeep);
}

}  // namespace
}  // namespace haihe::engine::test
