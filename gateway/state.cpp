#include "gateway/state.h"

#include <algorithm>

#include "gateway/fix_build.h"

namespace haihe::gateway {

Sessions::Sessions(const rules::MarketRules& rules, const std::string& comp_id) : parties_(rules.parties.size()) {
  for (exchange::PartyIndex p = 0; p < rules.parties.size(); ++p) {
    const auto& party = rules.parties[p];
    if (party.fix_comp_id.empty()) continue;
    auto& ps = parties_[p];
    ps.has_session = true;
    ps.regulator = party.kind == rules::PartyKind::regulator;
    ps.sid = FIX::SessionID("FIX.4.4", comp_id, party.fix_comp_id);
    by_comp_id_.emplace(party.fix_comp_id, p);
    ++count_;
    if (ps.regulator) regulators_.push_back(p);
  }
}

exchange::PartyIndex Sessions::party_of(const FIX::SessionID& sid) const {
  const auto it = by_comp_id_.find(sid.getTargetCompID().getValue());
  return it == by_comp_id_.end() ? rules::kNone : it->second;
}

void MarketDataSubs::drop_party(exchange::PartyIndex party) {
  std::lock_guard lock(mutex);
  for (auto it = subs.begin(); it != subs.end();) {
    it = it->second.party == party ? subs.erase(it) : std::next(it);
  }
  recount();
}

Shared::Shared(exchange::Core& c, const std::string& comp_id)
    : core(c), rules(c.rules()), sessions(c.rules(), comp_id), instruments(c.rules().instruments.size()) {
  // Instrument state known before the core runs; the publisher keeps it current.
  for (exchange::InstrumentIndex i = 0; i < rules.instruments.size(); ++i) {
    const auto& ins = rules.instruments[i];
    auto& st = instruments[i];
    st.state.store(static_cast<std::uint8_t>(core.state(i)));
    const exchange::Fen ref = core.reference_fen(i).value_or(ins.reference_fen);
    st.reference_fen.store(ref);
    exchange::Fen lo = ins.floor_fen, hi = ins.ceiling_fen;
    if (ins.band_bps != 0) {
      const exchange::Fen d =
          ref * static_cast<exchange::Fen>(ins.band_bps) / static_cast<exchange::Fen>(rules::kBpsDenominator);
      lo = std::max(lo, ref - d);
      hi = std::min(hi, ref + d);
    }
    st.band_low_fen.store(lo);
    st.band_high_fen.store(hi);
  }
  user_ref_.store(static_cast<std::uint64_t>(wall_clock_ns()));
}

}  // namespace haihe::gateway
