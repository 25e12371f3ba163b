// bench/fix_load's pure parts: the config file, the seeded order stream (a
// third of the orders cross on arrival), the send schedule and percentiles.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "bench/fix_load.h"

namespace {

namespace fl = haihe::bench::fixload;

TEST(FixLoadConfig, ParsesEveryDirective) {
  std::string error;
  const auto c = fl::parse_config(
      "# a comment\n"
      "host 10.0.0.1\n"
      "port 9878   # trailing comment\n"
      "price_decimals 2\n"
      "instrument CO2.TJ.2027 9596 1 1\n"
      "instrument SO2.X 550000 100 1\n"
      "\n"
      "session TJ_PANSHAN HAIHE TJ_PANSHAN_POWER secret CO2.TJ.2027,SO2.X\n"
      "session TJ_BINHAI HAIHE - - CO2.TJ.2027\n",
      &error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->host, "10.0.0.1");
  EXPECT_EQ(c->port, 9878);
  ASSERT_EQ(c->instruments.size(), 2u);
  EXPECT_EQ(c->instruments[1].ref_px, 550000);
  EXPECT_EQ(c->instruments[1].tick_px, 100);
  ASSERT_EQ(c->sessions.size(), 2u);
  EXPECT_EQ(c->sessions[0].username, "TJ_PANSHAN_POWER");
  EXPECT_EQ(c->sessions[0].password, "secret");
  EXPECT_EQ(c->sessions[0].instruments, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(c->sessions[1].username, "");
  EXPECT_EQ(c->sessions[1].password, "");
}

TEST(FixLoadConfig, Errors) {
  std::string error;
  auto fails = [&](const char* text, const char* needle) {
    error.clear();
    EXPECT_FALSE(fl::parse_config(text, &error)) << text;
    EXPECT_NE(error.find(needle), std::string::npos) << text << " -> " << error;
  };
  fails("port 0\n", "line 1: port");
  fails("port 70000\n", "port");
  fails("\nprice_decimals 9\n", "line 2: price_decimals");
  fails("instrument A 1 1\n", "SYMBOL REF_PX TICK_PX LOT_QTY");
  fails("instrument A 0 1 1\n", "positive");
  fails("instrument A 1 1 1\ninstrument A 2 1 1\n", "twice");
  fails("session S T U P A\n", "not declared");
  fails("instrument A 1 1 1\nsession S T U P A\nsession S T U P A\n", "twice");
  fails("frobnicate 1\n", "unknown directive");
}

TEST(FixLoadConfig, FormatPrice) {
  EXPECT_EQ(fl::format_price(9596, 2), "95.96");
  EXPECT_EQ(fl::format_price(93, 2), "0.93");
  EXPECT_EQ(fl::format_price(5, 2), "0.05");
  EXPECT_EQ(fl::format_price(550000, 2), "5500.00");
  EXPECT_EQ(fl::format_price(42, 0), "42");
  EXPECT_EQ(fl::format_price(7, 3), "0.007");
}

std::vector<fl::Instrument> instruments() {
  return {{"CO2", 9596, 1, 1}, {"WATER", 93, 1, 1000}, {"SO2", 550000, 100, 1}};
}

TEST(FixLoadStream, SameSeedSameOrders) {
  const auto all = instruments();
  fl::OrderStream a(fl::session_seed(42, 0), all, {0, 1, 2});
  fl::OrderStream b(fl::session_seed(42, 0), all, {0, 1, 2});
  fl::OrderStream c(fl::session_seed(42, 1), all, {0, 1, 2});
  int differ = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto x = a.next(), y = b.next(), z = c.next();
    EXPECT_EQ(x.instrument, y.instrument);
    EXPECT_EQ(x.buy, y.buy);
    EXPECT_EQ(x.price, y.price);
    EXPECT_EQ(x.qty, y.qty);
    differ += (x.price != z.price || x.buy != z.buy) ? 1 : 0;
  }
  EXPECT_GT(differ, 500) << "sessions draw different streams";
  // Pinned: the stream must not change silently between versions.
  fl::OrderStream d(fl::session_seed(42, 0), all, {0});
  const auto first = d.next();
  fl::OrderStream e(fl::session_seed(42, 0), all, {0});
  EXPECT_EQ(e.next().price, first.price);
}

TEST(FixLoadStream, ShapeOfTheMix) {
  const auto all = instruments();
  fl::OrderStream s(7, all, {0, 1, 2}, 5, 3);
  std::map<std::size_t, int> per_instrument;
  int buys = 0, aggressive = 0;
  const int n = 30000;
  for (int i = 0; i < n; ++i) {
    const auto o = s.next();
    const auto& in = all[o.instrument];
    ++per_instrument[o.instrument];
    buys += o.buy ? 1 : 0;
    aggressive += o.aggressive ? 1 : 0;
    const std::int64_t ticks = (o.price - in.ref_px) / in.tick_px;
    ASSERT_EQ((o.price - in.ref_px) % in.tick_px, 0) << "on the tick";
    if (o.aggressive) {
      EXPECT_EQ(ticks, o.buy ? 5 : -5);
    } else {
      EXPECT_TRUE(o.buy ? (ticks >= -5 && ticks <= -1) : (ticks >= 1 && ticks <= 5)) << ticks;
    }
    ASSERT_EQ(o.qty % in.lot_qty, 0);
    EXPECT_GE(o.qty / in.lot_qty, 1);
    EXPECT_LE(o.qty / in.lot_qty, 3);
  }
  EXPECT_NEAR(buys, n / 2, n / 50);
  EXPECT_NEAR(aggressive, n / 3, n / 50);
  for (const auto& [i, count] : per_instrument) EXPECT_NEAR(count, n / 3, n / 50) << i;
}

// A minimal price-time book (one instrument, accounts, self-trade prevention
// cancelling the newest) to check what fraction of the stream trades on
// arrival when two parties' sessions meet.
struct MiniBook {
  struct Rest {
    int account;
    std::int64_t qty;
  };
  std::map<std::int64_t, std::vector<Rest>, std::greater<>> bids;
  std::map<std::int64_t, std::vector<Rest>> asks;

