// haihe::sim — parsing designs and writing them into rules.
#include "sim/design.h"

#include <fmt/core.h>
#include <toml++/toml.h>

#include <charconv>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace haihe::sim {

namespace {

std::optional<std::uint64_t> parse_uint(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string hhmm(std::uint32_t minute) { return fmt::format("{:02}:{:02}", minute / 60, minute % 60); }

}  // namespace

std::string Design::label() const {
  switch (mode) {
    case rules::TradingMode::continuous: return "continuous";
    case rules::TradingMode::batch:
      if (batch_interval_ms % 1000 == 0) return fmt::format("batch:{}s", batch_interval_ms / 1000);
      return fmt::format("batch:{}ms", batch_interval_ms);
    case rules::TradingMode::call:
      return call_every_min == 0 ? std::string("call") : fmt::format("call:{}m", call_every_min);
  }
  return "?";
}

std::optional<Design> parse_design(std::string_view text, std::string* error) {
  const auto fail = [&](std::string msg) -> std::optional<Design> {
    if (error) *error = std::move(msg);
    return std::nullopt;
  };
  const auto colon = text.find(':');
  const std::string_view head = text.substr(0, colon);
  const std::string_view arg = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  Design d;
  if (head == "continuous") {
    if (colon != std::string_view::npos) return fail(fmt::format("'{}': continuous takes no argument", text));
    return d;
  }
  if (head == "batch") {
    d.mode = rules::TradingMode::batch;
    std::uint64_t mult = 0;
    std::string_view num;
    if (arg.size() > 2 && arg.substr(arg.size() - 2) == "ms") {
      mult = 1;
      num = arg.substr(0, arg.size() - 2);
    } else if (arg.size() > 1 && arg.back() == 's') {
      mult = 1000;
      num = arg.substr(0, arg.size() - 1);
    } else {
      return fail(fmt::format("'{}': a batch design needs its interval, e.g. batch:100ms or batch:2s", text));
    }
    const auto v = parse_uint(num);
    if (!v || *v == 0 || *v * mult > 3'600'000) {
      return fail(fmt::format("'{}': the batch interval must be 1 ms to 3600 s", text));
    }
    d.batch_interval_ms = static_cast<std::uint32_t>(*v * mult);
    return d;
  }
  if (head == "call") {
    d.mode = rules::TradingMode::call;
    if (colon == std::string_view::npos) return d;
    std::string_view num = arg;
    if (!num.empty() && num.back() == 'm') num.remove_suffix(1);
    else if (num.size() > 3 && num.substr(num.size() - 3) == "min") num.remove_suffix(3);
    else return fail(fmt::format("'{}': a call interval is in minutes, e.g. call:5m", text));
    const auto v = parse_uint(num);
    if (!v || *v == 0 || *v > 1440) return fail(fmt::format("'{}': the call interval must be 1 to 1440 minutes", text));
    d.call_every_min = static_cast<std::uint32_t>(*v);
    return d;
  }
  return fail(fmt::format("'{}' is not a design; allowed: continuous, batch:<N>ms, batch:<N>s, call, call:<N>m", text));
}

std::string apply_design(std::string_view rules_text, const Design& design, std::string_view file) {
  // Validate first (and learn each instrument's sessions for the call times).
  const auto rules = rules::load_rules_text(rules_text, file);
  toml::table tbl;
  try {
    tbl = toml::parse(rules_text, std::string(file));
  } catch (const toml::parse_error& e) {
    throw std::runtime_error(fmt::format("{}: {}", file, e.description()));  // unreachable: loaded above
  }
  toml::array* instruments = tbl["instruments"].as_array();
  if (instruments == nullptr || instruments->size() != rules->instruments.size()) {
    throw std::runtime_error(fmt::format("{}: instruments are not an array of tables", file));
  }
  if (design.mode == rules::TradingMode::call && design.call_every_min == 0) {
    throw std::invalid_argument("apply_design: a call design needs call_every_min > 0");
  }
  for (std::size_t i = 0; i < instruments->size(); ++i) {
    toml::table* t = (*instruments)[i].as_table();
    if (t == nullptr) throw std::runtime_error(fmt::format("{}: instruments[{}] is not a table", file, i));
    t->erase("mode");
    t->erase("batch_interval_ms");
    t->erase("call_times");
    switch (design.mode) {
      case rules::TradingMode::continuous: t->insert("mode", "continuous"); break;
      case rules::TradingMode::batch:
        t->insert("mode", "batch");
        t->insert("batch_interval_ms", static_cast<std::int64_t>(design.batch_interval_ms));
        break;
      case rules::TradingMode::call: {
        t->insert("mode", "call");
        toml::array times;
        for (const rules::Session& s : rules->instruments[i].day.sessions) {
          std::uint32_t m = s.start_min + design.call_every_min;
          for (; m < s.end_min; m += design.call_every_min) times.push_back(hhmm(m));
          times.push_back(hhmm(s.end_min));
        }
        t->insert("call_times", std::move(times));
        break;
      }
    }
  }
  std::ostringstream os;
  os << toml::toml_formatter{tbl};
  std::string out = os.str();
  (void)rules::load_rules_text(out, file);  // the result must be valid too
  return out;
}

}  // namespace haihe::sim
