// Test support for haihe::ledger: a hand-built market, an independent
// in-memory reference model of the same rules (written from rules/rules.h,
// sharing no code with the ledger), a deterministic operation generator and
// temporary directories.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ledger/ledger.h"
#include "rules/rules.h"
#include "tests/temp_dir.h"

namespace haihe::ledger::test {

using rules::InstrumentKind;
using rules::MarketRules;
using rules::PartyKind;
__extension__ typedef __int128 i128;

// ------------------------------------------------------------------ tmp dirs

/// A temporary directory named haihe-ledger-XXXXXX (tests/temp_dir.h).
class TempDir : public haihe::test::TempDir {
 public:
  TempDir() : haihe::test::TempDir("haihe-ledger") {}
};

// ------------------------------------------------------------------ market

// Regions: 0 BJ, 1 TJ (municipalities), 2 CHENGDE, 3 ZJK, 4 BAODING (Hebei).
// Zones: 0 MIYUN (in CHENGDE), 1 GUANTING (in ZJK).
// Parties: 0 exchange, 1 regulator, 2 AIR_FUND, 3 WATER_FUND, 4 CHENGDE_GOV,
// 5 ZJK_GOV, 6.. enterprises in region (k % 5).
// Instruments: 0 WATER.MIYUN.IND.2027, 1 WATER.GUANTING.AGR.2027,
// 2 NOX.BJ.2027, 3 SO2.TJ.2027, 4 COD.HEBEI.2027, 5 WATER.MIYUN.IND.2028.
// Keeps the genesis holdings that fit the caps (defined after Model).
inline void keep_within_caps(const std::shared_ptr<MarketRules>& r, const std::vector<rules::GenesisHolding>& all);

struct Market {
  std::shared_ptr<const MarketRules> rules;
  std::string text;  // stored at genesis (the ledger does not parse it)
};

inline constexpr PartyIndex kExchange = 0, kRegulator = 1, kAirFund = 2, kWaterFund = 3, kChengdeGov = 4,
                            kZjkGov = 5, kFirstEnterprise = 6;

inline Market make_market(std::uint32_t enterprises = 14, std::uint64_t genesis_seed = 1) {
  auto r = std::make_shared<MarketRules>();
  r->name = "ledger test market";
  auto region = [&](const char* id, rules::RegionLevel level) {
    rules::Region g;
    g.id = id;
    g.name = id;
    g.level = level;
    r->regions.push_back(g);
  };
  region("BJ", rules::RegionLevel::municipality);
  region("TJ", rules::RegionLevel::municipality);
  region("CHENGDE", rules::RegionLevel::prefecture_city);
  region("ZJK", rules::RegionLevel::prefecture_city);
  region("BAODING", rules::RegionLevel::prefecture_city);
  r->zones.push_back({"MIYUN", "Miyun upstream", 2});
  r->zones.push_back({"GUANTING", "Guanting upstream", 3});
  auto party = [&](std::string id, PartyKind kind, RegionIndex g) {
    rules::Party p;
    p.id = std::move(id);
    p.name = p.id;
    p.kind = kind;
    p.region = g;
    r->parties.push_back(p);
  };
  party("EXCHANGE", PartyKind::exchange, rules::kNone);
  party("REGULATOR", PartyKind::regulator, rules::kNone);
  party("AIR_FUND", PartyKind::fund, rules::kNone);
  party("WATER_FUND", PartyKind::fund, rules::kNone);
  party("CHENGDE_GOV", PartyKind::city_government, 2);
  party("ZJK_GOV", PartyKind::city_government, 3);
  for (std::uint32_t k = 0; k < enterprises; ++k) party("E" + std::to_string(k), PartyKind::enterprise, k % 5);
  auto inst = [&](const char* sym, InstrumentKind kind, ZoneIndex z, rules::Pollutant pol, std::uint16_t vintage,
                  Qty limit, std::uint32_t bfee, std::uint32_t sfee) {
    rules::Instrument in;
    in.symbol = sym;
    in.name = sym;
    in.kind = kind;
    in.zone = z;
    in.pollutant = pol;
    in.vintage = vintage;
    in.unit = kind == InstrumentKind::water ? "m3" : "kg";
    in.party_limit_qty = limit;
    in.buyer_fee_bps = bfee;
    in.seller_fee_bps = sfee;
    r->instruments.push_back(in);
  };
  inst("WATER.MIYUN.IND.2027", InstrumentKind::water, 0, rules::Pollutant::so2, 2027, 5000, 5, 7);
  inst("WATER.GUANTING.AGR.2027", InstrumentKind::water, 1, rules::Pollutant::so2, 2027, 0, 0, 3);
  inst("NOX.BJ.2027", InstrumentKind::emission, rules::kNone, rules::Pollutant::nox, 2027, 3000, 10, 10);
  inst("SO2.TJ.2027", InstrumentKind::emission, rules::kNone, rules::Pollutant::so2, 2027, 0, 0, 0);
  inst("COD.HEBEI.2027", InstrumentKind::emission, rules::kNone, rules::Pollutant::cod, 2027, 0, 3, 0);
  inst("WATER.MIYUN.IND.2028", InstrumentKind::water, 0, rules::Pollutant::so2, 2028, 4000, 5, 7);
  const auto nI = static_cast<InstrumentIndex>(r->instruments.size());
  for (auto& p : r->parties) {
    if (p.kind == PartyKind::enterprise) {
      for (InstrumentIndex i = 0; i < nI; ++i) p.may_trade.push_back(i);
    } else if (p.kind == PartyKind::city_government) {
      p.may_trade = {0, 1};
    }
  }
  r->party_caps.push_back({kFirstEnterprise, 0, 8000});
  r->party_caps.push_back({kFirstEnterprise + 1, 2, 500});
  r->region_caps.push_back({0, 0, 20000});
  r->region_caps.push_back({1, 2, 4000});
  r->region_caps.push_back({2, 1, 6000});
  r->region_caps.push_back({4, 4, 1500});
  r->zone_caps.push_back({0, 2027, 60000});
  r->zone_caps.push_back({1, 2027, 40000});
  r->zone_caps.push_back({0, 2028, 30000});
  r->transfers.push_back({0, 0, 9, 10});
  r->transfers.push_back({0, 1, 17, 20});
  r->transfers.push_back({0, 4, 3, 4});
  r->transfers.push_back({1, 0, 19, 20});
  {
    rules::CompensationRoute c;
    c.id = "MIYUN-BJ-TJ";
    c.zone = 0;
    c.buyer_regions = {0, 1};
    c.beneficiary = kChengdeGov;
    c.fen_per_unit = 3;
    c.bps = 50;
    r->compensation.push_back(c);
    c.id = "GUANTING-BJ";
    c.zone = 1;
    c.buyer_regions = {0};
    c.beneficiary = kZjkGov;
    c.fen_per_unit = 2;
    c.bps = 0;
    r->compensation.push_back(c);
  }
  {
    rules::Levy l;
    l.id = "AIR-NOX";
    l.kind = InstrumentKind::emission;
    l.pollutant = rules::Pollutant::nox;
    l.fund = kAirFund;
    l.bps = 100;
    r->levies.push_back(l);
    l.id = "EMISSION";
    l.pollutant.reset();
    l.fund = kWaterFund;
    l.bps = 30;
    r->levies.push_back(l);
  }
  std::mt19937_64 rng(genesis_seed);
  std::vector<rules::GenesisHolding> holdings;
  for (PartyIndex p = kFirstEnterprise; p < r->parties.size(); ++p) {
    r->genesis_cash.push_back({p, static_cast<Fen>(2'000'000 + rng() % 8'000'000)});
    for (InstrumentIndex i = 0; i < nI; ++i) {
      if (rng() % 3 == 0) continue;
      holdings.push_back({p, i, static_cast<Qty>(100 + rng() % 400)});
    }
  }
  r->genesis_cash.push_back({kAirFund, 5'000'000});
  keep_within_caps(r, holdings);
  Market m;
  m.text = "# ledger test market\nenterprises = " + std::to_string(enterprises) +
           "\ngenesis_seed = " + std::to_string(genesis_seed) + "\n";
  m.rules = std::move(r);
  return m;
}

// ------------------------------------------------------------------ model

/// The reference: the rules of rules/rules.h applied to plain maps.
struct Model {
  std::shared_ptr<const MarketRules> r;
  std::map<std::pair<PartyIndex, InstrumentIndex>, Holding> hold;
  std::map<PartyIndex, Cash> cash;
  std::map<OrderId, OrderReservation> orders;
  std::map<InstrumentIndex, Qty> loss;
  std::map<InstrumentIndex, Supply> supply;
  Supply cash_supply;
  TradeId next_trade = 1;
  bool snapshot_in_batch = false;  // not state: reset by begin_batch()

