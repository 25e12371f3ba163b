// The loader never crashes: the checked-in fuzz corpus replayed, and random
// mutations of the default market (RapidCheck). Any input either loads or
// throws RulesLoadError with located, non-empty messages.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "rules/rules.h"

namespace haihe::rules {
namespace {

// Loads; returns true if valid. Fails the test on anything but RulesLoadError.
bool load_ok(std::string_view text) {
  try {
    load_rules_text(text, "x.toml");
    return true;
  } catch (const RulesLoadError& e) {
    const auto lines = static_cast<std::uint32_t>(std::count(text.begin(), text.end(), '\n') + 2);
    EXPECT_FALSE(e.errors().empty());
    for (const auto& err : e.errors()) {
      EXPECT_FALSE(err.message.empty());
      EXPECT_LE(err.line, lines) << err.to_string();
      EXPECT_EQ(err.to_string().find('\n'), std::string::npos) << err.to_string();
    }
    return false;
  }
}

TEST(RulesRobustness, CorpusReplays) {
  const std::filesystem::path dir = HAIHE_RULES_CORPUS_DIR;
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    load_ok(text);
    ++n;
  }
  EXPECT_GE(n, 10u) << "the corpus in " << dir << " is missing";
}

TEST(RulesRobustness, MutatedDefaultMarketNeverCrashes) {
  const std::string base(default_rules_text());
  const bool ok = rc::check("mutations of the default market load or are rejected", [&] {
    std::string text = base;
    const auto edits = *rc::gen::inRange(1, 6);
    for (int k = 0; k < edits; ++k) {
      const auto at = *rc::gen::inRange<std::size_t>(0, text.size());
      switch (*rc::gen::inRange(0, 4)) {
        case 0:  // overwrite a byte
          text[at] = *rc::gen::arbitrary<char>();
          break;
        case 1:  // delete a span
          text.erase(at, *rc::gen::inRange<std::size_t>(1, 64));
          break;
        case 2: {  // duplicate a span elsewhere
          const auto len = *rc::gen::inRange<std::size_t>(1, 200);
          const auto to = *rc::gen::inRange<std::size_t>(0, text.size());
          text.insert(to, text.substr(at, len));
          break;
        }
        default:  // insert a digit run (huge numbers)
          text.insert(at, std::string(*rc::gen::inRange<std::size_t>(1, 30), '9'));
          break;
      }
    }
    load_ok(text);
  });
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace haihe::rules
