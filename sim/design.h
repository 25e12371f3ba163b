// haihe::sim — market designs: how every instrument of a market trades.
//
// A design is chosen by writing it into the rules: each instrument's `mode`
// ("continuous" | "batch" | "call"), `batch_interval_ms` and `call_times`
// (rules/README.md). The exchange core then runs that design; the lab never
// matches orders itself.
//
//   continuous      continuous double auction (price-time priority)
//   batch:100ms     uniform-price batch auction every 100 ms (also `batch:2s`)
//   call            call auction every `call_every_min` minutes of the scenario
//   call:5m         call auction every 5 minutes, from each session's start
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rules/rules.h"

namespace haihe::sim {

struct Design {
  rules::TradingMode mode = rules::TradingMode::continuous;
  std::uint32_t batch_interval_ms = 0;  // batch: 1..3600000
  std::uint32_t call_every_min = 0;     // call: 0 = the scenario's default
  /// "continuous", "batch:100ms", "call", "call:5m".
  std::string label() const;
  friend bool operator==(const Design&, const Design&) = default;
};

/// Parses a design; nullopt with `error` set when it is not one.
std::optional<Design> parse_design(std::string_view text, std::string* error);

/// The rules text with every instrument set to `design` (call times every
/// design.call_every_min minutes, > 0, in each of the instrument's sessions,
/// from its start, the session's end included). Other keys keep their values;
/// the text is re-serialised by toml++ (comments are dropped). Throws
/// rules::RulesLoadError when the rules (or the result) are not valid.
std::string apply_design(std::string_view rules_text, const Design& design, std::string_view file);

}  // namespace haihe::sim