  explicit Model(std::shared_ptr<const MarketRules> rules) : r(std::move(rules)) {}
  friend bool operator==(const Model& a, const Model& b) {
    return a.hold == b.hold && a.cash == b.cash && a.orders == b.orders && a.loss == b.loss && a.supply == b.supply &&
           a.cash_supply == b.cash_supply && a.next_trade == b.next_trade;
  }

  void begin_batch() { snapshot_in_batch = false; }
  std::size_t nP() const { return r->parties.size(); }
  std::size_t nI() const { return r->instruments.size(); }
  Holding h(PartyIndex p, InstrumentIndex i) const {
    auto it = hold.find({p, i});
    return it == hold.end() ? Holding{} : it->second;
  }
  Cash c(PartyIndex p) const {
    auto it = cash.find(p);
    return it == cash.end() ? Cash{} : it->second;
  }
  void normalize() {  // zero records do not exist
    std::erase_if(hold, [](const auto& kv) { return kv.second == Holding{}; });
    std::erase_if(cash, [](const auto& kv) { return kv.second == Cash{}; });
    std::erase_if(loss, [](const auto& kv) { return kv.second == 0; });
    std::erase_if(supply, [](const auto& kv) { return kv.second == Supply{}; });
  }
  static bool fits(i128 v) { return v >= 0 && v <= INT64_MAX; }
  RegionUsage region(RegionIndex g, InstrumentIndex i) const {
    RegionUsage u;
    for (PartyIndex p = 0; p < nP(); ++p) {
      if (r->parties[p].region != g) continue;
      const Holding x = h(p, i);
      u.held_qty += x.free_qty + x.reserved_qty;
      u.incoming_qty += x.incoming_qty;
    }
    return u;
  }
  Qty zone(ZoneIndex z, std::uint16_t vintage) const {
    Qty total = 0;
    for (InstrumentIndex i = 0; i < nI(); ++i) {
      const auto& in = r->instruments[i];
      if (in.kind != InstrumentKind::water || in.zone != z || in.vintage != vintage) continue;
      for (PartyIndex p = 0; p < nP(); ++p) total += h(p, i).free_qty + h(p, i).reserved_qty;
    }
    return total;
  }
  // Headroom checks shared by issue and reserve_buy: party limit, region cap.
  Reason caps(PartyIndex p, InstrumentIndex i, Qty q) const {
    const Holding x = h(p, i);
    const i128 after = i128{x.free_qty} + x.reserved_qty + x.incoming_qty + q;
    if (!fits(after)) return Reason::overflow;
    const Qty limit = r->party_limit(p, i);
    if (limit > 0 && after > limit) return Reason::party_cap;
    const RegionIndex g = r->parties[p].region;
    if (g != rules::kNone) {
      const RegionUsage u = region(g, i);
      const i128 ra = i128{u.held_qty} + u.incoming_qty + q;
      if (!fits(ra)) return Reason::overflow;
      if (const auto* cap = r->region_cap(g, i); cap && ra > cap->cap_qty) return Reason::region_cap;
    }
    return Reason::ok;
  }

