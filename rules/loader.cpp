// haihe::rules — the loader: TOML text -> validated MarketRules.
// (interim stub so that dependants link; the real loader follows)
#include "rules/rules.h"

namespace haihe::rules {

std::shared_ptr<const MarketRules> load_rules_text(std::string_view, std::string_view file) {
  throw RulesLoadError({RulesError{std::string(file), 0, 0, "", "the rules loader is not built yet"}});
}

std::shared_ptr<const MarketRules> load_rules_file(const std::filesystem::path& path) {
  return load_rules_text("", path.string());
}

std::string_view default_rules_text() { return {}; }

std::shared_ptr<const MarketRules> load_default_rules() {
  return load_rules_text(default_rules_text(), "<default>");
}

}  // namespace haihe::rules
