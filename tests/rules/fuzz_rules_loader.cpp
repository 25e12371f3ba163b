// libFuzzer target for the rules loader: any bytes either load into a
// MarketRules or are rejected with RulesLoadError; nothing else may happen
// (no crash, no other exception, no sanitizer report).
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_rules_loader
//   ./build/fuzz/tests/rules/fuzz_rules_loader -dict=tests/rules/rules.dict \
//       -max_total_time=300 /tmp/rules-corpus tests/rules/corpus
//
// The checked-in corpus (tests/rules/corpus, replayed by rules_tests in CI)
// is the edge-coverage merge of about 50 minutes of fuzzing, inputs of at
// most 1 KiB, plus the seeds:
//   cp tests/rules/corpus/* new/ && fuzz_rules_loader -merge=1 -use_counters=0 new found
// Findings so far: toml++ 3.3 reaches undefined behaviour (TOML_UNREACHABLE in
// is_non_ascii_horizontal_whitespace) on many non-ASCII code points outside
// strings (crash-toml-unreachable-*.toml); the loader's pre-scan rejects
// them; and a crash in compensation checks for a zone whose region was
// undefined (fixed, covered by RulesErrors tests).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rules/rules.h"
#include "rules/summary.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto rules = haihe::rules::load_rules_text(text, "fuzz.toml");
    // A valid result must be self-consistent enough to summarize.
    (void)haihe::rules::format_summary(*rules);
    for (std::uint32_t i = 0; i < rules->instruments.size(); ++i) {
      if (rules->find_instrument(rules->instruments[i].symbol) != i) std::abort();
    }
  } catch (const haihe::rules::RulesLoadError& e) {
    if (e.errors().empty()) std::abort();
    for (const auto& err : e.errors()) (void)err.to_string();
  }
  return 0;
}
