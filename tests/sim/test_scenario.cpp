// haihe::sim — scenario files: the built-ins parse, the rules they generate
// are valid, and bad files are refused with a precise message.
#include <gtest/gtest.h>

#include <string>

#include "sim/runner.h"
#include "sim/scenario.h"

namespace haihe::sim {
namespace {

std::string errors_of(const std::string& text) {
  try {
    (void)parse_scenario(text, "t.toml", ".");
  } catch (const ScenarioError& e) {
    return e.what();
  }
  return "";
}

constexpr const char* kMinimal = R"(
[scenario]
name = "mini"
actions = 100
tick_ms = 100
actions_per_tick = 2

[rules.market]
name = "mini"
sessions = ["09:30-15:00"]

[[rules.regions]]
id = "LAB"
province = "none"
level = "municipality"

[[rules.instruments]]
symbol = "U"
kind = "emission"
pollutant = "CO2"
region = "LAB"
vintage = 2027
ceiling_fen = 200
reference_fen = 100

[[agents]]
kind = "zi"
id = "B"
count = 2
role = "buyer"
instrument = "U"
region = "LAB"
values = [[150, 120], [140, 90]]

[[agents]]
kind = "zi"
id = "S"
count = 2
role = "seller"
instrument = "U"
region = "LAB"
costs = [60, 80]
)";

TEST(SimScenario, BuiltinsParseAndPlan) {
  const auto names = builtin_scenario_names();
  ASSERT_GE(names.size(), 3u);
  for (const auto n : {"gode_sunder", "emissions_jjj", "water_haihe"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
  for (const auto n : names) {
    SCOPED_TRACE(std::string(n));
    const Scenario s = load_scenario(std::string(n));
    EXPECT_EQ(s.name, n);
    EXPECT_FALSE(s.agents.empty());
    const Plan p = make_plan(s);
    EXPECT_FALSE(p.treatments.empty());
    EXPECT_FALSE(p.metrics.empty());
    for (const auto& t : p.treatments) EXPECT_EQ(t.rules->exchange_party() != rules::kNone, true);
  }
  // A path to a file that does not exist but names a built-in scenario.
  EXPECT_EQ(load_scenario("nowhere/sim/scenarios/gode_sunder.toml").name, "gode_sunder");
  EXPECT_THROW(load_scenario("no_such_scenario"), ScenarioError);
}

TEST(SimScenario, MinimalExpandsGroupsAndGenesis) {
  const Scenario s = parse_scenario(kMinimal, "t.toml", ".");
  ASSERT_EQ(s.agents.size(), 4u);
  EXPECT_EQ(s.agents[0].party, "B1");
  EXPECT_EQ(s.agents[1].party, "B2");
  EXPECT_EQ(s.agents[1].values, (std::vector<Fen>{140, 90}));
  EXPECT_EQ(s.agents[2].costs, (std::vector<Fen>{60, 80}));
  EXPECT_EQ(s.seeds, (std::vector<std::uint64_t>{1}));
  const auto r = rules::load_rules_text(market_rules_text(s), "t");
  EXPECT_NE(r->find_party("B1"), rules::kNone);
  EXPECT_NE(r->exchange_party(), rules::kNone);
  // A seller holds its units, a buyer can pay the ceiling for its units twice over.
  const auto s1 = r->find_party("S1");
  const auto b2 = r->find_party("B2");
  bool held = false;
  for (const auto& h : r->genesis_holdings) held |= h.party == s1 && h.qty == 2;
  EXPECT_TRUE(held);
  bool cash = false;
  for (const auto& c : r->genesis_cash) cash |= c.party == b2 && c.fen == 2 * 200 * 2;
  EXPECT_TRUE(cash);
  EXPECT_TRUE(r->may_trade(s1, r->find_instrument("U")));
}

TEST(SimScenario, Ladders) {
  std::string t = kMinimal;
  t.replace(t.find("values = [[150, 120], [140, 90]]"), 32, "values_ladder = { high = 100, low = 40, units = 2 }");
  const Scenario s = parse_scenario(t, "t.toml", ".");
  // Four values 100, 80, 60, 40 dealt round robin to two buyers.
  EXPECT_EQ(s.agents[0].values, (std::vector<Fen>{100, 60}));
  EXPECT_EQ(s.agents[1].values, (std::vector<Fen>{80, 40}));
}

TEST(SimScenario, Seeds) {
  EXPECT_EQ(parse_seeds("1..3"), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(parse_seeds("7"), (std::vector<std::uint64_t>{7}));
  EXPECT_EQ(parse_seeds("5,2, 9"), (std::vector<std::uint64_t>{5, 2, 9}));
  for (const char* bad : {"", "3..1", "a", "1,,2", "1..", "1,1", "-1"}) {
    EXPECT_THROW(parse_seeds(bad), std::invalid_argument) << bad;
  }
}

TEST(SimScenario, ErrorsSayWhereAndWhat) {
  std::string t = kMinimal;
  t.replace(t.find("actions = 100"), 13, "actons = 100");
  const std::string e = errors_of(t);
  EXPECT_NE(e.find("t.toml:4:1: scenario.actons: unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("scenario.actions: missing"), std::string::npos) << e;

  t = kMinimal;
  t.replace(t.find("values = [[150, 120], [140, 90]]"), 32, "values = [[120, 150], [140, 90]]");
  EXPECT_NE(errors_of(t).find("values must not rise"), std::string::npos);

  t = kMinimal;
  t.replace(t.find("role = \"buyer\""), 14, "role = \"bidder\"");
  EXPECT_NE(errors_of(t).find("'bidder'; allowed: buyer, seller"), std::string::npos);

  t = kMinimal;
  t.replace(t.find("kind = \"zi\""), 11, "kind = \"genius\"");
  EXPECT_NE(errors_of(t).find("is not an agent kind"), std::string::npos);

  t = kMinimal;
  t.replace(t.find("instrument = \"U\""), 16, "instrument = \"V\"");
  EXPECT_NE(errors_of(t).find("instrument 'V' is not in the rules"), std::string::npos) << errors_of(t);

  t = kMinimal;
  t.replace(t.find("ceiling_fen = 200"), 17, "ceiling_fen = 0");
  EXPECT_NE(errors_of(t).find("rules the scenario generates are not valid"), std::string::npos);

  t = kMinimal;
  t.replace(t.find("[scenario]"), 10, "[scenario]\ndesigns = [\"batch\"]");
  EXPECT_NE(errors_of(t).find("needs its interval"), std::string::npos);

  EXPECT_NE(errors_of("[scenario\n").find("t.toml:1"), std::string::npos);
}

TEST(SimScenario, RunMustFitTheSession) {
  std::string t = kMinimal;
  t.replace(t.find("tick_ms = 100"), 13, "tick_ms = 600000");
  const Scenario s = parse_scenario(t, "t.toml", ".");
  try {
    (void)make_plan(s);
    FAIL() << "expected a ScenarioError";
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("longer than the first session"), std::string::npos) << e.what();
  }
}

TEST(SimScenario, TreatmentsAreDesignsTimesStrategies) {
  const Scenario s = load_scenario("gode_sunder");
  std::string err;
  const Plan p = make_plan(s, {*parse_design("continuous", &err), *parse_design("call", &err)},
                           {Strategy::zi_c, Strategy::zi_u});
  ASSERT_EQ(p.treatments.size(), 4u);
  EXPECT_EQ(p.treatments[0].label, "continuous/zi-c");
  EXPECT_EQ(p.treatments[1].label, "continuous/zi-u");
  EXPECT_EQ(p.treatments[2].label, "call:1m/zi-c");
  EXPECT_EQ(p.treatments[2].rules->instruments[0].mode, rules::TradingMode::call);
  EXPECT_FALSE(p.treatments[2].rules->instruments[0].call_times_min.empty());
}

}  // namespace
}  // namespace haihe::sim
