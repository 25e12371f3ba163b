// MarketRules lookups: by id, by CompID, caps, transfers, compensation,
// levies, may_trade; also on a hand-built MarketRules (no index tables).
#include <gtest/gtest.h>

#include "rules/rules.h"
#include "tests/rules/test_util.h"

namespace haihe::rules::test {
namespace {

TEST(RulesLookups, ByIdAndIndex) {
  const auto r = load_rules_text(kBase);
  ASSERT_EQ(r->regions.size(), 2u);
  EXPECT_EQ(r->find_region("BJ"), 0u);
  EXPECT_EQ(r->find_region("CHENGDE"), 1u);
  EXPECT_EQ(r->find_region("TJ"), kNone);
  EXPECT_EQ(r->find_zone("MIYUN"), 0u);
  EXPECT_EQ(r->find_party("SELLER"), 5u);
  EXPECT_EQ(r->find_party_by_comp_id("BUYER"), 4u);
  EXPECT_EQ(r->find_party_by_comp_id(""), kNone);
  EXPECT_EQ(r->find_party_by_comp_id("NOBODY"), kNone);
  EXPECT_EQ(r->find_instrument("NOX.BJ.2027"), 1u);
  EXPECT_EQ(r->exchange_party(), 0u);
  EXPECT_EQ(r->parties[2].max_msgs_per_s, 0u);   // no FIX
  EXPECT_EQ(r->parties[4].max_msgs_per_s, 50u);  // FIX, default limit
}

TEST(RulesLookups, Caps) {
  const auto r = load_rules_text(with("[[region_caps]]", "[[party_caps]]\nparty = \"BUYER\"\ninstrument = \"WATER.MIYUN.IND.2027\"\nlimit_qty = 3000000\n\n[[region_caps]]"));
  EXPECT_EQ(r->party_limit(4, 0), 3000000);  // override
  EXPECT_EQ(r->party_limit(5, 0), 1000000);  // instrument default
  EXPECT_EQ(r->party_limit(5, 1), 0);        // none
  ASSERT_NE(r->region_cap(0, 0), nullptr);
  EXPECT_EQ(r->region_cap(0, 0)->cap_qty, 500000);
  EXPECT_EQ(r->region_cap(1, 0), nullptr);
  ASSERT_NE(r->zone_cap(0, 2027), nullptr);
  EXPECT_EQ(r->zone_cap(0, 2027)->cap_qty, 2000000);
  EXPECT_EQ(r->zone_cap(0, 2028), nullptr);
}

TEST(RulesLookups, TransfersCompensationLevies) {
  const auto r = load_rules_text(kBase);
  const TransferRule* t = r->transfer(0, 0);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->num, 9);
  EXPECT_EQ(t->den, 10);
  EXPECT_EQ(r->transfer(0, 1), nullptr);  // the zone's own city: 1:1, no rule
  const CompensationRoute* c = r->compensation_for(0, 0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->beneficiary, r->find_party("CD_GOV"));
  EXPECT_EQ(c->fen_per_unit, 20);
  EXPECT_EQ(r->compensation_for(0, 1), nullptr);
  const Levy* l = r->levy_for(r->instruments[1]);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->fund, r->find_party("FUND"));
  EXPECT_EQ(r->levy_for(r->instruments[0]), nullptr);
}

TEST(RulesLookups, PollutantLevyWinsOverAGeneralOne) {
  const auto r = load_rules_text(with("[genesis]", "[[levies]]\nid = \"ALL\"\nkind = \"emission\"\nfund = \"FUND\"\nbps = 50\n\n[genesis]"));
  EXPECT_EQ(r->levy_for(r->instruments[1])->id, "NOX");
  Instrument so2 = r->instruments[1];
  so2.pollutant = Pollutant::so2;
  EXPECT_EQ(r->levy_for(so2)->id, "ALL");
}

TEST(RulesLookups, MayTrade) {
  const auto r = load_rules_text(kBase);
  EXPECT_TRUE(r->may_trade(4, 0));   // BUYER: all
  EXPECT_TRUE(r->may_trade(4, 1));
  EXPECT_TRUE(r->may_trade(5, 0));   // SELLER: water
  EXPECT_FALSE(r->may_trade(5, 1));
  EXPECT_FALSE(r->may_trade(1, 0));  // regulator
  EXPECT_FALSE(r->may_trade(99, 0));
}

TEST(RulesLookups, DefaultsFromMarket) {
  const auto r = load_rules_text(kBase);
  const Instrument& nox = r->instruments[1];
  EXPECT_EQ(nox.unit, "t");
  EXPECT_EQ(nox.lot_qty, 1);
  EXPECT_EQ(nox.mode, TradingMode::continuous);
  EXPECT_EQ(nox.buyer_fee_bps, 5u);
  EXPECT_EQ(nox.seller_fee_bps, 5u);
  EXPECT_EQ(nox.band_bps, 0u);
  ASSERT_EQ(nox.day.sessions.size(), 2u);
  EXPECT_EQ(nox.day.pre_open_min, 9 * 60 + 30);
  EXPECT_EQ(nox.max_order_qty, kMaxTradeValueFen / 2400000);
  EXPECT_EQ(r->instruments[0].unit, "m3");
  EXPECT_EQ(r->instruments[0].max_order_qty, kMaxTradeValueFen / 500);
}

TEST(RulesLookups, HandBuiltRulesWithoutIndexTables) {
  MarketRules r;
  r.regions.push_back(Region{"BJ", "Beijing", "Beijing", RegionLevel::municipality});
  r.regions.push_back(Region{"TJ", "Tianjin", "Tianjin", RegionLevel::municipality});
  Party ex;
  ex.id = "EX";
  ex.kind = PartyKind::exchange;
  Party a;
  a.id = "A";
  a.fix_comp_id = "A_FIX";
  a.may_trade = {0};
  r.parties = {a, ex};
  Instrument i;
  i.symbol = "X";
  i.party_limit_qty = 7;
  r.instruments.push_back(i);
  EXPECT_EQ(r.find_region("TJ"), 1u);
  EXPECT_EQ(r.find_party("EX"), 1u);
  EXPECT_EQ(r.find_party_by_comp_id("A_FIX"), 0u);
  EXPECT_EQ(r.find_instrument("X"), 0u);
  EXPECT_EQ(r.find_instrument("Y"), kNone);
  EXPECT_EQ(r.exchange_party(), 1u);
  EXPECT_EQ(r.party_limit(0, 0), 7);
  EXPECT_EQ(r.party_limit(0, 5), 0);
  EXPECT_TRUE(r.may_trade(0, 0));
  EXPECT_FALSE(r.may_trade(1, 0));
}

TEST(RulesLookups, NamesRoundTrip) {
  EXPECT_EQ(name_of(Pollutant::nh3n), "NH3-N");
  EXPECT_EQ(name_of(PartyKind::city_government), "city_government");
  EXPECT_EQ(name_of(TradingMode::batch), "batch");
  EXPECT_EQ(name_of(InstrumentKind::water), "water");
  EXPECT_EQ(name_of(RegionLevel::prefecture_city), "prefecture_city");
}

TEST(RulesLookups, Sha256OfTheText) {
  const auto r = load_rules_text(kBase);
  const auto r2 = load_rules_text(std::string(kBase) + "\n# a comment\n");
  EXPECT_EQ(r->source_sha256_hex.size(), 64u);
  EXPECT_NE(r->source_sha256_hex, r2->source_sha256_hex);
}

}  // namespace
}  // namespace haihe::rules::test