  // true when the order traded on arrival.
  bool add(int account, bool buy, std::int64_t px, std::int64_t qty) {
    bool traded = false;
    auto match = [&](auto& opposite, auto crosses) {
      while (qty > 0 && !opposite.empty() && crosses(opposite.begin()->first)) {
        auto& level = opposite.begin()->second;
        if (level.front().account == account) return false;  // STP: cancel newest
        const std::int64_t q = std::min(qty, level.front().qty);
        qty -= q;
        level.front().qty -= q;
        traded = true;
        if (level.front().qty == 0) level.erase(level.begin());
        if (level.empty()) opposite.erase(opposite.begin());
      }
      return true;
    };
    const bool rest = buy ? match(asks, [&](std::int64_t a) { return a <= px; })
                          : match(bids, [&](std::int64_t b) { return b >= px; });
    if (rest && qty > 0) (buy ? bids[px] : asks[px]).push_back({account, qty});
    return traded;
  }
};

TEST(FixLoadStream, AboutAThirdTradesOnArrival) {
  const auto all = instruments();
  std::vector<fl::OrderStream> streams;
  for (std::size_t s = 0; s < 4; ++s) streams.emplace_back(fl::session_seed(42, s), all, std::vector<std::size_t>{0});
  MiniBook book;
  int traded = 0;
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    const int account = i % 4;
    const auto o = streams[static_cast<std::size_t>(account)].next();
    traded += book.add(account, o.buy, o.price, o.qty) ? 1 : 0;
  }
  const double fraction = static_cast<double>(traded) / n;
  EXPECT_GT(fraction, 0.25);
  EXPECT_LT(fraction, 0.45);
}

TEST(FixLoadSchedule, IntendedTimesAreExactAndMonotone) {
  EXPECT_EQ(fl::intended_offset_ns(0, 3), 0);
  EXPECT_EQ(fl::intended_offset_ns(3, 3), 1'000'000'000);
  EXPECT_EQ(fl::intended_offset_ns(1, 3), 333'333'333);
  EXPECT_EQ(fl::intended_offset_ns(20000, 20000), 1'000'000'000);
  // No drift over a long run: order 10^9 at 7 per second.
  EXPECT_EQ(fl::intended_offset_ns(7'000'000'000ull, 7), 1'000'000'000'000'000'000);
  std::int64_t prev = -1;
  for (std::uint64_t i = 0; i < 10000; ++i) {
    const auto t = fl::intended_offset_ns(i, 7919);
    EXPECT_GE(t, prev);
    prev = t;
  }
}

TEST(FixLoadPercentiles, KnownValues) {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 1000; i >= 1; --i) v.push_back(i);  // unsorted
  const auto s = fl::summarize(v);
  EXPECT_EQ(s.count, 1000u);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.p50, 500);
  EXPECT_EQ(s.p90, 900);
  EXPECT_EQ(s.p99, 990);
  EXPECT_EQ(s.p999, 999);
  EXPECT_EQ(s.max, 1000);
  EXPECT_EQ(s.mean, 500);  // 500.5 truncated
  std::vector<std::int64_t> one{42};
  const auto t = fl::summarize(one);
  EXPECT_EQ(t.p50, 42);
  EXPECT_EQ(t.p999, 42);
  std::vector<std::int64_t> none;
  EXPECT_EQ(fl::summarize(none).count, 0u);
  // A single outlier in 1000 shows at p99.9 only when it is above rank 999.
  std::vector<std::int64_t> w(1000, 10);
  w[0] = 1'000'000;
  const auto u = fl::summarize(w);
  EXPECT_EQ(u.p99, 10);
  EXPECT_EQ(u.p999, 10);
  EXPECT_EQ(u.max, 1'000'000);
  w[1] = 1'000'000;
  EXPECT_EQ(fl::summarize(w).p999, 1'000'000);
  EXPECT_DOUBLE_EQ(fl::median({3.0, 1.0, 2.0}), 2.0);
  EXPECT_DOUBLE_EQ(fl::median({4.0, 1.0, 2.0, 3.0}), 2.5);
}

RC_GTEST_PROP(FixLoadPercentiles, NearestRank, ()) {
  auto v = *rc::gen::nonEmpty(rc::gen::container<std::vector<std::int64_t>>(rc::gen::inRange<std::int64_t>(0, 1000)));
  const auto num = *rc::gen::inRange<std::uint64_t>(1, 1001);
  std::sort(v.begin(), v.end());
  const auto q = fl::quantile_sorted(v, num, 1000);
  // At least num/1000 of the samples are <= q, and fewer are < q.
  const auto le = static_cast<std::uint64_t>(std::upper_bound(v.begin(), v.end(), q) - v.begin());
  const auto lt = static_cast<std::uint64_t>(std::lower_bound(v.begin(), v.end(), q) - v.begin());
  RC_ASSERT(le * 1000 >= num * v.size());
  RC_ASSERT(lt * 1000 < num * v.size());
}

}  // namespace
