// The default Beijing-Tianjin-Hebei market loads, and what it loads is what
// the file declares and what DOMAIN.md says.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <toml++/toml.h>

#include "rules/rules.h"
#include "rules/summary.h"

namespace haihe::rules {
namespace {

const MarketRules& def() {
  static const auto rules = load_default_rules();
  return *rules;
}

std::size_t count_array(const toml::table& doc, std::string_view key) {
  const auto* a = doc[key].as_array();
  return a != nullptr ? a->size() : 0;
}

TEST(DefaultMarket, Loads) {
  EXPECT_EQ(def().name, "Beijing-Tianjin-Hebei default market");
  EXPECT_EQ(def().utc_offset_min, 480);
  EXPECT_EQ(def().source_sha256_hex.size(), 64u);
  EXPECT_FALSE(default_rules_text().empty());
}

TEST(DefaultMarket, SummaryMatchesWhatTheFileDeclares) {
  // Count the file's tables independently of the loader.
  const toml::table doc = toml::parse(default_rules_text());
  const RulesSummary s = summarize(def());
  EXPECT_EQ(s.regions, count_array(doc, "regions"));
  EXPECT_EQ(s.zones, count_array(doc, "zones"));
  EXPECT_EQ(s.parties, count_array(doc, "parties"));
  EXPECT_EQ(s.instruments, count_array(doc, "instruments"));
  EXPECT_EQ(s.party_caps, count_array(doc, "party_caps"));
  EXPECT_EQ(s.region_caps, count_array(doc, "region_caps"));
  EXPECT_EQ(s.zone_caps, count_array(doc, "zone_caps"));
  EXPECT_EQ(s.compensation_routes, count_array(doc, "compensation"));
  EXPECT_EQ(s.levies, count_array(doc, "levies"));
  std::size_t transfer_rules = 0;
  for (const auto& t : *doc["transfers"].as_array()) {
    transfer_rules += t.as_table()->get("buyer_regions")->as_array()->size();
  }
  EXPECT_EQ(s.transfer_rules, transfer_rules);
  EXPECT_EQ(s.genesis_holdings, doc["genesis"]["holdings"].as_array()->size());
  EXPECT_EQ(s.genesis_cash_accounts, doc["genesis"]["cash"].as_array()->size());
  Fen cash = 0;
  for (const auto& c : *doc["genesis"]["cash"].as_array()) cash += c.as_table()->get("fen")->value<Fen>().value();
  EXPECT_EQ(s.genesis_cash_fen, cash);
  std::size_t enterprises = 0;
  for (const auto& p : *doc["parties"].as_array()) {
    if (p.as_table()->get("kind")->value<std::string>() == "enterprise") ++enterprises;
  }
  EXPECT_EQ(s.parties_by_kind[static_cast<int>(PartyKind::enterprise)], enterprises);

  // And the printed summary says so.
  const std::string text = format_summary(def());
  EXPECT_NE(text.find("regions      " + std::to_string(s.regions)), std::string::npos) << text;
  EXPECT_NE(text.find("instruments  " + std::to_string(s.instruments)), std::string::npos) << text;
  EXPECT_NE(text.find("compensation " + std::to_string(s.compensation_routes) + " routes"), std::string::npos);
  EXPECT_NE(text.find("MIYUN-CHAO-BJ"), std::string::npos);
}

TEST(DefaultMarket, HasTheRegionsPartiesAndFundsTheDesignNames) {
  const MarketRules& r = def();
  for (const char* id : {"BJ", "TJ", "CHENGDE", "ZHANGJIAKOU", "TANGSHAN", "BAODING", "LANGFANG",
                         "SHIJIAZHUANG"}) {
    EXPECT_NE(r.find_region(id), kNone) << id;
  }
  const RulesSummary s = summarize(r);
  EXPECT_GE(s.parties_by_kind[static_cast<int>(PartyKind::enterprise)], 12u);
  EXPECT_EQ(s.parties_by_kind[static_cast<int>(PartyKind::exchange)], 1u);
  EXPECT_GE(s.parties_by_kind[static_cast<int>(PartyKind::regulator)], 1u);
  EXPECT_GE(s.parties_by_kind[static_cast<int>(PartyKind::fund)], 2u);
  EXPECT_GE(s.parties_by_kind[static_cast<int>(PartyKind::other)], 1u);
  for (const char* gov : {"CHENGDE_GOV", "ZHANGJIAKOU_GOV", "TANGSHAN_GOV"}) {
    const PartyIndex p = r.find_party(gov);
    ASSERT_NE(p, kNone) << gov;
    EXPECT_EQ(r.parties[p].kind, PartyKind::city_government);
  }
  // Enterprises span Beijing, Tianjin and Hebei.
  std::set<std::string> provinces;
  for (const Party& p : r.parties) {
    if (p.kind == PartyKind::enterprise) provinces.insert(r.regions[p.region].province);
  }
  EXPECT_EQ(provinces, (std::set<std::string>{"Beijing", "Hebei", "Tianjin"}));
  EXPECT_EQ(r.parties[r.exchange_party()].id, "HAIHE_EXCHANGE");
}

TEST(DefaultMarket, CompensationRoutesFollowTheAgreements) {
  const MarketRules& r = def();
  auto beneficiary = [&](const char* zone, const char* region) -> std::string {
    const auto* c = r.compensation_for(r.find_zone(zone), r.find_region(region));
    return c != nullptr ? r.parties[c->beneficiary].id : "";
  };
  EXPECT_EQ(beneficiary("MIYUN_CHAO", "BJ"), "CHENGDE_GOV");
  EXPECT_EQ(beneficiary("MIYUN_BAI", "BJ"), "ZHANGJIAKOU_GOV");
  EXPECT_EQ(beneficiary("GUANTING", "BJ"), "ZHANGJIAKOU_GOV");
  EXPECT_EQ(beneficiary("LUAN_UPPER", "TJ"), "CHENGDE_GOV");
  EXPECT_EQ(beneficiary("PANJIAKOU", "TJ"), "TANGSHAN_GOV");
  EXPECT_EQ(beneficiary("LUAN_UPPER", "TANGSHAN"), "");  // transfer allowed, no compensation
  ASSERT_NE(r.transfer(r.find_zone("LUAN_UPPER"), r.find_region("TANGSHAN")), nullptr);
  EXPECT_EQ(r.transfer(r.find_zone("MIYUN_CHAO"), r.find_region("TJ")), nullptr);
}

TEST(DefaultMarket, HebeiFloorPricesAndCarbonMarketRules) {
  const MarketRules& r = def();
  auto inst = [&](const char* sym) -> const Instrument& {
    const InstrumentIndex i = r.find_instrument(sym);
    EXPECT_NE(i, kNone) << sym;
    return r.instruments.at(i);
  };
  // yuan per tonne x 100 = fen per tonne
  EXPECT_EQ(inst("SO2.TANGSHAN.2027").floor_fen, 5000 * 100);
  EXPECT_EQ(inst("NOX.TANGSHAN.2027").floor_fen, 6000 * 100);
  EXPECT_EQ(inst("COD.CANGZHOU.2027").floor_fen, 4000 * 100);
  EXPECT_EQ(inst("NH3N.BAODING.2027").floor_fen, 8000 * 100);
  const Instrument& co2 = inst("CO2.TJ.2027");
  EXPECT_EQ(co2.tick_fen, 1);
  EXPECT_EQ(co2.lot_qty, 1);
  EXPECT_EQ(co2.band_bps, 1000u);
  EXPECT_EQ(co2.block_min_qty, 100000);
  EXPECT_EQ(co2.block_band_bps, 3000u);
  ASSERT_EQ(co2.day.sessions.size(), 2u);
  EXPECT_EQ(co2.day.sessions[0].start_min, 9 * 60 + 30);
  EXPECT_EQ(co2.day.sessions[0].end_min, 11 * 60 + 30);
  EXPECT_EQ(co2.day.sessions[1].start_min, 13 * 60);
  EXPECT_EQ(co2.day.sessions[1].end_min, 15 * 60);
  EXPECT_EQ(inst("WATER.MIYUN_CHAO.MUN.2027").reference_fen, 93);  // 0.93 yuan/m3
  EXPECT_EQ(inst("WATER.PANJIAKOU.MUN.2027").mode, TradingMode::batch);
  EXPECT_EQ(inst("WATER.MIYUN_CHAO.AGR.2027").mode, TradingMode::call);
}

TEST(DefaultMarket, TradeIsWorthwhileAndCapsBindSomewhere) {
  const MarketRules& r = def();
  // Every instrument has at least one holder and one other party allowed to trade it.
  for (InstrumentIndex i = 0; i < r.instruments.size(); ++i) {
    std::set<PartyIndex> holders, traders;
    for (const auto& h : r.genesis_holdings) {
      if (h.instrument == i) holders.insert(h.party);
    }
    for (PartyIndex p = 0; p < r.parties.size(); ++p) {
      if (r.may_trade(p, i)) traders.insert(p);
    }
    EXPECT_FALSE(holders.empty()) << r.instruments[i].symbol;
    EXPECT_GE(traders.size(), 2u) << r.instruments[i].symbol;
  }
  // Tangshan's SO2 cap leaves less than 10% headroom over what was issued.
  const InstrumentIndex so2 = r.find_instrument("SO2.TANGSHAN.2027");
  const RegionCap* cap = r.region_cap(r.find_region("TANGSHAN"), so2);
  ASSERT_NE(cap, nullptr);
  Qty issued = 0;
  for (const auto& h : r.genesis_holdings) {
    if (h.instrument == so2) issued += h.qty;
  }
  EXPECT_LE(issued, cap->cap_qty);
  EXPECT_GT(issued * 10, cap->cap_qty * 9);
  // Buyers downstream have cash.
  for (const char* buyer : {"BJ_WATERWORKS", "TJ_WATERWORKS", "TS_CAOFEIDIAN_STEEL"}) {
    const PartyIndex p = r.find_party(buyer);
    bool has_cash = false;
    for (const auto& c : r.genesis_cash) has_cash |= c.party == p && c.fen > 0;
    EXPECT_TRUE(has_cash) << buyer;
  }
}

TEST(DefaultMarket, IntegerBoundsHold) {
  for (const Instrument& i : def().instruments) {
    EXPECT_GT(i.max_order_qty, 0) << i.symbol;
    EXPECT_EQ(i.max_order_qty % i.lot_qty, 0) << i.symbol;
    EXPECT_LE(i.max_order_qty, kMaxTradeValueFen / i.ceiling_fen) << i.symbol;
  }
}

}  // namespace
}  // namespace haihe::rules