  Reason issue(PartyIndex p, InstrumentIndex i, Qty q) {
    if (p >= nP()) return Reason::unknown_account;
    if (i >= nI()) return Reason::unknown_instrument;
    if (q <= 0) return Reason::invalid_quantity;
    if (r->parties[p].kind == PartyKind::regulator) return Reason::not_permitted;
    if (const Reason c = caps(p, i, q); c != Reason::ok) return c;
    const auto& in = r->instruments[i];
    if (in.kind == InstrumentKind::water) {
      const i128 za = i128{zone(in.zone, in.vintage)} + q;
      if (!fits(za)) return Reason::overflow;
      if (const auto* cap = r->zone_cap(in.zone, in.vintage); cap && za > cap->cap_qty) return Reason::zone_cap;
    }
    if (!fits(i128{supply[i].issued_qty} + q)) return Reason::overflow;
    hold[{p, i}].free_qty += q;
    supply[i].issued_qty += q;
    return Reason::ok;
  }
  Reason retire(PartyIndex p, InstrumentIndex i, Qty q) {
    if (p >= nP()) return Reason::unknown_account;
    if (i >= nI()) return Reason::unknown_instrument;
    if (q <= 0) return Reason::invalid_quantity;
    if (h(p, i).free_qty < q) return Reason::insufficient_holdings;
    hold[{p, i}].free_qty -= q;
    supply[i].retired_qty += q;
    return Reason::ok;
  }
  Reason deposit(PartyIndex p, Fen f) {
    if (p >= nP()) return Reason::unknown_account;
    if (f <= 0) return Reason::invalid_quantity;
    if (r->parties[p].kind == PartyKind::regulator) return Reason::not_permitted;
    if (!fits(i128{c(p).free_fen} + c(p).reserved_fen + f) || !fits(i128{cash_supply.issued_qty} + f)) {
      return Reason::overflow;
    }
    cash[p].free_fen += f;
    cash_supply.issued_qty += f;
    return Reason::ok;
  }
  Reason withdraw(PartyIndex p, Fen f) {
    if (p >= nP()) return Reason::unknown_account;
    if (f <= 0) return Reason::invalid_quantity;
    if (c(p).free_fen < f) return Reason::insufficient_cash;
    cash[p].free_fen -= f;
    cash_supply.retired_qty += f;
    return Reason::ok;
  }
  Reason grant(PartyIndex fund, PartyIndex city, Fen f) {
    if (fund >= nP() || city >= nP()) return Reason::unknown_account;
    if (f <= 0) return Reason::invalid_quantity;
    if (r->parties[fund].kind != PartyKind::fund || r->parties[city].kind != PartyKind::city_government) {
      return Reason::not_permitted;
    }
    if (c(fund).free_fen < f) return Reason::insufficient_cash;
    if (!fits(i128{c(city).free_fen} + c(city).reserved_fen + f)) return Reason::overflow;
    cash[fund].free_fen -= f;
    cash[city].free_fen += f;
    return Reason::ok;
  }
  // Cash a buy of q at price reserves, or nullopt on overflow.
  std::optional<Fen> buy_need(PartyIndex p, InstrumentIndex i, Qty q, Fen price) const {
    const auto& in = r->instruments[i];
    const i128 value = i128{q} * price;
    if (!fits(value)) return std::nullopt;
    i128 total = value + value * in.buyer_fee_bps / 10000;
    if (in.kind == InstrumentKind::water) {
      if (const auto* route = r->compensation_for(in.zone, r->parties[p].region)) {
        total += i128{route->fen_per_unit} * q + value * route->bps / 10000;
      }
    }
    if (!fits(total)) return std::nullopt;
    return static_cast<Fen>(total);
  }
  Reason reserve_sell(OrderId id, PartyIndex p, InstrumentIndex i, Qty q) {
    if (p >= nP()) return Reason::unknown_account;
    if (i >= nI()) return Reason::unknown_instrument;
    if (q <= 0) return Reason::invalid_quantity;
    if (!r->may_trade(p, i)) return Reason::not_permitted;
    if (orders.count(id)) return Reason::duplicate_order;
    if (h(p, i).free_qty < q) return Reason::insufficient_holdings;
    hold[{p, i}].free_qty -= q;
    hold[{p, i}].reserved_qty += q;
    orders[id] = {p, i, Side::sell, 0, q, 0};
    return Reason::ok;
  }
  Reason reserve_buy(OrderId id, PartyIndex p, InstrumentIndex i, Qty q, Fen limit) {
    if (p >= nP()) return Reason::unknown_account;
    if (i >= nI()) return Reason::unknown_instrument;
    if (q <= 0) return Reason::invalid_quantity;
    if (limit <= 0) return Reason::invalid_price;
    const auto need = buy_need(p, i, q, limit);
    if (!need) return Reason::overflow;
    if (!r->may_trade(p, i)) return Reason::not_permitted;
    if (orders.count(id)) return Reason::duplicate_order;
    if (const Reason c2 = caps(p, i, q); c2 != Reason::ok) return c2;
    if (c(p).free_fen < *need) return Reason::insufficient_cash;
    cash[p].free_fen -= *need;
    cash[p].reserved_fen += *need;
    hold[{p, i}].incoming_qty += q;
    orders[id] = {p, i, Side::buy, limit, q, *need};
    return Reason::ok;
  }
  Reason release(OrderId id, Qty keep) {
    auto it = orders.find(id);
    if (it == orders.end()) return Reason::unknown_order;
    OrderReservation& o = it->second;
    if (keep < 0 || keep > o.qty) return Reason::invalid_quantity;
    const Qty give = o.qty - keep;
    if (o.side == Side::sell) {
      hold[{o.party, o.instrument}].reserved_qty -= give;
      hold[{o.party, o.instrument}].free_qty += give;
    } else {
      const Fen keep_cash = keep == 0 ? 0 : std::min(o.cash_fen, *buy_need(o.party, o.instrument, keep, o.limit_fen));
      cash[o.party].reserved_fen -= o.cash_fen - keep_cash;
      cash[o.party].free_fen += o.cash_fen - keep_cash;
      hold[{o.party, o.instrument}].incoming_qty -= give;
      o.cash_fen = keep_cash;
    }
    o.qty = keep;
    if (keep == 0) orders.erase(it);
    return Reason::ok;
  }
  Reason settle(const Fill& f, TradeRecord* out) {
    auto bi = orders.find(f.buy_order), si = orders.find(f.sell_order);
    if (bi == orders.end() || si == orders.end()) return Reason::unknown_order;
    if (f.buy_order == f.sell_order) return Reason::order_mismatch;
    OrderReservation& b = bi->second;
    OrderReservation& s = si->second;
    if (b.side != Side::buy || s.side != Side::sell || b.instrument != s.instrument) return Reason::order_mismatch;
    if (f.qty <= 0) return Reason::invalid_quantity;
    if (f.price_fen <= 0) return Reason::invalid_price;
    if (f.qty > b.qty || f.qty > s.qty || f.price_fen > b.limit_fen) return Reason::order_mismatch;
    const InstrumentIndex i = b.instrument;
    const PartyIndex buyer = b.party, seller = s.party;
    const auto& in = r->instruments[i];
    const RegionIndex br = r->parties[b.party].region, sr = r->parties[s.party].region;
    Qty delivered = f.qty;
    if (in.kind == InstrumentKind::water && br != sr) {
      if (br == rules::kNone) return Reason::transfer_not_allowed;
      if (br != r->zones[in.zone].region) {
        const auto* t = r->transfer(in.zone, br);
        if (t == nullptr) return Reason::transfer_not_allowed;
        delivered = static_cast<Qty>(i128{f.qty} * t->num / t->den);
      }
    }
    const i128 value = i128{f.qty} * f.price_fen;
    const Fen bfee = static_cast<Fen>(value * in.buyer_fee_bps / 10000);
    const Fen sfee = static_cast<Fen>(value * in.seller_fee_bps / 10000);
    Fen comp = 0;
    PartyIndex beneficiary = rules::kNone;
    if (in.kind == InstrumentKind::water && br != rules::kNone) {
      if (const auto* route = r->compensation_for(in.zone, br)) {
        comp = static_cast<Fen>(i128{route->fen_per_unit} * f.qty + value * route->bps / 10000);
        beneficiary = route->beneficiary;
      }
    }
    Fen levy = 0;
    PartyIndex fund = rules::kNone;
    if (const auto* l = r->levy_for(in)) {
      levy = static_cast<Fen>(value * l->bps / 10000);
      fund = l->fund;
    }
    const i128 charge = value + bfee + comp;
    if (charge > b.cash_fen) return Reason::insufficient_cash;
    const Fen proceeds = static_cast<Fen>(value) - sfee - levy;
    auto room = [&](PartyIndex p, i128 add) { return fits(i128{c(p).free_fen} + c(p).reserved_fen + add); };
    if (!room(s.party, proceeds) || !room(r->exchange_party(), i128{bfee} + sfee) ||
        (beneficiary != rules::kNone && !room(beneficiary, comp)) || (fund != rules::kNone && !room(fund, levy))) {
      return Reason::overflow;
    }
    // apply
    hold[{s.party, i}].reserved_qty -= f.qty;
    hold[{b.party, i}].free_qty += delivered;
    hold[{b.party, i}].incoming_qty -= f.qty;
    if (f.qty != delivered) loss[i] += f.qty - delivered;
    cash[b.party].reserved_fen -= static_cast<Fen>(charge);
    cash[s.party].free_fen += proceeds;
    const PartyIndex ex = r->exchange_party();
    if (bfee + sfee != 0) cash[ex].free_fen += bfee + sfee;
    if (comp != 0) cash[beneficiary].free_fen += comp;
    if (levy != 0) cash[fund].free_fen += levy;
    b.qty -= f.qty;
    b.cash_fen -= static_cast<Fen>(charge);
    s.qty -= f.qty;
    const OrderReservation bo = b;
    if (s.qty == 0) orders.erase(si);
    if (bo.qty == 0) {
      cash[bo.party].reserved_fen -= bo.cash_fen;
      cash[bo.party].free_fen += bo.cash_fen;
      orders.erase(f.buy_order);
    }
    if (out != nullptr) {
      TradeRecord t;
      t.id = next_trade;
      t.ts_ns = f.ts_ns;
      t.instrument = i;
      t.buyer = buyer;
      t.seller = seller;
      t.buy_order = f.buy_order;
      t.sell_order = f.sell_order;
      t.qty = f.qty;
      t.delivered_qty = delivered;
      t.price_fen = f.price_fen;
      t.value_fen = static_cast<Fen>(value);
      t.buyer_fee_fen = bfee;
      t.seller_fee_fen = sfee;
      t.compensation_fen = comp;
      t.beneficiary = beneficiary;
      t.levy_fen = levy;
      t.fund = levy != 0 ? fund : rules::kNone;
      t.zone = in.kind == InstrumentKind::water ? in.zone : rules::kNone;
      *out = t;
    }
    ++next_trade;
    return Reason::ok;
  }

