// Differential property tests: long random command streams (every command
// kind, several accounts, two instruments) through the engine and the
// reference book; event streams must be identical and the invariants hold
// after every command. Failures print the seed (or RapidCheck's reproduction
// string) and the step.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <vector>

#include "engine/lob_w1.h"
#include "tests/engine/harness.h"

namespace haihe::engine::test {
namespace {

#ifdef HAIHE_SANITIZE
constexpr double kRcScale = 10.0;
constexpr std::uint64_t kSeeds = 100;
constexpr std::uint64_t kSteps = 3000;
#else
constexpr double kRcScale = 40.0;
constexpr std::uint64_t kSeeds = 300;
constexpr std::uint64_t kSteps = 4000;
#endif

TEST(EngineProperty, SeededStreamsMatchReference) {
  std::uint64_t total_trades = 0;
  std::uint64_t total_uncrosses = 0;
  std::uint64_t total_book_crossed = 0;
  std::map<std::size_t, std::uint64_t> kinds;
  std::map<int, std::uint64_t> rejects;
  // HAIHE_ENGINE_SEED=N runs that one seed (to reproduce a failure).
  std::uint64_t first = 1;
  std::uint64_t last = kSeeds;
  if (const char* env = std::getenv("HAIHE_ENGINE_SEED")) first = last = std::strtoull(env, nullptr, 10);
  for (std::uint64_t seed = first; seed <= last; ++seed) {
    Harness h;
    lob_w1::SplitMix64 rng{seed};
    std::uint32_t w[kWordsPerCommand];
    for (std::uint64_t i = 0; i < kSteps; ++i) {
      for (auto& x : w) x = static_cast<std::uint32_t>(rng.next());
      const std::string err = h.step(w);
      if (!err.empty()) {
        FAIL() << "seed " << seed << " (reproduce: HAIHE_ENGINE_SEED=" << seed
               << " engine_tests --gtest_filter=EngineProperty.SeededStreamsMatchReference)\n"
               << err;
      }
    }
    total_trades += h.trades();
    total_uncrosses += h.uncrosses();
    total_book_crossed += h.book_crossed();
    for (const auto& [k, n] : h.kinds()) kinds[k] += n;
    for (const auto& [k, n] : h.rejects()) rejects[k] += n;
  }
  std::ostringstream s;
  static constexpr const char* kNames[] = {"accepted", "rejected", "trade",     "cancelled",
                                           "replaced", "expired",  "level",     "state",
                                           "reference", "indicative"};
  for (const auto& [k, n] : kinds) s << " " << kNames[k] << "=" << n;
  s << "\n rejects:";
  for (const auto& [k, n] : rejects) s << " " << to_string(static_cast<RejectReason>(k)) << "=" << n;
  std::printf("event mix:%s\n uncrosses that traded: %llu, set_state(open) refused (book_crossed): %llu\n",
              s.str().c_str(), static_cast<unsigned long long>(total_uncrosses),
              static_cast<unsigned long long>(total_book_crossed));
  // The streams must actually exercise matching, and every reason an order
  // command can be rejected for (the rest are admin/restore results, covered
  // by unit tests).
  if (first != last) {
    // (1 in 20 commands before call phases; books now spend about a third
    // of the time collecting orders in pre_open/call, which trade only at
    // an uncross.)
    EXPECT_GT(total_trades, kSeeds * kSteps / 30);
    EXPECT_GT(total_uncrosses, kSeeds);
    EXPECT_GT(total_book_crossed, 0u);
    EXPECT_GT(kinds[9], kSeeds * 10) << "too few Indicative events";
  }
  EXPECT_EQ(rejects[static_cast<int>(RejectReason::crosses_in_pre_open)], 0u);
  for (int r = 1; r < kRejectReasonCount; ++r) {
    const auto reason = static_cast<RejectReason>(r);
    if (reason == RejectReason::invalid_state || reason == RejectReason::restore_invalid ||
        reason == RejectReason::restore_crosses || reason == RejectReason::book_crossed ||
        reason == RejectReason::crosses_in_pre_open /* no longer produced */) {
      continue;
    }
    if (first != last) {
      EXPECT_GT(rejects[r], 0u) << "never produced: " << to_string(reason);
    }
  }
}

RC_GTEST_PROP(EngineProperty, RandomStreamsMatchReference, ()) {
  const auto words = *rc::gen::scale(
      kRcScale, rc::gen::container<std::vector<std::uint32_t>>(rc::gen::arbitrary<std::uint32_t>()));
  Harness h;
  for (std::size_t i = 0; i + kWordsPerCommand <= words.size(); i += kWordsPerCommand) {
    const std::string err = h.step(&words[i]);
    RC_ASSERT(err == std::string());
  }
}

}  // namespace
}  // namespace haihe::engine::test
