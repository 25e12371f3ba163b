// haihe::sim — scenarios: who trades what, valued how, under which rules,
// compared across which designs, for how long. A scenario is a TOML file
// (schema in sim/README.md; examples in sim/scenarios/, which are also
// compiled into the binary and found by name).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rules.h"
#include "sim/design.h"

namespace haihe::sim {

using rules::Fen;
using rules::Qty;

enum class AgentKind : std::uint8_t { zi, emission_firm, water_user, market_maker };
/// Zero-intelligence strategies (Gode & Sunder 1993): ZI-C never quotes a
/// price at which the trade would lose money; ZI-U quotes anywhere in the
/// allowed range.
enum class Strategy : std::uint8_t { zi_c, zi_u };
enum class Role : std::uint8_t { buyer, seller, both };

std::string_view name_of(AgentKind k);
std::string_view name_of(Strategy s);
std::string_view name_of(Role r);
std::optional<Strategy> parse_strategy(std::string_view s);

/// One agent (a `count` group in the file is expanded into one per member).
struct AgentSpec {
  AgentKind kind = AgentKind::zi;
  std::string party;       // party id (created in the rules unless it exists there)
  std::string instrument;  // symbol it trades
  std::string region;      // created parties: their region id ("" none)
  std::string party_kind = "enterprise";  // created parties: rules party kind
  Strategy strategy = Strategy::zi_c;
  Role role = Role::both;
  Qty holdings_qty = 0;    // genesis holdings added for it (0: none)
  Fen cash_fen = 0;        // genesis cash added for it (0: none)
  std::uint32_t max_order_lots = 1;  // largest order, in lots
  // zi: induced values (buyer) / costs (seller), fen per lot, in the order traded
  std::vector<Fen> values;
  std::vector<Fen> costs;
  // emission_firm: baseline emissions and marginal abatement cost
  Qty baseline_qty = 0;
  Fen mac_fen = 0;
  Fen mac_slope_fen = 0;
  // water_user: declining marginal value of water held (sim/valuation.h WaterValue)
  Fen mv_fen = 0;
  Fen mv_slope_fen = 0;
  Fen mv_floor_fen = 0;
  Qty mv_block_qty = 0;        // 0: the instrument's lot
  std::int64_t max_lots = 0;   // buyers: most lots wanted; sellers: most sold (0: no limit)
  // market_maker
  Fen half_spread_fen = 0;
  std::uint32_t quote_lots = 1;
  std::int64_t max_inventory_lots = 0;  // most lots held above its start
  Fen skew_fen = 0;                      // quotes move down by this per lot held above its start
};

struct Scenario {
  std::string name;    // [scenario].name
  std::string title;
  std::string source;  // where it was read from (file path or "builtin:NAME")
  std::string base_rules_text;  // the [rules] fragment or the rules file, as TOML
  std::vector<Design> designs;
  std::vector<Strategy> strategies;  // empty: every agent keeps its own
  std::vector<std::uint64_t> seeds;
  std::uint64_t actions = 0;         // agent turns per run
  std::uint32_t tick_ms = 100;       // simulated time between two core steps
  std::uint32_t actions_per_tick = 1;
  std::uint32_t call_every_min = 1;  // the `call` design's interval
  std::uint32_t date = 20270315;     // local trading date simulated (yyyymmdd; a Monday)
  std::vector<AgentSpec> agents;
};

/// A scenario file that is not valid: every problem, one per line.
class ScenarioError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses a scenario. `source` names it in errors; `base_dir` resolves a
/// relative `rules_file`. Throws ScenarioError.
Scenario parse_scenario(std::string_view text, std::string_view source,
                        const std::filesystem::path& base_dir);

/// A file path, or the name of a built-in scenario ("gode_sunder"), or a
/// path whose file does not exist but whose stem names a built-in one
/// (so `sim/scenarios/x.toml` works from anywhere). Throws ScenarioError.
Scenario load_scenario(const std::string& path_or_name);

/// The scenarios compiled into the binary (sim/scenarios/*.toml), by name.
std::vector<std::string_view> builtin_scenario_names();
std::optional<std::string_view> builtin_scenario_text(std::string_view name);

/// The full rules text the scenario trades under (before a design is
/// applied): the base rules plus a party for every agent that has none and
/// its genesis holdings and cash. Throws rules::RulesLoadError when invalid.
std::string market_rules_text(const Scenario& s);

/// "A..B" (inclusive) or "A,B,C". Throws std::invalid_argument.
std::vector<std::uint64_t> parse_seeds(std::string_view text);

}  // namespace haihe::sim
