// haihe::rules — a short, readable summary of a loaded MarketRules
// (what `haihe rules check` prints), and the counts behind it.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "rules/rules.h"

namespace haihe::rules {

struct RulesSummary {
  std::size_t regions = 0;
  std::size_t municipalities = 0;
  std::size_t prefecture_cities = 0;
  std::size_t zones = 0;
  std::size_t parties = 0;
  std::array<std::size_t, 6> parties_by_kind{};  // indexed by PartyKind
  std::size_t parties_with_fix = 0;
  std::size_t instruments = 0;
  std::size_t water_instruments = 0;
  std::size_t emission_instruments = 0;
  std::array<std::size_t, 3> instruments_by_mode{};  // indexed by TradingMode
  std::size_t party_caps = 0;
  std::size_t region_caps = 0;
  std::size_t zone_caps = 0;
  std::size_t instruments_with_party_limit = 0;
  std::size_t transfer_rules = 0;
  std::size_t compensation_routes = 0;
  std::size_t levies = 0;
  std::size_t genesis_holdings = 0;
  std::size_t genesis_cash_accounts = 0;
  Fen genesis_cash_fen = 0;
};

RulesSummary summarize(const MarketRules& r);

/// A few dozen lines: counts, the compensation routes, and each instrument's
/// issued total and price limits. Ends with a newline.
std::string format_summary(const MarketRules& r);

}  // namespace haihe::rules