  /// The laws of DESIGN.md §5 (1–3) and the reservation sums, on this model.
  std::vector<std::string> laws() const {
    std::vector<std::string> bad;
    for (InstrumentIndex i = 0; i < nI(); ++i) {
      i128 sum = loss.count(i) ? loss.at(i) : 0;
      for (PartyIndex p = 0; p < nP(); ++p) sum += h(p, i).free_qty + h(p, i).reserved_qty;
      const Supply s = supply.count(i) ? supply.at(i) : Supply{};
      if (sum != i128{s.issued_qty} - s.retired_qty) bad.push_back("law 1: instrument " + std::to_string(i));
    }
    i128 total = 0;
    for (const auto& [p, x] : cash) total += i128{x.free_fen} + x.reserved_fen;
    if (total != i128{cash_supply.issued_qty} - cash_supply.retired_qty) bad.push_back("law 1: cash");
    std::map<std::pair<PartyIndex, InstrumentIndex>, Holding> sums;
    std::map<PartyIndex, Fen> cash_sums;
    for (const auto& [id, o] : orders) {
      if (o.side == Side::sell) sums[{o.party, o.instrument}].reserved_qty += o.qty;
      else {
        sums[{o.party, o.instrument}].incoming_qty += o.qty;
        cash_sums[o.party] += o.cash_fen;
        if (o.cash_fen < *buy_need(o.party, o.instrument, o.qty, o.limit_fen)) {
          bad.push_back("order " + std::to_string(id) + " under-reserved");
        }
      }
      if (o.qty <= 0) bad.push_back("order " + std::to_string(id) + " empty but open");
    }
    for (PartyIndex p = 0; p < nP(); ++p) {
      if (c(p).free_fen < 0 || c(p).reserved_fen < 0) bad.push_back("law 2: cash " + std::to_string(p));
      if (c(p).reserved_fen != (cash_sums.count(p) ? cash_sums.at(p) : 0)) bad.push_back("reserved cash sum " + std::to_string(p));
      for (InstrumentIndex i = 0; i < nI(); ++i) {
        const Holding x = h(p, i);
        if (x.free_qty < 0 || x.reserved_qty < 0 || x.incoming_qty < 0) bad.push_back("law 2: holding");
        const Holding s = sums.count({p, i}) ? sums.at({p, i}) : Holding{};
        if (x.reserved_qty != s.reserved_qty || x.incoming_qty != s.incoming_qty) bad.push_back("reservation sums");
        const Qty limit = r->party_limit(p, i);
        if (limit > 0 && x.free_qty + x.reserved_qty + x.incoming_qty > limit) bad.push_back("law 3: party cap");
      }
    }
    for (const auto& cap : r->region_caps) {
      const RegionUsage u = region(cap.region, cap.instrument);
      if (u.held_qty + u.incoming_qty > cap.cap_qty) bad.push_back("law 3: region cap");
    }
    for (const auto& cap : r->zone_caps) {
      if (zone(cap.zone, cap.vintage) > cap.cap_qty) bad.push_back("law 3: zone cap");
    }
    return bad;
  }
};

inline void keep_within_caps(const std::shared_ptr<MarketRules>& r, const std::vector<rules::GenesisHolding>& all) {
  Model probe(r);
  for (const auto& g : all) {
    if (probe.issue(g.party, g.instrument, g.qty) == Reason::ok) r->genesis_holdings.push_back(g);
  }
}

/// Applies the rules' genesis like the ledger does.
inline void model_genesis(Model& m) {
  for (const auto& g : m.r->genesis_holdings) EXPECT_EQ(m.issue(g.party, g.instrument, g.qty), Reason::ok);
  for (const auto& g : m.r->genesis_cash) {
    if (g.fen != 0) {
      EXPECT_EQ(m.deposit(g.party, g.fen), Reason::ok);
    }
  }
  m.normalize();
}

/// "" when the ledger's state equals the model's, else the first difference.
inline std::string diff(const Ledger& l, const Model& m) {
  const auto& r = *m.r;
  for (PartyIndex p = 0; p < m.nP(); ++p) {
    if (!(l.cash(p) == m.c(p))) return "cash of party " + std::to_string(p);
    for (InstrumentIndex i = 0; i < m.nI(); ++i) {
      if (!(l.holding(p, i) == m.h(p, i))) {
        const Holding a = l.holding(p, i), b = m.h(p, i);
        return "holding of party " + std::to_string(p) + " instrument " + std::to_string(i) + ": ledger " +
               std::to_string(a.free_qty) + "/" + std::to_string(a.reserved_qty) + "/" + std::to_string(a.incoming_qty) +
               " model " + std::to_string(b.free_qty) + "/" + std::to_string(b.reserved_qty) + "/" +
               std::to_string(b.incoming_qty);
      }
    }
  }
  for (InstrumentIndex i = 0; i < m.nI(); ++i) {
    if (l.loss_qty(i) != (m.loss.count(i) ? m.loss.at(i) : 0)) return "loss of instrument " + std::to_string(i);
    if (!(l.supply(i) == (m.supply.count(i) ? m.supply.at(i) : Supply{}))) return "supply " + std::to_string(i);
    for (RegionIndex g = 0; g < r.regions.size(); ++g) {
      if (!(l.region_usage(g, i) == m.region(g, i))) return "region usage " + std::to_string(g) + "/" + std::to_string(i);
    }
    const auto& in = r.instruments[i];
    if (in.kind == InstrumentKind::water && l.zone_held(in.zone, in.vintage) != m.zone(in.zone, in.vintage)) {
      return "zone usage for instrument " + std::to_string(i);
    }
  }
  if (!(l.cash_supply() == m.cash_supply)) return "cash supply";
  if (l.open_orders() != m.orders.size()) {
    return "open orders: ledger " + std::to_string(l.open_orders()) + " model " + std::to_string(m.orders.size());
  }
  std::string out;
  l.for_each_order([&](OrderId id, const OrderReservation& o) {
    if (!out.empty()) return;
    auto it = m.orders.find(id);
    if (it == m.orders.end() || !(it->second == o)) out = "order " + std::to_string(id);
  });
  if (!out.empty()) return out;
  if (l.next_trade_id() != m.next_trade) return "next trade id";
  return "";
}

// ------------------------------------------------------------------ ops

struct Op {
  enum Kind : std::uint8_t { issue, retire, deposit, withdraw, grant, sell, buy, release, settle, snapshot };
  Kind kind = issue;
  PartyIndex party = 0, party2 = 0;
  InstrumentIndex instrument = 0;
  std::int64_t qty = 0;
  Fen price = 0;
  OrderId order = 0, order2 = 0;
  TimestampNs ts = 0;
};

inline Reason apply(Batch& b, const Op& op, TradeRecord* out = nullptr) {
  switch (op.kind) {
    case Op::issue: return b.issue(op.party, op.instrument, op.qty);
    case Op::retire: return b.retire(op.party, op.instrument, op.qty);
    case Op::deposit: return b.deposit(op.party, op.qty);
    case Op::withdraw: return b.withdraw(op.party, op.qty);
    case Op::grant: return b.grant(op.party, op.party2, op.qty);
    case Op::sell: return b.reserve_sell(op.order, op.party, op.instrument, op.qty);
    case Op::buy: return b.reserve_buy(op.order, op.party, op.instrument, op.qty, op.price);
    case Op::release: return b.release(op.order, op.qty);
    case Op::settle: return b.settle(Fill{op.order, op.order2, op.qty, op.price, op.ts}, out);
    case Op::snapshot: {
      const std::string s = "books@" + std::to_string(op.ts);
      return b.put_snapshot({reinterpret_cast<const std::byte*>(s.data()), s.size()});
    }
  }
  return Reason::ok;
}

inline Reason apply(Model& m, const Op& op, TradeRecord* out = nullptr) {
  switch (op.kind) {
    case Op::issue: return m.issue(op.party, op.instrument, op.qty);
    case Op::retire: return m.retire(op.party, op.instrument, op.qty);
    case Op::deposit: return m.deposit(op.party, op.qty);
    case Op::withdraw: return m.withdraw(op.party, op.qty);
    case Op::grant: return m.grant(op.party, op.party2, op.qty);
    case Op::sell: return m.reserve_sell(op.order, op.party, op.instrument, op.qty);
    case Op::buy: return m.reserve_buy(op.order, op.party, op.instrument, op.qty, op.price);
    case Op::release: return m.release(op.order, op.qty);
    case Op::settle: {
      const Reason r = m.settle(Fill{op.order, op.order2, op.qty, op.price, op.ts}, out);
      return r;
    }
    case Op::snapshot:  // the model does not keep the bytes
      if (m.snapshot_in_batch) return Reason::snapshot_exists;
      m.snapshot_in_batch = true;
      return Reason::ok;
  }
  return Reason::ok;
}

/// Applies a whole batch to the model.
inline void apply_batch(Model& m, const std::vector<Op>& ops) {
  m.begin_batch();
  for (const Op& op : ops) apply(m, op);
  m.normalize();
}

/// Generates a batch of operations from `rng` and the open orders (sorted by
/// id), so that a ledger and a model in the same state get the same batch.
/// Mixes valid operations with ones that must be rejected.
inline std::vector<Op> generate(std::mt19937_64& rng, const MarketRules& r,
                                const std::vector<std::pair<OrderId, OrderReservation>>& open, Seq seq,
                                std::size_t count) {
  auto pick = [&](std::uint64_t n) { return n == 0 ? 0 : rng() % n; };
  auto chance = [&](unsigned pct) { return pick(100) < pct; };
  const auto nP = static_cast<PartyIndex>(r.parties.size());
  const auto nI = static_cast<InstrumentIndex>(r.instruments.size());
  auto party = [&] {
    if (chance(2)) return static_cast<PartyIndex>(nP + pick(3));  // unknown
    if (chance(85)) return static_cast<PartyIndex>(kFirstEnterprise + pick(nP - kFirstEnterprise));
    return static_cast<PartyIndex>(pick(nP));
  };
  auto instrument = [&] { return chance(2) ? static_cast<InstrumentIndex>(nI + pick(2)) : static_cast<InstrumentIndex>(pick(nI)); };
  auto qty = [&] {
    if (chance(3)) return static_cast<Qty>(-static_cast<std::int64_t>(pick(2)));  // 0 or -1
    if (chance(2)) return static_cast<Qty>(std::int64_t{1} << 61);
    return static_cast<Qty>(1 + pick(chance(20) ? 2000 : 200));
  };
  auto amount = [&](std::int64_t mult) {  // a cash amount; huge ones stay huge
    const Qty q = qty();
    return q > (std::int64_t{1} << 40) ? q : q * mult;
  };
  std::vector<OrderId> buys, sells;
  std::map<InstrumentIndex, std::vector<OrderId>> sells_by;
  std::map<OrderId, OrderReservation> live(open.begin(), open.end());
  for (const auto& [id, o] : open) {
    (o.side == Side::buy ? buys : sells).push_back(id);
    if (o.side == Side::sell) sells_by[o.instrument].push_back(id);
  }
  std::vector<Op> ops;
  OrderId next_id = seq * 100000;
  const TimestampNs ts0 = static_cast<TimestampNs>(seq) * 1'000'000'000;
  for (std::size_t k = 0; k < count; ++k) {
    Op op;
    op.ts = ts0 + static_cast<TimestampNs>(k);
    auto roll = pick(100);
    if (open.size() > 150 && roll >= 17 && roll < 55 && chance(60)) roll = 60;  // release instead
    if (roll < 6) {
      op.kind = Op::issue;
      op.party = party();
      op.instrument = instrument();
      op.qty = qty();
    } else if (roll < 9) {
      op.kind = Op::retire;
      op.party = party();
      op.instrument = instrument();
      op.qty = qty();
    } else if (roll < 13) {
      op.kind = Op::deposit;
      op.party = party();
      op.qty = chance(3) ? INT64_MAX : amount(1000);
    } else if (roll < 15) {
      op.kind = Op::withdraw;
      op.party = party();
      op.qty = chance(30) ? 20'000'000 : amount(100);
    } else if (roll < 17) {
      op.kind = Op::grant;
      op.party = chance(80) ? kAirFund : party();
      op.party2 = chance(80) ? (chance(50) ? kChengdeGov : kZjkGov) : party();
      op.qty = amount(10);
    } else if (roll < 35) {
      op.kind = Op::sell;
      op.order = chance(3) && !open.empty() ? open[pick(open.size())].first : next_id++;
      op.party = party();
      op.instrument = instrument();
      op.qty = qty();
    } else if (roll < 55) {
      op.kind = Op::buy;
      op.order = chance(3) && !open.empty() ? open[pick(open.size())].first : next_id++;
      op.party = party();
      op.instrument = instrument();
      op.qty = qty();
      op.price = chance(3) ? -static_cast<Fen>(pick(2)) : static_cast<Fen>(50 + pick(150));
      if (chance(2)) op.price = INT64_MAX / 2;
    } else if (roll < 65) {
      op.kind = Op::release;
      if (!open.empty() && chance(90)) {
        const auto& [id, o] = open[pick(open.size())];
        op.order = id;
        op.qty = chance(60) ? 0 : static_cast<Qty>(pick(static_cast<std::uint64_t>(o.qty) + 2));
      } else {
        op.order = next_id + 777;
      }
    } else if (roll < 97) {
      op.kind = Op::settle;
      op.ts = ts0 + static_cast<TimestampNs>(k);
      if (!buys.empty() && chance(92)) {
        const OrderId b = buys[pick(buys.size())];
        const OrderReservation& bo = live.at(b);
        const auto& cands = sells_by[bo.instrument];
        const OrderId s = cands.empty() || chance(5) ? (sells.empty() ? b + 1 : sells[pick(sells.size())])
                                                      : cands[pick(cands.size())];
        op.order = b;
        op.order2 = s;
        const Qty smax = live.count(s) ? live.at(s).qty : 1;
        const Qty maxq = std::max<Qty>(1, std::min(bo.qty, smax));
        op.qty = chance(5) ? maxq + 1 : 1 + static_cast<Qty>(pick(static_cast<std::uint64_t>(maxq)));
        if (chance(50)) op.qty = maxq;  // fill completely now and then
        op.price = chance(4) ? bo.limit_fen + 1 : 1 + static_cast<Fen>(pick(static_cast<std::uint64_t>(std::max<Fen>(1, bo.limit_fen))));
        if (chance(1)) op.price = 0;
        if (chance(2)) std::swap(op.order, op.order2);  // wrong sides now and then
      } else {
        op.order = next_id + 5;
        op.order2 = next_id + 6;
        op.qty = 1;
        op.price = 1;
      }
    } else {
      op.kind = Op::snapshot;
    }
    ops.push_back(op);
  }
  return ops;
}

inline std::vector<std::pair<OrderId, OrderReservation>> open_orders(const Ledger& l) {
  std::vector<std::pair<OrderId, OrderReservation>> out;
  l.for_each_order([&](OrderId id, const OrderReservation& o) { out.emplace_back(id, o); });
  return out;
}
inline std::vector<std::pair<OrderId, OrderReservation>> open_orders(const Model& m) {
  return {m.orders.begin(), m.orders.end()};
}

inline Bytes as_bytes(const std::string& s) { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }

inline Options fast_options() {
  Options o;
  o.durability = Durability::none;
  o.map_bytes = std::uint64_t{64} << 20;
  o.image_min_entries = 64;
  return o;
}

}  // namespace haihe::ledger::test
