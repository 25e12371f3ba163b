// Helpers for the rules tests: a small valid market and error assertions.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rules.h"

namespace haihe::rules::test {

// A small, valid market touching every section. Tests mutate it with with().
inline constexpr std::string_view kBase = R"toml([market]
name = "test market"
sessions = ["09:30-11:30", "13:00-15:00"]
buyer_fee_bps = 5
seller_fee_bps = 5

[[regions]]
id = "BJ"
province = "Beijing"
level = "municipality"

[[regions]]
id = "CHENGDE"
province = "Hebei"
level = "prefecture_city"

[[zones]]
id = "MIYUN"
region = "CHENGDE"

[[parties]]
id = "EXCH"
kind = "exchange"

[[parties]]
id = "REG"
kind = "regulator"
fix_comp_id = "REG"

[[parties]]
id = "CD_GOV"
kind = "city_government"
region = "CHENGDE"

[[parties]]
id = "FUND"
kind = "fund"

[[parties]]
id = "BUYER"
kind = "enterprise"
region = "BJ"
fix_comp_id = "BUYER"
may_trade = ["all"]

[[parties]]
id = "SELLER"
kind = "enterprise"
region = "CHENGDE"
fix_comp_id = "SELLER"
may_trade = ["water"]

[[instruments]]
symbol = "WATER.MIYUN.IND.2027"
kind = "water"
zone = "MIYUN"
use_class = "industrial"
vintage = 2027
lot_qty = 1000
tick_fen = 1
floor_fen = 10
ceiling_fen = 500
reference_fen = 93
band_bps = 1000
party_limit_qty = 1000000

[[instruments]]
symbol = "NOX.BJ.2027"
kind = "emission"
pollutant = "NOx"
region = "BJ"
vintage = 2027
tick_fen = 100
floor_fen = 600000
ceiling_fen = 2400000
reference_fen = 660000

[[region_caps]]
region = "BJ"
instrument = "WATER.MIYUN.IND.2027"
cap_qty = 500000

[[zone_caps]]
zone = "MIYUN"
vintage = 2027
cap_qty = 2000000

[[transfers]]
zone = "MIYUN"
buyer_regions = ["BJ"]
rate = "9/10"

[[compensation]]
id = "MIYUN-BJ"
zone = "MIYUN"
buyer_regions = ["BJ"]
beneficiary = "CD_GOV"
fen_per_unit = 20

[[levies]]
id = "NOX"
pollutant = "NOx"
fund = "FUND"
bps = 100

[genesis]
holdings = [
  { party = "SELLER", instrument = "WATER.MIYUN.IND.2027", qty = 900000 },
  { party = "BUYER", instrument = "NOX.BJ.2027", qty = 100 },
]
cash = [
  { party = "BUYER", fen = 100000000 },
]
)toml";

// kBase with the first occurrence of `from` replaced by `to` (which must exist).
inline std::string with(std::string_view from, std::string_view to, std::string_view base = kBase) {
  std::string s(base);
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << "test bug: '" << from << "' not in the base text";
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// 1-based line of the first occurrence of `needle` in `text`.
inline std::uint32_t line_of(std::string_view text, std::string_view needle) {
  const auto at = text.find(needle);
  EXPECT_NE(at, std::string_view::npos) << "test bug: '" << needle << "' not in the text";
  if (at == std::string_view::npos) return 0;
  return static_cast<std::uint32_t>(1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
}

inline std::vector<RulesError> errors_of(std::string_view text) {
  try {
    load_rules_text(text, "t.toml");
  } catch (const RulesLoadError& e) {
    return e.errors();
  }
  return {};
}

inline std::string dump(const std::vector<RulesError>& errors) {
  std::string out;
  for (const auto& e : errors) out += "  " + e.to_string() + "\n";
  return out.empty() ? "  (no errors)\n" : out;
}

// Asserts that loading `text` fails with an error on `field` whose message
// contains `message`, at `line` (0: any line).
inline void expect_error(std::string_view text, std::string_view field, std::string_view message,
                         std::uint32_t line) {
  const auto errors = errors_of(text);
  for (const auto& e : errors) {
    if (e.field == field && e.message.find(message) != std::string::npos) {
      if (line != 0) {
        EXPECT_EQ(e.line, line) << e.to_string();
      }
      EXPECT_GT(e.column, 0u) << e.to_string();
      EXPECT_EQ(e.file, "t.toml");
      return;
    }
  }
  ADD_FAILURE() << "expected an error on '" << field << "' containing '" << message << "', got:\n"
                << dump(errors);
}

}  // namespace haihe::rules::test
