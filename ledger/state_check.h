// Internal: the ledger's law checks on a state given as raw table records
// (used by audit::verify on the folded write-sets).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ledger/ledger.h"

namespace haihe::ledger::detail {

struct RawState {
  std::map<std::string, std::string> tables[10];  // by format::Table number
  std::map<OrderId, OrderReservation> orders;
};

/// Laws 1–3 and the reservation sums (Ledger::check_invariants) on `s`.
std::vector<std::string> check_state(const rules::MarketRules& rules, const RawState& s);

}  // namespace haihe::ledger::detail
