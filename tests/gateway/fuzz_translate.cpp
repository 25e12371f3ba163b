// libFuzzer target: raw FIX text -> translate() for a participant and a
// regulator session of the default market. Must never crash, leak or hit UB,
// and every accepted command must be within the ranges the core expects.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/translate.h"
#include "rules/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto market = haihe::rules::load_default_rules();
  static const auto trader = market->find_party("BJ_WATERWORKS");
  static const auto regulator = market->find_party("REG_ECOLOGY");
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto party : {trader, regulator}) {
    const auto t = haihe::gateway::translate_raw(text, *market, party);
    if (t.ok) {
      const auto& c = t.command;
      if (c.party != party) std::abort();
      if (c.qty < 0 || c.qty > haihe::rules::kMaxQty) std::abort();
      if (c.price_fen < 0 || c.price_fen > haihe::rules::kMaxPriceFen) std::abort();
      if (c.instrument != haihe::rules::kNone && c.instrument >= market->instruments.size()) std::abort();
      if (market->parties[party].kind == haihe::rules::PartyKind::regulator) std::abort();
    } else if (t.reject.text.empty()) {
      std::abort();
    }
  }
  return 0;
}
