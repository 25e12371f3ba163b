// haihe::rules — summary of a MarketRules.
#include "rules/summary.h"

#include <cstdio>
#include <map>
#include <string_view>

namespace haihe::rules {

RulesSummary summarize(const MarketRules& r) {
  RulesSummary s;
  s.regions = r.regions.size();
  for (const Region& x : r.regions) {
    (x.level == RegionLevel::municipality ? s.municipalities : s.prefecture_cities) += 1;
  }
  s.zones = r.zones.size();
  s.parties = r.parties.size();
  for (const Party& p : r.parties) {
    s.parties_by_kind[static_cast<std::size_t>(p.kind)] += 1;
    if (!p.fix_comp_id.empty()) s.parties_with_fix += 1;
  }
  s.instruments = r.instruments.size();
  for (const Instrument& i : r.instruments) {
    (i.kind == InstrumentKind::water ? s.water_instruments : s.emission_instruments) += 1;
    s.instruments_by_mode[static_cast<std::size_t>(i.mode)] += 1;
    if (i.party_limit_qty > 0) s.instruments_with_party_limit += 1;
  }
  s.party_caps = r.party_caps.size();
  s.region_caps = r.region_caps.size();
  s.zone_caps = r.zone_caps.size();
  s.transfer_rules = r.transfers.size();
  s.compensation_routes = r.compensation.size();
  s.levies = r.levies.size();
  s.genesis_holdings = r.genesis_holdings.size();
  s.genesis_cash_accounts = r.genesis_cash.size();
  for (const GenesisCash& c : r.genesis_cash) s.genesis_cash_fen += c.fen;
  return s;
}

namespace {

void appendf(std::string& out, const char* fmt, auto... args) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0) out.append(buf, std::min(static_cast<std::size_t>(n), sizeof buf - 1));
}

// 1234567 -> "1,234,567"
std::string grouped(std::int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

// fen -> "12.34"
std::string yuan(Fen fen) {
  return grouped(fen / 100) + "." + (fen % 100 < 10 ? "0" : "") + std::to_string(fen % 100);
}

const char* c(const std::string& s) { return s.c_str(); }

}  // namespace

std::string format_summary(const MarketRules& r) {
  const RulesSummary s = summarize(r);
  std::string out;
  appendf(out, "market       %s\n", c(r.name));
  if (!r.source_sha256_hex.empty()) appendf(out, "sha256       %s\n", c(r.source_sha256_hex));
  appendf(out, "regions      %zu (%zu municipalities, %zu prefecture cities)\n", s.regions,
          s.municipalities, s.prefecture_cities);
  appendf(out, "source zones %zu\n", s.zones);
  for (const SourceZone& z : r.zones) {
    appendf(out, "  %-14s in %-12s %s\n", c(z.id),
            z.region < r.regions.size() ? c(r.regions[z.region].id) : "?", c(z.name));
  }
  appendf(out, "parties      %zu:", s.parties);
  bool first = true;
  for (std::size_t k = 0; k < s.parties_by_kind.size(); ++k) {
    if (s.parties_by_kind[k] == 0) continue;
    appendf(out, "%s %zu %s", first ? "" : ",", s.parties_by_kind[k],
            std::string(name_of(static_cast<PartyKind>(k))).c_str());
    first = false;
  }
  appendf(out, " (%zu with a FIX session)\n", s.parties_with_fix);
  appendf(out, "instruments  %zu: %zu water, %zu emission; %zu continuous, %zu batch, %zu call\n",
          s.instruments, s.water_instruments, s.emission_instruments, s.instruments_by_mode[0],
          s.instruments_by_mode[1], s.instruments_by_mode[2]);
  std::vector<Qty> issued(r.instruments.size(), 0);
  for (const GenesisHolding& h : r.genesis_holdings) {
    if (h.instrument < issued.size()) issued[h.instrument] += h.qty;
  }
  for (std::size_t k = 0; k < r.instruments.size(); ++k) {
    const Instrument& i = r.instruments[k];
    appendf(out, "  %-26s %-10s lot %s %s, price %s..%s fen (ref %s), band %s, issued %s %s\n",
            c(i.symbol), std::string(name_of(i.mode)).c_str(), c(grouped(i.lot_qty)), c(i.unit),
            c(grouped(i.floor_fen)), c(grouped(i.ceiling_fen)), c(grouped(i.reference_fen)),
            i.band_bps == 0 ? "none" : c(std::to_string(i.band_bps) + " bps"), c(grouped(issued[k])),
            c(i.unit));
  }
  appendf(out, "caps         %zu instruments with a party limit, %zu party overrides, %zu region caps, "
               "%zu zone caps\n",
          s.instruments_with_party_limit, s.party_caps, s.region_caps, s.zone_caps);
  appendf(out, "transfers    %zu zone-to-region rules\n", s.transfer_rules);
  appendf(out, "compensation %zu routes\n", s.compensation_routes);
  for (const CompensationRoute& cr : r.compensation) {
    std::string to;
    for (const RegionIndex x : cr.buyer_regions) {
      if (!to.empty()) to += ",";
      to += x < r.regions.size() ? r.regions[x].id : "?";
    }
    appendf(out, "  %-16s %s -> %s pays %s: %s fen/unit + %u bps\n", c(cr.id),
            cr.zone < r.zones.size() ? c(r.zones[cr.zone].id) : "?", c(to),
            cr.beneficiary < r.parties.size() ? c(r.parties[cr.beneficiary].id) : "?",
            c(grouped(cr.fen_per_unit)), cr.bps);
  }
  appendf(out, "levies       %zu\n", s.levies);
  for (const Levy& l : r.levies) {
    appendf(out, "  %-16s %s%s%s -> %s: %u bps of value, paid by the seller\n", c(l.id),
            std::string(name_of(l.kind)).c_str(), l.pollutant ? " " : "",
            l.pollutant ? std::string(name_of(*l.pollutant)).c_str() : "",
            l.fund < r.parties.size() ? c(r.parties[l.fund].id) : "?", l.bps);
  }
  appendf(out, "genesis      %zu allocations; opening cash %s yuan in %zu accounts\n",
          s.genesis_holdings, c(yuan(s.genesis_cash_fen)), s.genesis_cash_accounts);
  return out;
}

}  // namespace haihe::rules
