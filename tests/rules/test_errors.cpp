// One test per class of error a person can make in a rules file: the
// message says what is wrong and what is allowed, at the right line.
#include <gtest/gtest.h>

#include <string>

#include "rules/rules.h"
#include "tests/rules/test_util.h"

namespace haihe::rules::test {
namespace {

TEST(RulesErrors, BaseIsValid) {
  const auto errors = errors_of(kBase);
  EXPECT_TRUE(errors.empty()) << dump(errors);
}

TEST(RulesErrors, MessageFormatIsFileLineColumnFieldMessage) {
  const std::string t = with("tick_fen = 1\n", "tick_fen = 0\n");
  const auto errors = errors_of(t);
  ASSERT_EQ(errors.size(), 1u) << dump(errors);
  EXPECT_EQ(errors[0].to_string(),
            "t.toml:" + std::to_string(line_of(t, "tick_fen = 0")) +
                ":12: instruments[0].tick_fen: 0 is out of range; allowed: the tick size in fen per "
                "base unit (1 to 10000000000)");
}

TEST(RulesErrors, SyntaxError) {
  const std::string t = with("cap_qty = 500000", "cap_qty = = 500000");
  expect_error(t, "", "syntax error", line_of(t, "= = 500000"));
}

TEST(RulesErrors, EmptyFile) {
  expect_error("", "", "the file is empty", 1);
  expect_error("  \n\n \t\n", "", "the file is empty", 1);
}

TEST(RulesErrors, OnlyCommentsMissesRequiredSections) {
  const auto errors = errors_of("# nothing here\n");
  EXPECT_EQ(errors.size(), 4u) << dump(errors);  // market, regions, parties, instruments
  expect_error("# nothing here\n", "market", "required field is missing", 1);
  expect_error("# nothing here\n", "instruments", "required section is missing", 1);
}

TEST(RulesErrors, BinaryGarbage) {
  const std::string garbage("\x00\xff\xfe\x01[[\x80\x81", 9);
  const auto errors = errors_of(garbage);
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors[0].message.find("syntax error"), std::string::npos) << dump(errors);
}

TEST(RulesErrors, UnknownKeyIsATypoWithSuggestion) {
  const std::string t = with("party_limit_qty = 1000000", "party_limt_qty = 1000000");
  expect_error(t, "instruments[0].party_limt_qty", "did you mean 'party_limit_qty'?",
               line_of(t, "party_limt_qty"));
  const std::string top = std::string(kBase) + "[extras]\nx = 1\n";
  expect_error(top, "extras", "unknown field 'extras'", line_of(top, "[extras]"));
}

TEST(RulesErrors, WrongTypes) {
  std::string t = with("vintage = 2027", "vintage = \"2027\"");
  expect_error(t, "instruments[0].vintage", "expected an integer", line_of(t, "\"2027\""));
  t = with("reference_fen = 93", "reference_fen = 0.93");
  expect_error(t, "instruments[0].reference_fen", "got a floating-point number (no floating point",
               line_of(t, "0.93"));
  t = "zones = 3\n" + with("[[zones]]\nid = \"MIYUN\"\nregion = \"CHENGDE\"\n", "");
  expect_error(t, "zones", "expected an array of tables", 1);
  t = with("may_trade = [\"water\"]", "may_trade = \"water\"");
  expect_error(t, "parties[5].may_trade", "expected an array", line_of(t, "may_trade = \"water\""));
}

TEST(RulesErrors, MissingRequiredFieldPointsAtItsTable) {
  const std::string t = with("province = \"Hebei\"\n", "");
  expect_error(t, "regions[1].province", "required field is missing", line_of(t, "id = \"CHENGDE\"") - 1);
}

TEST(RulesErrors, DuplicateIds) {
  std::string t = with("id = \"CHENGDE\"", "id = \"BJ\"");
  expect_error(t, "regions[1].id", "duplicate region id 'BJ' (already used by regions[0])",
               line_of(t, "id = \"BJ\"\nprovince = \"Hebei\""));
  t = with("symbol = \"NOX.BJ.2027\"", "symbol = \"WATER.MIYUN.IND.2027\"");
  expect_error(t, "instruments[1].symbol", "duplicate symbol", line_of(t, "symbol = \"WATER.MIYUN.IND.2027\"\nkind = \"emission\""));
  t = with("id = \"FUND\"", "id = \"REG\"");
  expect_error(t, "parties[3].id", "duplicate party id 'REG'", line_of(t, "id = \"REG\"\nkind = \"fund\""));
}

TEST(RulesErrors, InvalidIdCharacters) {
  const std::string t = with("id = \"MIYUN\"", "id = \"MI YUN\"");
  expect_error(t, "zones[0].id", "is not a valid zone id", line_of(t, "MI YUN"));
}

TEST(RulesErrors, UndefinedReferences) {
  std::string t = with("region = \"CHENGDE\"\n\n[[parties]]", "region = \"CHENGDU\"\n\n[[parties]]");
  expect_error(t, "zones[0].region", "'CHENGDU' is not defined; allowed: the id of one of the [[regions]]; did you mean 'CHENGDE'?",
               line_of(t, "CHENGDU"));
  t = with("zone = \"MIYUN\"\nuse_class", "zone = \"GUANTING\"\nuse_class");
  expect_error(t, "instruments[0].zone", "'GUANTING' is not defined", line_of(t, "GUANTING"));
  t = with("beneficiary = \"CD_GOV\"", "beneficiary = \"NOBODY\"");
  expect_error(t, "compensation[0].beneficiary", "'NOBODY' is not defined", line_of(t, "NOBODY"));
  t = with("{ party = \"BUYER\", instrument = \"NOX.BJ.2027\"", "{ party = \"BUYER\", instrument = \"SO2.BJ.2027\"");
  expect_error(t, "genesis.holdings[1].instrument", "'SO2.BJ.2027' is not defined", line_of(t, "SO2.BJ.2027"));
  t = with("may_trade = [\"water\"]", "may_trade = [\"water\", \"CO2.TJ.2027\"]");
  expect_error(t, "parties[5].may_trade[1]", "'CO2.TJ.2027' is not defined", line_of(t, "CO2.TJ.2027"));
  t = with("may_trade = [\"water\"]", "may_trade = [\"SO2.*\"]");
  expect_error(t, "parties[5].may_trade[0]", "matches no instrument", line_of(t, "SO2.*"));
}

TEST(RulesErrors, NonPositiveTickAndLot) {
  std::string t = with("tick_fen = 100", "tick_fen = -100");
  expect_error(t, "instruments[1].tick_fen", "-100 is out of range", line_of(t, "tick_fen = -100"));
  t = with("lot_qty = 1000", "lot_qty = 0");
  expect_error(t, "instruments[0].lot_qty", "0 is out of range; allowed: the lot size", line_of(t, "lot_qty = 0"));
}

TEST(RulesErrors, BandOutsideZeroToHundredPercent) {
  std::string t = with("band_bps = 1000", "band_bps = 0");
  expect_error(t, "instruments[0].band_bps", "strictly between 0 and 100%", line_of(t, "band_bps = 0"));
  t = with("band_bps = 1000", "band_bps = 10000");
  expect_error(t, "instruments[0].band_bps", "10000 is out of range", line_of(t, "band_bps = 10000"));
  t = with("band_bps = 1000", "band_bps = 1000\nblock_min_qty = 100000\nblock_band_bps = 500");
  expect_error(t, "instruments[0].block_band_bps", "narrower than band_bps", line_of(t, "block_band_bps"));
  t = with("band_bps = 1000", "band_bps = 1000\nblock_min_qty = 100000");
  expect_error(t, "instruments[0].block_min_qty", "both block_min_qty and block_band_bps", line_of(t, "block_min_qty"));
}

TEST(RulesErrors, FloorAboveCeiling) {
  const std::string t = with("ceiling_fen = 2400000", "ceiling_fen = 500000");
  expect_error(t, "instruments[1].ceiling_fen", "500000 is below floor_fen 600000", line_of(t, "ceiling_fen = 500000"));
}

TEST(RulesErrors, PriceGridTooFine) {
  const std::string t = with("ceiling_fen = 500\n", "ceiling_fen = 2000000\n");
  expect_error(t, "instruments[0].ceiling_fen", "has 1999991 ticks; allowed: at most 1048576",
               line_of(t, "ceiling_fen = 2000000"));
}

TEST(RulesErrors, PricesOffTickOrReferenceOutsideLimits) {
  std::string t = with("reference_fen = 660000", "reference_fen = 660050");
  expect_error(t, "instruments[1].reference_fen", "not a multiple of tick_fen 100", line_of(t, "660050"));
  t = with("floor_fen = 600000", "floor_fen = 600001");
  expect_error(t, "instruments[1].floor_fen", "not a multiple of tick_fen", line_of(t, "600001"));
  t = with("reference_fen = 93", "reference_fen = 501");
  expect_error(t, "instruments[0].reference_fen", "outside [floor_fen, ceiling_fen] = [10, 500]", line_of(t, "501"));
}

TEST(RulesErrors, ExchangeRateOutsideZeroToOne) {
  std::string t = with("rate = \"9/10\"", "rate = \"11/10\"");
  expect_error(t, "transfers[0].rate", "is outside (0, 1]", line_of(t, "11/10"));
  t = with("rate = \"9/10\"", "rate = \"0/10\"");
  expect_error(t, "transfers[0].rate", "is outside (0, 1]", line_of(t, "0/10"));
  t = with("rate = \"9/10\"", "rate = \"9/0\"");
  expect_error(t, "transfers[0].rate", "is outside (0, 1]", line_of(t, "9/0"));
  t = with("rate = \"9/10\"", "rate = \"0.9\"");
  expect_error(t, "transfers[0].rate", "is not a ratio", line_of(t, "0.9"));
  t = with("rate = \"9/10\"", "rate = 0.9");
  expect_error(t, "transfers[0].rate", "expected the exchange rate as a string", line_of(t, "rate = 0.9"));
}

TEST(RulesErrors, TransferToTheZonesOwnCity) {
  const std::string t = with("buyer_regions = [\"BJ\"]\nrate", "buyer_regions = [\"BJ\", \"CHENGDE\"]\nrate");
  expect_error(t, "transfers[0].buyer_regions", "always receives 1:1", line_of(t, "\"BJ\", \"CHENGDE\""));
}

TEST(RulesErrors, CompensationToANonCityGovernment) {
  std::string t = with("beneficiary = \"CD_GOV\"", "beneficiary = \"SELLER\"");
  expect_error(t, "compensation[0].beneficiary", "'SELLER' is a party of kind enterprise; allowed: a city_government",
               line_of(t, "beneficiary = \"SELLER\""));
  // A city government, but of another city than the one the zone lies in.
  t = with("[[parties]]\nid = \"FUND\"", "[[parties]]\nid = \"BJ_GOV\"\nkind = \"city_government\"\nregion = \"BJ\"\n\n[[parties]]\nid = \"FUND\"");
  t = with("beneficiary = \"CD_GOV\"", "beneficiary = \"BJ_GOV\"", t);
  expect_error(t, "compensation[0].beneficiary", "the government of the city the zone lies in",
               line_of(t, "beneficiary = \"BJ_GOV\""));
}

TEST(RulesErrors, CompensationWithoutATransferRule) {
  const std::string t = with("rate = \"9/10\"", "rate = \"9/10\"\n\n[[regions]]\nid = \"TJ\"\nprovince = \"Tianjin\"\nlevel = \"municipality\"");
  const std::string t2 = with("buyer_regions = [\"BJ\"]\nbeneficiary", "buyer_regions = [\"TJ\"]\nbeneficiary", t);
  expect_error(t2, "compensation[0].buyer_regions", "no [[transfers]] rule lets water from zone 'MIYUN' reach region 'TJ'",
               line_of(t2, "buyer_regions = [\"TJ\"]"));
}

TEST(RulesErrors, LevyToANonFund) {
  const std::string t = with("fund = \"FUND\"", "fund = \"CD_GOV\"");
  expect_error(t, "levies[0].fund", "is a party of kind city_government; allowed: a party of kind fund",
               line_of(t, "fund = \"CD_GOV\""));
}

TEST(RulesErrors, SellerFeePlusLevyAboveHundredPercent) {
  const std::string t = with("bps = 100\n", "bps = 9999\n");
  expect_error(t, "instruments[1].seller_fee_bps", "exceed 10000 bps", line_of(t, "symbol = \"NOX.BJ.2027\"") - 1);
}

TEST(RulesErrors, GenesisAbovePartyLimit) {
  const std::string t = with("party_limit_qty = 1000000", "party_limit_qty = 800000");
  expect_error(t, "genesis.holdings[0].qty", "900000 is above SELLER's holding limit 800000",
               line_of(t, "qty = 900000"));
}

TEST(RulesErrors, GenesisAboveRegionCap) {
  const std::string t = with("{ party = \"BUYER\", instrument = \"NOX.BJ.2027\", qty = 100 },",
                             "{ party = \"BUYER\", instrument = \"NOX.BJ.2027\", qty = 100 },\n"
                             "  { party = \"BUYER\", instrument = \"WATER.MIYUN.IND.2027\", qty = 600000 },");
  expect_error(t, "genesis.holdings[2].qty", "above the region cap 500000 (region_caps[0], line ",
               line_of(t, "qty = 600000"));
}

TEST(RulesErrors, GenesisAboveZoneCap) {
  const std::string t = with("cap_qty = 2000000", "cap_qty = 800000");
  expect_error(t, "genesis.holdings[0].qty", "above the zone cap 800000", line_of(t, "qty = 900000"));
}

TEST(RulesErrors, OverlappingOrUnsortedSessions) {
  std::string t = with("sessions = [\"09:30-11:30\", \"13:00-15:00\"]", "sessions = [\"09:30-11:30\", \"11:00-15:00\"]");
  expect_error(t, "market.sessions[1]", "overlaps or precedes the session before it (09:30-11:30)", line_of(t, "11:00-15:00"));
  t = with("sessions = [\"09:30-11:30\", \"13:00-15:00\"]", "sessions = [\"13:00-15:00\", \"09:30-11:30\"]");
  expect_error(t, "market.sessions[1]", "overlaps or precedes", line_of(t, "sessions ="));
  t = with("sessions = [\"09:30-11:30\", \"13:00-15:00\"]", "sessions = [\"11:30-09:30\"]");
  expect_error(t, "market.sessions[0]", "ends before it starts", line_of(t, "sessions ="));
  t = with("sessions = [\"09:30-11:30\", \"13:00-15:00\"]", "sessions = [\"9:30-11:30\"]");
  expect_error(t, "market.sessions[0]", "is not a session", line_of(t, "sessions ="));
  t = with("sessions = [\"09:30-11:30\", \"13:00-15:00\"]", "sessions = [\"09:30-11:30\"]\npre_open = \"10:00\"");
  expect_error(t, "market.pre_open", "after the first session starts", line_of(t, "pre_open"));
}

TEST(RulesErrors, ExactlyOneExchange) {
  std::string t = with("kind = \"exchange\"", "kind = \"other\"");
  expect_error(t, "parties", "no party of kind \"exchange\"", 0);
  t = with("kind = \"fund\"", "kind = \"exchange\"");
  expect_error(t, "parties[3].kind", "a second party of kind exchange", line_of(t, "id = \"FUND\"") - 1);
}

TEST(RulesErrors, RegulatorsHoldNothing) {
  std::string t = with("{ party = \"BUYER\", fen = 100000000 },", "{ party = \"BUYER\", fen = 100000000 },\n  { party = \"REG\", fen = 1 },");
  expect_error(t, "genesis.cash[1].party", "regulators hold nothing", line_of(t, "party = \"REG\""));
  t = with("{ party = \"BUYER\", instrument = \"NOX.BJ.2027\"", "{ party = \"REG\", instrument = \"NOX.BJ.2027\"");
  expect_error(t, "genesis.holdings[1].party", "regulators hold nothing", line_of(t, "party = \"REG\""));
  t = with("fix_comp_id = \"REG\"", "fix_comp_id = \"REG\"\nmay_trade = [\"all\"]");
  expect_error(t, "parties[1].may_trade", "does not trade", line_of(t, "may_trade = [\"all\"]"));
}

TEST(RulesErrors, DuplicateFixCompId) {
  const std::string t = with("fix_comp_id = \"SELLER\"", "fix_comp_id = \"BUYER\"");
  expect_error(t, "parties[5].fix_comp_id", "duplicate FIX CompID 'BUYER' (already used by parties[4])",
               line_of(t, "fix_comp_id = \"BUYER\"\nmay_trade = [\"water\"]"));
}

TEST(RulesErrors, ModeSpecificFields) {
  std::string t = with("party_limit_qty = 1000000", "party_limit_qty = 1000000\nbatch_interval_ms = 100");
  expect_error(t, "instruments[0].batch_interval_ms", "only for mode = \"batch\"", line_of(t, "batch_interval_ms"));
  t = with("party_limit_qty = 1000000", "party_limit_qty = 1000000\nmode = \"batch\"");
  expect_error(t, "instruments[0].batch_interval_ms", "required field is missing",
               line_of(t, "symbol = \"WATER.MIYUN.IND.2027\"") - 1);
  t = with("party_limit_qty = 1000000", "party_limit_qty = 1000000\nmode = \"call\"");
  expect_error(t, "instruments[0].call_times", "required field is missing", 0);
  t = with("party_limit_qty = 1000000", "party_limit_qty = 1000000\nmode = \"call\"\ncall_times = [\"10:00\", \"16:00\"]");
  expect_error(t, "instruments[0].call_times[1]", "outside the trading day 09:30-15:00", line_of(t, "call_times"));
  t = with("party_limit_qty = 1000000", "party_limit_qty = 1000000\nmode = \"call\"\ncall_times = [\"14:00\", \"10:00\"]");
  expect_error(t, "instruments[0].call_times[1]", "strictly ascending", line_of(t, "call_times"));
  t = with("party_limit_qty = 1000000", "party_limit_qty = 1000000\nmode = \"auction\"");
  expect_error(t, "instruments[0].mode", "'auction' is not allowed; allowed: continuous, batch, call", line_of(t, "auction"));
}

TEST(RulesErrors, KindSpecificFields) {
  const std::string t = with("pollutant = \"NOx\"\nregion = \"BJ\"", "pollutant = \"NOx\"\nregion = \"BJ\"\nzone = \"MIYUN\"");
  expect_error(t, "instruments[1].zone", "only for water instruments", line_of(t, "zone = \"MIYUN\"\nvintage"));
}

TEST(RulesErrors, TradeValuesStayFarFromOverflow) {
  // One lot at the ceiling worth more than 1e14 fen.
  std::string t = with("tick_fen = 100\nfloor_fen = 600000\nceiling_fen = 2400000\nreference_fen = 660000",
                       "tick_fen = 1000000\nfloor_fen = 5000000000\nceiling_fen = 10000000000\n"
                       "reference_fen = 6000000000\nlot_qty = 100000");
  expect_error(t, "instruments[1].lot_qty", "is worth more than", line_of(t, "lot_qty = 100000"));
  t = with("ceiling_fen = 2400000", "ceiling_fen = 2400000\nmax_order_qty = 1000000000");
  expect_error(t, "instruments[1].max_order_qty", "would be worth more than", line_of(t, "max_order_qty"));
  t = with("cap_qty = 500000", "cap_qty = 99999999999999999");
  expect_error(t, "region_caps[0].cap_qty", "is out of range", line_of(t, "99999999999999999"));
  t = with("{ party = \"BUYER\", fen = 100000000 },", "{ party = \"BUYER\", fen = 1000000000000000 },\n  { party = \"SELLER\", fen = 1 },");
  expect_error(t, "genesis.cash[1].fen", "in total", line_of(t, "fen = 1 }"));
  // Integers beyond int64 are a syntax error, not a wrap-around.
  t = with("cap_qty = 500000", "cap_qty = 99999999999999999999999");
  expect_error(t, "", "syntax error", line_of(t, "99999999999999999999999"));
}

TEST(RulesErrors, ReportsEveryErrorNotJustTheFirst) {
  std::string t = with("tick_fen = 1\n", "tick_fen = 0\n");
  t = with("band_bps = 1000", "band_bps = 0", t);
  t = with("rate = \"9/10\"", "rate = \"2/1\"", t);
  t = with("fund = \"FUND\"", "fund = \"BUYER\"", t);
  t = with("level = \"municipality\"", "level = \"city\"", t);
  const auto errors = errors_of(t);
  EXPECT_EQ(errors.size(), 5u) << dump(errors);
  for (std::size_t i = 1; i < errors.size(); ++i) EXPECT_LE(errors[i - 1].line, errors[i].line);
}

TEST(RulesErrors, DeepNestingIsAnErrorNotACrash) {
  std::string t = "x = " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  EXPECT_FALSE(errors_of(t).empty());
  t = "x = " + std::string(5000, '{');
  EXPECT_FALSE(errors_of(t).empty());
}

// toml++ 3.3 has undefined behaviour on some non-ASCII code points where it
// tests for whitespace (found by fuzz_rules_loader); the loader rejects
// those inputs first. Non-ASCII inside strings and comments stays valid.
TEST(RulesErrors, NonAsciiOutsideStringsIsASyntaxError) {
  std::string t = with("[[zones]]", "bя = 1\n[[zones]]");
  expect_error(t, "", "non-ASCII character outside a string or comment", line_of(t, "bя"));
  EXPECT_EQ(errors_of(t).at(0).column, 2u);
  t = with("[[zones]]", "x = [-'я']\n[[zones]]");  // a quote inside a bare value starts no string
  expect_error(t, "", "non-ASCII character outside a string or comment", line_of(t, "x = [-'я']"));
  t = with("name = \"test market\"", "name = \"test\\я market\"");
  expect_error(t, "", "invalid escape sequence", line_of(t, "test\\я"));
  t = with("name = \"test market\"", "name = \"\"\"test\\\n   я market\"\"\"");
  expect_error(t, "", "line-ending backslash is not supported", line_of(t, "я market"));
  t = with("[[zones]]", "x = 5_O\"9\"_p[\"\"\"eя]\n[[zones]]");  // no string inside a bare value
  expect_error(t, "", "non-ASCII character outside a string or comment", line_of(t, "x = 5_O"));
  // Valid: names in Chinese (with CJK punctuation, which toml++ 3.3 would
  // misread outside strings), comments, literal, multi-line and quoted keys.
  t = with("name = \"test market\"", "name = \"京津冀 test market。\" # 市场 я\n");
  t = with("[genesis]", "[genesis]\n# é\n", t);
  t = with("[[levies]]", "[[levies]] # 「税」\n", t);
  t = with("province = \"Hebei\"", "province = '河北'", t);
  t = with("province = \"Beijing\"", "province = \"\"\"北京\\\n   Beijing\"\"\"", t);
  const auto errors = errors_of(t);
  EXPECT_TRUE(errors.empty()) << dump(errors);
  // Quoted keys with non-ASCII parse (and are then unknown fields).
  const std::string keys = "extra = 1 # note\nmore.\"北京\" = { 'é' = [\"х\", { \"ё\" = 2 }] }\n" + t;
  expect_error(keys, "more", "unknown field 'more'", 2);
  const auto r = load_rules_text(t);
  EXPECT_EQ(r->name, "京津冀 test market。");
  EXPECT_EQ(r->regions[1].province, "河北");
  EXPECT_EQ(r->regions[0].province, "北京Beijing");
}

TEST(RulesErrors, UnreadableFile) {
  try {
    load_rules_file("/nonexistent/rules.toml");
    ADD_FAILURE() << "loaded a file that does not exist";
  } catch (const RulesLoadError& e) {
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0].to_string(), "/nonexistent/rules.toml: cannot open the file for reading");
  }
}

}  // namespace
}  // namespace haihe::rules::test
