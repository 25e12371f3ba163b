// haihe::exchange — the engine's instrument parameters, built from the rules.
//
// This is the one place where rules:: and engine:: meet for instruments:
// rules/ never includes engine/, and the engine knows nothing of the rules
// file. The loader has already validated everything the engine requires
// (tick and lot > 0, floor >= tick, floor <= reference <= ceiling, prices on
// the tick, 0 <= band < 10000 bps, a bounded price grid and order size).
#pragma once

#include <vector>

#include "engine/params.h"
#include "rules/rules.h"

namespace haihe::exchange {

/// The engine parameters of one instrument; id = its rules index.
/// Throws std::out_of_range for an index that is not an instrument.
engine::InstrumentParams instrument_params(const rules::MarketRules& rules,
                                           rules::InstrumentIndex instrument);

/// All instruments' parameters, indexed like rules.instruments.
std::vector<engine::InstrumentParams> instrument_params(const rules::MarketRules& rules);

}  // namespace haihe::exchange
