// haihe::rules — MarketRules lookups and the error types.
//
// The loader (TOML -> MarketRules, with validation) lives in loader.cpp.
#include "rules/rules.h"

#include <algorithm>
#include <string>
#include <utility>

namespace haihe::rules {

namespace {

using IndexTable = std::vector<std::pair<std::string, std::uint32_t>>;

// Binary search in a sorted (id, index) table. When the table was not filled
// (a MarketRules built by hand, e.g. in a test), falls back to a linear scan
// of the entities themselves so the lookups still answer correctly.
template <class Vec, class Key>
std::uint32_t find_in(const IndexTable& table, const Vec& items, std::string_view id, Key key) {
  if (table.size() == items.size() && !table.empty()) {
    const auto it = std::lower_bound(table.begin(), table.end(), id,
                                     [](const auto& entry, std::string_view v) {
                                       return std::string_view(entry.first) < v;
                                     });
    if (it != table.end() && it->first == id) return it->second;
    return kNone;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (key(items[i]) == id) return static_cast<std::uint32_t>(i);
  }
  return kNone;
}

}  // namespace

RegionIndex MarketRules::find_region(std::string_view id) const {
  return find_in(region_index, regions, id, [](const Region& r) -> std::string_view { return r.id; });
}

ZoneIndex MarketRules::find_zone(std::string_view id) const {
  return find_in(zone_index, zones, id, [](const SourceZone& z) -> std::string_view { return z.id; });
}

PartyIndex MarketRules::find_party(std::string_view id) const {
  return find_in(party_index, parties, id, [](const Party& p) -> std::string_view { return p.id; });
}

PartyIndex MarketRules::find_party_by_comp_id(std::string_view comp_id) const {
  if (comp_id.empty()) return kNone;
  if (!comp_id_index.empty()) {
    const auto it = std::lower_bound(comp_id_index.begin(), comp_id_index.end(), comp_id,
                                     [](const auto& entry, std::string_view v) {
                                       return std::string_view(entry.first) < v;
                                     });
    if (it != comp_id_index.end() && it->first == comp_id) return it->second;
    return kNone;
  }
  for (std::size_t i = 0; i < parties.size(); ++i) {
    if (parties[i].fix_comp_id == comp_id) return static_cast<PartyIndex>(i);
  }
  return kNone;
}

InstrumentIndex MarketRules::find_instrument(std::string_view symbol) const {
  return find_in(instrument_index, instruments, symbol,
                 [](const Instrument& i) -> std::string_view { return i.symbol; });
}

PartyIndex MarketRules::exchange_party() const {
  for (std::size_t i = 0; i < parties.size(); ++i) {
    if (parties[i].kind == PartyKind::exchange) return static_cast<PartyIndex>(i);
  }
  return kNone;
}

Qty MarketRules::party_limit(PartyIndex p, InstrumentIndex i) const {
  for (const PartyCap& c : party_caps) {
    if (c.party == p && c.instrument == i) return c.limit_qty;
  }
  if (i >= instruments.size()) return 0;
  return instruments[i].party_limit_qty;
}

const RegionCap* MarketRules::region_cap(RegionIndex r, InstrumentIndex i) const {
  for (const RegionCap& c : region_caps) {
    if (c.region == r && c.instrument == i) return &c;
  }
  return nullptr;
}

const ZoneCap* MarketRules::zone_cap(ZoneIndex z, std::uint16_t vintage) const {
  for (const ZoneCap& c : zone_caps) {
    if (c.zone == z && c.vintage == vintage) return &c;
  }
  return nullptr;
}

const TransferRule* MarketRules::transfer(ZoneIndex z, RegionIndex buyer_region) const {
  for (const TransferRule& t : transfers) {
    if (t.zone == z && t.buyer_region == buyer_region) return &t;
  }
  return nullptr;
}

const CompensationRoute* MarketRules::compensation_for(ZoneIndex z, RegionIndex buyer_region) const {
  for (const CompensationRoute& c : compensation) {
    if (c.zone != z) continue;
    if (std::find(c.buyer_regions.begin(), c.buyer_regions.end(), buyer_region) !=
        c.buyer_regions.end()) {
      return &c;
    }
  }
  return nullptr;
}

const Levy* MarketRules::levy_for(const Instrument& i) const {
  // A levy naming the instrument's pollutant wins over one for the whole kind.
  const Levy* general = nullptr;
  for (const Levy& l : levies) {
    if (l.kind != i.kind) continue;
    if (l.pollutant.has_value()) {
      if (i.kind == InstrumentKind::emission && *l.pollutant == i.pollutant) return &l;
    } else if (general == nullptr) {
      general = &l;
    }
  }
  return general;
}

bool MarketRules::may_trade(PartyIndex p, InstrumentIndex i) const {
  if (p >= parties.size()) return false;
  const auto& list = parties[p].may_trade;
  return std::binary_search(list.begin(), list.end(), i);
}

std::string_view name_of(RegionLevel v) {
  switch (v) {
    case RegionLevel::municipality: return "municipality";
    case RegionLevel::prefecture_city: return "prefecture_city";
  }
  return "?";
}

std::string_view name_of(PartyKind v) {
  switch (v) {
    case PartyKind::enterprise: return "enterprise";
    case PartyKind::city_government: return "city_government";
    case PartyKind::fund: return "fund";
    case PartyKind::exchange: return "exchange";
    case PartyKind::regulator: return "regulator";
    case PartyKind::other: return "other";
  }
  return "?";
}

std::string_view name_of(InstrumentKind v) {
  switch (v) {
    case InstrumentKind::water: return "water";
    case InstrumentKind::emission: return "emission";
  }
  return "?";
}

std::string_view name_of(Pollutant v) {
  switch (v) {
    case Pollutant::so2: return "SO2";
    case Pollutant::nox: return "NOx";
    case Pollutant::cod: return "COD";
    case Pollutant::nh3n: return "NH3-N";
    case Pollutant::pm: return "PM";
    case Pollutant::co2: return "CO2";
  }
  return "?";
}

std::string_view name_of(TradingMode v) {
  switch (v) {
    case TradingMode::continuous: return "continuous";
    case TradingMode::batch: return "batch";
    case TradingMode::call: return "call";
  }
  return "?";
}

std::string RulesError::to_string() const {
  std::string out = file;
  if (line != 0) {
    out += ':';
    out += std::to_string(line);
    out += ':';
    out += std::to_string(column == 0 ? 1 : column);
  }
  out += ": ";
  if (!field.empty()) {
    out += field;
    out += ": ";
  }
  out += message;
  return out;
}

namespace {
std::string join_errors(const std::vector<RulesError>& errors) {
  if (errors.empty()) return "invalid market rules";
  std::string out = errors.front().to_string();
  if (errors.size() > 1) {
    out += " (and ";
    out += std::to_string(errors.size() - 1);
    out += errors.size() == 2 ? " more error)" : " more errors)";
  }
  return out;
}
}  // namespace

RulesLoadError::RulesLoadError(std::vector<RulesError> errors)
    : std::runtime_error(join_errors(errors)), errors_(std::move(errors)) {}

}  // namespace haihe::rules
