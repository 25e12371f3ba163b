// haihe::rules — the loader: TOML text -> validated MarketRules.
//
// One pass over the parsed document per section, in dependency order
// (market, regions, zones, parties, instruments, may_trade, caps, transfers,
// compensation, levies, genesis), collecting every error with its source
// position instead of stopping at the first. The schema is rules/README.md.
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <new>
#include <set>
#include <sstream>
#include <string>
#include <toml++/toml.h>
#include <tuple>
#include <utility>

#include "rules/rules.h"

namespace haihe::rules {

namespace {

constexpr std::size_t kMaxFileBytes = std::size_t{4} << 20;  // 4 MiB
constexpr std::size_t kMaxErrors = 500;
constexpr std::size_t kMaxEntities = 100'000;           // per section
constexpr std::size_t kMaxMayTradeEntries = 10'000'000;  // all parties together
constexpr std::size_t kMaxIdLength = 64;
constexpr std::size_t kMaxNameLength = 256;
constexpr std::int64_t kMinVintage = 2000;
constexpr std::int64_t kMaxVintage = 2100;
constexpr std::int64_t kMaxRateDenominator = 10'000;
constexpr std::int64_t kMaxBatchIntervalMs = 3'600'000;
constexpr std::int64_t kMaxMsgsPerS = 100'000;
constexpr std::uint32_t kDefaultMsgsPerS = 50;
constexpr std::int64_t kBps = kBpsDenominator;

// ---------------------------------------------------------------- strings

void app(std::string& s, std::string_view v) { s += v; }
void app(std::string& s, const char* v) { s += v; }
void app(std::string& s, const std::string& v) { s += v; }
template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, char> && !std::is_same_v<I, bool>)
void app(std::string& s, I v) {
  s += std::to_string(v);
}
template <class... A>
std::string cat(const A&... a) {
  std::string s;
  (app(s, a), ...);
  return s;
}

// A user-supplied string shown in a message: quoted, shortened, with
// control bytes escaped so that a message is always one printable line.
std::string show(std::string_view v) {
  std::string out = "'";
  std::size_t n = 0;
  for (const char ch : v) {
    if (++n > 64) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += ch;
    }
  }
  out += "'";
  return out;
}

std::string hhmm(std::uint32_t minutes) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02u:%02u", (minutes / 60) % 100, minutes % 60);
  return buf;
}

std::string session_text(const Session& s) { return hhmm(s.start_min) + "-" + hhmm(s.end_min); }

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string join(std::initializer_list<std::string_view> items) {
  std::string out;
  for (const auto item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// ---------------------------------------------------------------- errors

struct Pos {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

Pos pos_of(const toml::source_region& r) { return {r.begin.line, r.begin.column}; }
Pos pos_of(const toml::node& n) { return pos_of(n.source()); }

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

class Errors {
 public:
  explicit Errors(std::string file) : file_(std::move(file)) {}

  void add(Pos p, std::string field, std::string message) {
    if (list_.size() >= kMaxErrors) {
      truncated_ = true;
      return;
    }
    list_.push_back(RulesError{file_, p.line, p.column, std::move(field), std::move(message)});
  }
  bool any() const { return !list_.empty(); }
  const std::string& file() const { return file_; }

  std::vector<RulesError> take() {
    std::stable_sort(list_.begin(), list_.end(), [](const RulesError& a, const RulesError& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    if (truncated_) {
      list_.push_back(RulesError{file_, 0, 0, "",
                                 cat("too many errors; only the first ", kMaxErrors, " are listed")});
    }
    return std::move(list_);
  }

 private:
  std::string file_;
  std::vector<RulesError> list_;
  bool truncated_ = false;
};

// ---------------------------------------------------------------- tables

// A TOML table being read: checks for unknown keys up front (typos must not
// be silently ignored) and reads typed fields, reporting wrong types and
// ranges with the field's own position.
class Obj {
 public:
  Obj(Errors& errors, const toml::table& t, std::string path,
      std::initializer_list<std::string_view> allowed)
      : errors_(errors), table_(t), path_(std::move(path)) {
    for (auto&& [key, value] : t) {
      const std::string_view k = key.str();
      if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
      std::string msg = cat("unknown field ", show(k));
      std::string_view best;
      std::size_t best_d = 3;
      for (const auto a : allowed) {
        const std::size_t d = edit_distance(k, a);
        if (d < best_d) {
          best_d = d;
          best = a;
        }
      }
      if (!best.empty()) msg += cat("; did you mean '", best, "'?");
      msg += cat(best.empty() ? "; allowed here: " : " Allowed here: ", join(allowed));
      errors_.add(pos_of(key.source()), field(k), std::move(msg));
    }
  }

  const std::string& path() const { return path_; }
  std::string field(std::string_view key) const {
    return path_.empty() ? std::string(key) : cat(path_, ".", key);
  }
  Pos pos() const { return pos_of(table_); }
  Pos pos(std::string_view key) const {
    const toml::node* n = table_.get(key);
    return n != nullptr ? pos_of(*n) : pos();
  }
  const toml::node* get(std::string_view key) const { return table_.get(key); }
  bool has(std::string_view key) const { return table_.get(key) != nullptr; }
  Errors& errors() const { return errors_; }

  void error(std::string_view key, std::string message) const {
    errors_.add(pos(key), field(key), std::move(message));
  }
  void missing(std::string_view key, std::string_view what) const {
    errors_.add(pos(), field(key), cat("required field is missing; expected ", what));
  }
  void wrong_type(std::string_view key, const toml::node& n, std::string_view what) const {
    std::string msg = cat("expected ", what, ", got ", type_name(n));
    if (n.is_floating_point() && what.find("integer") != std::string_view::npos) {
      msg += " (no floating point: money is in fen, quantities in base units, rates in bps)";
    }
    errors_.add(pos_of(n), field(key), std::move(msg));
  }

  std::optional<std::string> str(std::string_view key, bool required, std::string_view what) const {
    const toml::node* n = get(key);
    if (n == nullptr) {
      if (required) missing(key, what);
      return std::nullopt;
    }
    const auto* s = n->as_string();
    if (s == nullptr) {
      wrong_type(key, *n, what);
      return std::nullopt;
    }
    return s->get();
  }

  // A readable name: any text without control characters.
  std::optional<std::string> name(std::string_view key, bool required) const {
    auto v = str(key, required, "a string (a readable name)");
    if (!v) return v;
    if (v->size() > kMaxNameLength) {
      error(key, cat("is ", v->size(), " bytes long; allowed: at most ", kMaxNameLength));
      return std::nullopt;
    }
    for (const char ch : *v) {
      const auto u = static_cast<unsigned char>(ch);
      if (u < 0x20 || u == 0x7f) {
        error(key, cat(show(*v), " contains a control character; allowed: printable text"));
        return std::nullopt;
      }
    }
    return v;
  }

  std::optional<std::int64_t> integer(std::string_view key, bool required, std::int64_t lo,
                                      std::int64_t hi, std::string_view what) const {
    const toml::node* n = get(key);
    if (n == nullptr) {
      if (required) missing(key, cat("an integer: ", what));
      return std::nullopt;
    }
    const auto* i = n->as_integer();
    if (i == nullptr) {
      wrong_type(key, *n, cat("an integer (", what, ")"));
      return std::nullopt;
    }
    const std::int64_t v = i->get();
    if (v < lo || v > hi) {
      error(key, cat(v, " is out of range; allowed: ", what, " (", lo, " to ", hi, ")"));
      return std::nullopt;
    }
    return v;
  }

  const toml::array* array(std::string_view key, bool required, std::string_view what) const {
    const toml::node* n = get(key);
    if (n == nullptr) {
      if (required) missing(key, what);
      return nullptr;
    }
    const auto* a = n->as_array();
    if (a == nullptr) wrong_type(key, *n, what);
    return a;
  }

  const toml::table* table(std::string_view key, bool required, std::string_view what) const {
    const toml::node* n = get(key);
    if (n == nullptr) {
      if (required) missing(key, what);
      return nullptr;
    }
    const auto* t = n->as_table();
    if (t == nullptr) wrong_type(key, *n, what);
    return t;
  }

  // A keyword from a fixed list; `fold` compares case-insensitively.
  template <class E>
  std::optional<E> keyword(std::string_view key, bool required,
                           std::initializer_list<std::pair<std::string_view, E>> options,
                           bool fold = false) const {
    std::string allowed;
    for (const auto& [name, value] : options) {
      if (!allowed.empty()) allowed += ", ";
      allowed += name;
    }
    const auto v = str(key, required, cat("one of ", allowed));
    if (!v) return std::nullopt;
    for (const auto& [name, value] : options) {
      if (name == *v) return value;
      if (fold && name.size() == v->size() &&
          std::equal(name.begin(), name.end(), v->begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        return value;
      }
    }
    error(key, cat(show(*v), " is not allowed; allowed: ", allowed));
    return std::nullopt;
  }

 private:
  Errors& errors_;
  const toml::table& table_;
  std::string path_;
};

// Calls f(table, path) for each element of an array of tables.
template <class F>
void each_table(Errors& errors, const toml::node* n, const std::string& path, F&& f) {
  if (n == nullptr) return;
  const toml::array* arr = n->as_array();
  if (arr == nullptr) {
    errors.add(pos_of(*n), path,
               cat("expected an array of tables (write [[", path, "]] sections), got ",
                   type_name(*n)));
    return;
  }
  if (arr->size() > kMaxEntities) {
    errors.add(pos_of(*n), path,
               cat("has ", arr->size(), " entries; allowed: at most ", kMaxEntities));
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    std::string p = cat(path, "[", i, "]");
    const toml::table* t = e.as_table();
    if (t == nullptr) {
      errors.add(pos_of(e), p, cat("expected a table, got ", type_name(e)));
      continue;
    }
    f(*t, p);
  }
}

bool id_char(char c, bool dots) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || (dots && c == '.');
}

// Ids: 1..64 of [A-Za-z0-9_-]; symbols and FIX CompIDs may also contain '.'.
bool valid_id(std::string_view v, bool dots) {
  if (v.empty() || v.size() > kMaxIdLength) return false;
  return std::all_of(v.begin(), v.end(), [dots](char c) { return id_char(c, dots); });
}

std::string_view id_rule(bool dots) {
  return dots ? "1 to 64 characters of A-Z a-z 0-9 _ - ." : "1 to 64 characters of A-Z a-z 0-9 _ -";
}

// "HH:MM", 00:00 to 24:00.
std::optional<std::uint16_t> parse_hhmm(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!digit(s[0]) || !digit(s[1]) || !digit(s[3]) || !digit(s[4])) return std::nullopt;
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return std::nullopt;
  return static_cast<std::uint16_t>(h * 60 + m);
}

constexpr std::string_view kTimeRule =
    "a local time \"HH:MM\" (UTC+8, 00:00 to 24:00), as a string or a TOML time";

// A time of day node: "HH:MM" or a TOML local time with zero seconds.
std::optional<std::uint16_t> read_time(Errors& errors, const toml::node& n, const std::string& path) {
  if (const auto* t = n.as_time()) {
    const toml::time v = t->get();
    if (v.second != 0 || v.nanosecond != 0 || v.hour > 23 || v.minute > 59) {
      errors.add(pos_of(n), path, cat("has seconds; allowed: ", kTimeRule));
      return std::nullopt;
    }
    return static_cast<std::uint16_t>(v.hour * 60 + v.minute);
  }
  if (const auto* s = n.as_string()) {
    if (auto v = parse_hhmm(s->get())) return v;
    errors.add(pos_of(n), path, cat(show(s->get()), " is not a time; allowed: ", kTimeRule));
    return std::nullopt;
  }
  errors.add(pos_of(n), path, cat("expected ", kTimeRule, ", got ", type_name(n)));
  return std::nullopt;
}

constexpr std::string_view kSessionsRule =
    "an array of \"HH:MM-HH:MM\" strings, local time UTC+8, ascending, not overlapping, each "
    "start before its end";

std::optional<std::vector<Session>> read_sessions(Errors& errors, const toml::node& n,
                                                  const std::string& path) {
  const toml::array* arr = n.as_array();
  if (arr == nullptr) {
    errors.add(pos_of(n), path, cat("expected ", kSessionsRule, ", got ", type_name(n)));
    return std::nullopt;
  }
  if (arr->empty()) {
    errors.add(pos_of(n), path, cat("is empty; allowed: ", kSessionsRule));
    return std::nullopt;
  }
  if (arr->size() > 48) {
    errors.add(pos_of(n), path, cat("has ", arr->size(), " sessions; allowed: at most 48"));
    return std::nullopt;
  }
  std::vector<Session> out;
  bool ok = true;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& e = *arr->get(i);
    const std::string p = cat(path, "[", i, "]");
    const auto* s = e.as_string();
    if (s == nullptr) {
      errors.add(pos_of(e), p, cat("expected a string \"HH:MM-HH:MM\", got ", type_name(e)));
      ok = false;
      continue;
    }
    const std::string_view v = s->get();
    const auto start = v.size() == 11 && v[5] == '-' ? parse_hhmm(v.substr(0, 5)) : std::nullopt;
    const auto end = v.size() == 11 && v[5] == '-' ? parse_hhmm(v.substr(6, 5)) : std::nullopt;
    if (!start || !end) {
      errors.add(pos_of(e), p,
                 cat(show(v), " is not a session; allowed: \"HH:MM-HH:MM\", e.g. \"09:30-11:30\""));
      ok = false;
      continue;
    }
    if (*start >= *end) {
      errors.add(pos_of(e), p, cat(show(v), " ends before it starts; allowed: start before end"));
      ok = false;
      continue;
    }
    const Session cur{*start, *end};
    if (!out.empty() && cur.start_min < out.back().end_min) {
      errors.add(pos_of(e), p,
                 cat("session ", session_text(cur), " overlaps or precedes the session before it (",
                     session_text(out.back()),
                     "); allowed: sessions in ascending order that do not overlap"));
      ok = false;
      continue;
    }
    out.push_back(cur);
  }
  if (!ok) return std::nullopt;
  return out;
}

// Saturating addition of non-negative quantities (sums of allocations).
std::int64_t sat_add(std::int64_t a, std::int64_t b) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  return a > kMax - b ? kMax : a + b;
}

std::string sha256_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::size_t{len} * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

// ---------------------------------------------------------------- pre-scan

// toml++ 3.3 (Debian 12) reaches TOML_UNREACHABLE (undefined behaviour) in
// is_non_ascii_horizontal_whitespace() for many non-ASCII code points (e.g.
// U+044F) wherever it tests for whitespace: outside strings, after a
// backslash in a multi-line basic string, and on the first character after
// a line-ending backslash. Found by fuzz_rules_loader. This scan rejects
// those inputs before toml++ sees them. Outside strings and comments
// non-ASCII is never valid TOML 1.0; the line-ending-backslash case is valid
// but so rare that asking for a \uXXXX escape instead is acceptable.
struct ScanProblem {
  Pos pos;
  std::string message;
};

std::optional<ScanProblem> scan_for_toml_hazards(std::string_view t) {
  enum class State { normal, comment, basic, multi_basic, literal, multi_literal };
  State state = State::normal;
  std::uint32_t line = 1;
  std::uint32_t column = 0;  // of the byte at i, in code points, 1-based
  std::size_t i = 0;
  if (t.substr(0, 3) == "\xEF\xBB\xBF") i = 3;  // a UTF-8 byte order mark is allowed
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(t[k]); };
  auto advance = [&] {  // move past t[i], keeping line and column
    if (t[i] == '\n') {
      ++line;
      column = 0;
    }
    ++i;
  };
  auto col_of = [&](std::size_t k) {  // column of t[k] on the current line
    std::uint32_t c = column;
    for (std::size_t j = i; j <= k && j < t.size(); ++j) {
      if ((byte(j) & 0xC0) != 0x80) ++c;
    }
    return c;
  };
  auto run_of = [&](char q) {
    std::size_t n = 0;
    while (i + n < t.size() && t[i + n] == q) ++n;
    return n;
  };
  auto skip = [&](std::size_t n) {
    for (std::size_t k = 0; k < n && i < t.size(); ++k) {
      if ((byte(i) & 0xC0) != 0x80) ++column;
      advance();
    }
  };
  // Outside strings: where toml++ is, so that a quote is taken for the
  // start of a string only where toml++ takes it so. Keys are read up to
  // '.', '=' or whitespace; bare values (numbers, dates, booleans) up to a
  // value terminator, with quotes inside them being no strings.
  std::vector<char> nest;    // 'A' array, 'T' inline table, 'H' table header
  bool value_ctx = false;    // reading a value (after '=' or in an array)
  bool in_token = false;     // inside a bare key segment or bare value
  auto end_of_token = [&](char ch) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == ',' || ch == ']' ||
        ch == '}' || ch == '#') {
      return true;
    }
    return !value_ctx && (ch == '.' || ch == '=');
  };
  const std::string outside =
      "syntax error: non-ASCII character outside a string or comment; allowed: ASCII there "
      "(quote a key that needs other characters)";
  while (i < t.size()) {
    const char c = t[i];
    const unsigned char u = byte(i);
    switch (state) {
      case State::normal:
        if (u >= 0x80) return ScanProblem{{line, col_of(i)}, outside};
        if (in_token && !end_of_token(c)) break;  // quotes here start no string
        in_token = false;
        if (c == '#') {
          state = State::comment;
        } else if (c == '"') {
          const std::size_t n = run_of('"');
          state = n >= 3 ? State::multi_basic : State::basic;
          skip(n >= 3 ? 3 : 1);
          continue;
        } else if (c == '\'') {
          const std::size_t n = run_of('\'');
          state = n >= 3 ? State::multi_literal : State::literal;
          skip(n >= 3 ? 3 : 1);
          continue;
        } else if (c == '\n') {
          if (nest.empty()) value_ctx = false;
        } else if (c == '=') {
          value_ctx = true;
        } else if (c == '[') {
          nest.push_back(value_ctx ? 'A' : 'H');
        } else if (c == '{') {
          nest.push_back('T');
          value_ctx = false;
        } else if (c == ',') {
          if (!nest.empty()) value_ctx = nest.back() == 'A';
        } else if (c == ']' || c == '}') {
          if (!nest.empty()) nest.pop_back();
          if (!nest.empty() && nest.back() == 'H') value_ctx = false;
        } else if (c != ' ' && c != '\t' && c != '\r' && c != '.') {
          in_token = true;
        }
        break;
      case State::comment:
        if (c == '\n') {
          state = State::normal;  // the newline itself is handled there
          continue;
        }
        break;
      case State::basic:
        if (c == '\\') {
          if (i + 1 < t.size() && byte(i + 1) >= 0x80) {
            return ScanProblem{{line, col_of(i + 1)},
                               "syntax error: invalid escape sequence; allowed: \\b \\t \\n \\f \\r "
                               "\\\" \\\\ \\uXXXX \\UXXXXXXXX"};
          }
          skip(2);
          continue;
        }
        if (c == '\n') {
          state = State::normal;  // unterminated: toml++ stops here
          continue;
        }
        if (c == '"') state = State::normal;
        break;
      case State::multi_basic:
        if (c == '\\') {
          if (i + 1 < t.size() && byte(i + 1) >= 0x80) {
            return ScanProblem{{line, col_of(i + 1)},
                               "syntax error: invalid escape sequence; allowed: \\b \\t \\n \\f \\r "
                               "\\\" \\\\ \\uXXXX \\UXXXXXXXX, or a line-ending backslash"};
          }
          std::size_t k = i + 1;
          while (k < t.size() && (t[k] == ' ' || t[k] == '\t' || t[k] == '\r' || t[k] == '\n')) ++k;
          if (k > i + 1 && k < t.size() && byte(k) >= 0x80) {
            skip(k - i);
            return ScanProblem{{line, col_of(i)},
                               "syntax error: a non-ASCII character right after a line-ending "
                               "backslash is not supported; write it as a \\uXXXX escape"};
          }
          skip(k > i + 1 ? k - i : 2);
          continue;
        }
        if (c == '"') {
          const std::size_t n = run_of('"');
          if (n >= 3) state = State::normal;
          skip(std::min<std::size_t>(n, 5));
          continue;
        }
        break;
      case State::literal:
        if (c == '\n') {
          state = State::normal;
          continue;
        }
        if (c == '\'') state = State::normal;
        break;
      case State::multi_literal:
        if (c == '\'') {
          const std::size_t n = run_of('\'');
          if (n >= 3) state = State::normal;
          skip(std::min<std::size_t>(n, 5));
          continue;
        }
        break;
    }
    skip(1);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- loader

struct MarketDefaults {
  std::optional<std::vector<Session>> sessions;
  Pos sessions_pos;
  std::optional<std::uint16_t> pre_open;
  std::uint32_t buyer_fee_bps = 0;
  std::uint32_t seller_fee_bps = 0;
};

struct PartyExtra {
  Pos pos;
  std::string path;
  const toml::array* may_trade = nullptr;
};

struct InstrumentExtra {
  Pos pos;
  std::string path;
  bool prices_ok = false;  // tick, lot, ceiling and max_order_qty are usable
};

// Where a cap was set, for messages that mention it.
struct CapWhere {
  std::string path;
  Pos pos;
};

using IdMap = std::map<std::string, std::uint32_t, std::less<>>;

class Loader {
 public:
  Loader(std::string_view text, std::string file) : text_(text), errors_(std::move(file)) {}

  std::shared_ptr<const MarketRules> run() {
    if (text_.size() > kMaxFileBytes) {
      errors_.add({}, "", cat("the file is ", text_.size(), " bytes; allowed: at most ",
                              kMaxFileBytes, " bytes"));
      throw RulesLoadError(errors_.take());
    }
    if (text_.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      errors_.add({1, 1}, "",
                  "the file is empty; a rules file needs at least [market], [[regions]], "
                  "[[parties]] and [[instruments]] (see rules/README.md)");
      throw RulesLoadError(errors_.take());
    }
    if (const auto problem = scan_for_toml_hazards(text_)) {
      errors_.add(problem->pos, "", problem->message);
      throw RulesLoadError(errors_.take());
    }
    toml::table doc;
    try {
      doc = toml::parse(text_, errors_.file());
    } catch (const toml::parse_error& e) {
      errors_.add(pos_of(e.source()), "", cat("syntax error: ", e.description()));
      throw RulesLoadError(errors_.take());
    }
    read_document(doc);
    if (errors_.any()) throw RulesLoadError(errors_.take());
    r_.source_sha256_hex = sha256_hex(text_);
    build_indices();
    return std::make_shared<const MarketRules>(std::move(r_));
  }

 private:
  void read_document(const toml::table& doc) {
    const Obj top(errors_, doc, "",
                  {"market", "regions", "zones", "parties", "instruments", "party_caps",
                   "region_caps", "zone_caps", "transfers", "compensation", "levies", "genesis"});
    read_market(top);
    for (const char* key : {"regions", "parties", "instruments"}) {
      if (!top.has(key)) {
        errors_.add({1, 1}, key, cat("required section is missing; add [[", key, "]] tables"));
      }
    }
    each_table(errors_, top.get("regions"), "regions",
               [&](const toml::table& t, const std::string& p) { read_region(t, p); });
    each_table(errors_, top.get("zones"), "zones",
               [&](const toml::table& t, const std::string& p) { read_zone(t, p); });
    each_table(errors_, top.get("parties"), "parties",
               [&](const toml::table& t, const std::string& p) { read_party(t, p); });
    check_exchange(top);
    each_table(errors_, top.get("instruments"), "instruments",
               [&](const toml::table& t, const std::string& p) { read_instrument(t, p); });
    resolve_may_trade();
    each_table(errors_, top.get("party_caps"), "party_caps",
               [&](const toml::table& t, const std::string& p) { read_party_cap(t, p); });
    each_table(errors_, top.get("region_caps"), "region_caps",
               [&](const toml::table& t, const std::string& p) { read_region_cap(t, p); });
    each_table(errors_, top.get("zone_caps"), "zone_caps",
               [&](const toml::table& t, const std::string& p) { read_zone_cap(t, p); });
    each_table(errors_, top.get("transfers"), "transfers",
               [&](const toml::table& t, const std::string& p) { read_transfer(t, p); });
    each_table(errors_, top.get("compensation"), "compensation",
               [&](const toml::table& t, const std::string& p) { read_compensation(t, p); });
    each_table(errors_, top.get("levies"), "levies",
               [&](const toml::table& t, const std::string& p) { read_levy(t, p); });
    check_seller_deductions();
    if (const toml::table* g = top.table("genesis", false, "a table [genesis]")) read_genesis(*g);
  }

  // -------------------------------------------------------------- market

  void read_market(const Obj& top) {
    const toml::table* t = top.table("market", true, "a table [market]");
    if (t == nullptr) return;
    const Obj o(errors_, *t, "market",
                {"name", "schema_version", "utc_offset_min", "pre_open", "sessions",
                 "buyer_fee_bps", "seller_fee_bps"});
    if (auto v = o.name("name", true)) r_.name = *v;
    o.integer("schema_version", false, 1, 1, "the schema version this file is written for, 1");
    if (auto v = o.integer("utc_offset_min", false, 480, 480,
                           "minutes east of UTC; the market runs on fixed UTC+8 (480), China has no "
                           "daylight saving")) {
      r_.utc_offset_min = static_cast<std::int32_t>(*v);
    }
    if (const toml::node* n = o.get("pre_open")) market_.pre_open = read_time(errors_, *n, o.field("pre_open"));
    if (const toml::node* n = o.get("sessions")) {
      market_.sessions = read_sessions(errors_, *n, o.field("sessions"));
      market_.sessions_pos = pos_of(*n);
      if (market_.sessions && market_.pre_open && *market_.pre_open > market_.sessions->front().start_min) {
        o.error("pre_open", cat(hhmm(*market_.pre_open), " is after the first session starts (",
                                hhmm(market_.sessions->front().start_min),
                                "); allowed: at or before the first session"));
      }
    }
    if (auto v = o.integer("buyer_fee_bps", false, 0, kBps - 1, "the buyer's fee in basis points of trade value")) {
      market_.buyer_fee_bps = static_cast<std::uint32_t>(*v);
    }
    if (auto v = o.integer("seller_fee_bps", false, 0, kBps - 1, "the seller's fee in basis points of trade value")) {
      market_.seller_fee_bps = static_cast<std::uint32_t>(*v);
    }
  }

  // -------------------------------------------------------------- ids

  // Registers an id; reports an invalid or duplicate one. Returns false if
  // the id is unusable.
  bool register_id(const Obj& o, std::string_view key, const std::string& v, IdMap& map,
                   std::uint32_t index, std::vector<std::string>& paths, bool dots,
                   std::string_view what) {
    if (!valid_id(v, dots)) {
      o.error(key, cat(show(v), " is not a valid ", what, "; allowed: ", id_rule(dots)));
      return false;
    }
    auto [it, inserted] = map.emplace(v, index);
    if (!inserted) {
      o.error(key, cat("duplicate ", what, " ", show(v), " (already used by ", paths[it->second],
                       "); allowed: each ", what, " once"));
      return false;
    }
    return true;
  }

  // Resolves a reference to an id; reports undefined ones with what exists.
  std::uint32_t ref(const Obj& o, std::string_view key, bool required, const IdMap& map,
                    std::string_view section, std::string_view what) {
    const auto v = o.str(key, required, cat("the ", what, " of one of the [[", section, "]]"));
    if (!v) return kNone;
    const auto it = map.find(*v);
    if (it != map.end()) return it->second;
    o.error(key, undefined_message(*v, map, section, what));
    return kNone;
  }

  static std::string undefined_message(std::string_view v, const IdMap& map,
                                       std::string_view section, std::string_view what) {
    std::string msg = cat(show(v), " is not defined; allowed: the ", what, " of one of the [[",
                          section, "]]");
    std::string_view best;
    std::size_t best_d = 4;
    for (const auto& [id, idx] : map) {
      const std::size_t d = edit_distance(v, id);
      if (d < best_d) {
        best_d = d;
        best = id;
      }
    }
    if (!best.empty()) msg += cat("; did you mean '", best, "'?");
    return msg;
  }

  // -------------------------------------------------------------- regions, zones

  void read_region(const toml::table& t, const std::string& path) {
    const Obj o(errors_, t, path, {"id", "name", "province", "level"});
    Region reg;
    const auto index = static_cast<RegionIndex>(r_.regions.size());
    if (auto id = o.str("id", true, "a region id, e.g. \"BJ\"")) {
      reg.id = *id;
      register_id(o, "id", *id, regions_, index, region_paths_, false, "region id");
    }
    reg.name = o.name("name", false).value_or(reg.id);
    if (auto v = o.name("province", true)) {
      if (v->empty()) {
        o.error("province", "is empty; allowed: the province-level unit, e.g. \"Hebei\"");
      }
      reg.province = *v;
    }
    if (auto v = o.keyword<RegionLevel>("level", true,
                                        {{"municipality", RegionLevel::municipality},
                                         {"prefecture_city", RegionLevel::prefecture_city}})) {
      reg.level = *v;
    }
    region_paths_.push_back(path);
    r_.regions.push_back(std::move(reg));
  }

  void read_zone(const toml::table& t, const std::string& path) {
    const Obj o(errors_, t, path, {"id", "name", "region"});
    SourceZone z;
    const auto index = static_cast<ZoneIndex>(r_.zones.size());
    if (auto id = o.str("id", true, "a source zone id, e.g. \"MIYUN_CHAO\"")) {
      z.id = *id;
      register_id(o, "id", *id, zones_, index, zone_paths_, false, "zone id");
    }
    z.name = o.name("name", false).value_or(z.id);
    z.region = ref(o, "region", true, regions_, "regions", "id");
    zone_paths_.push_back(path);
    r_.zones.push_back(std::move(z));
  }

  // -------------------------------------------------------------- parties

  void read_party(const toml::table& t, const std::string& path) {
    const Obj o(errors_, t, path,
                {"id", "name", "kind", "region", "fix_comp_id", "may_trade", "max_msgs_per_s"});
    Party p;
    const auto index = static_cast<PartyIndex>(r_.parties.size());
    if (auto id = o.str("id", true, "a party id, e.g. \"SHOUGANG_STEEL\"")) {
      p.id = *id;
      register_id(o, "id", *id, parties_, index, party_paths_, false, "party id");
    }
    p.name = o.name("name", false).value_or(p.id);
    const auto kind = o.keyword<PartyKind>("kind", true,
                                           {{"enterprise", PartyKind::enterprise},
                                            {"city_government", PartyKind::city_government},
                                            {"fund", PartyKind::fund},
                                            {"exchange", PartyKind::exchange},
                                            {"regulator", PartyKind::regulator},
                                            {"other", PartyKind::other}});
    if (kind) p.kind = *kind;
    const bool needs_region =
        kind && (*kind == PartyKind::enterprise || *kind == PartyKind::city_government);
    p.region = ref(o, "region", needs_region, regions_, "regions", "id");
    if (kind && *kind == PartyKind::city_government && p.region != kNone) {
      auto [it, inserted] = city_government_of_.emplace(p.region, index);
      if (!inserted) {
        o.error("region", cat("region ", show(r_.regions[p.region].id),
                              " already has a city government (", party_paths_[it->second],
                              "); allowed: one city government per region"));
      }
    }
    if (auto v = o.str("fix_comp_id", false, "the party's FIX SenderCompID")) {
      if (!valid_id(*v, true)) {
        o.error("fix_comp_id", cat(show(*v), " is not a valid FIX CompID; allowed: ", id_rule(true)));
      } else {
        auto [it, inserted] = comp_ids_.emplace(*v, index);
        if (!inserted) {
          o.error("fix_comp_id", cat("duplicate FIX CompID ", show(*v), " (already used by ",
                                     party_paths_[it->second], "); allowed: each CompID once"));
        }
        p.fix_comp_id = *v;
      }
    }
    if (auto v = o.integer("max_msgs_per_s", false, 1, kMaxMsgsPerS,
                           "the FIX message-rate limit per second")) {
      if (!o.has("fix_comp_id")) {
        o.error("max_msgs_per_s", "is set but the party has no fix_comp_id; allowed: only with a FIX session");
      }
      p.max_msgs_per_s = static_cast<std::uint32_t>(*v);
    } else if (!p.fix_comp_id.empty()) {
      p.max_msgs_per_s = kDefaultMsgsPerS;
    }
    PartyExtra extra{o.pos(), path, nullptr};
    if (const toml::array* a = o.array("may_trade", false,
                                       "an array of symbols, \"SYMBOL.PREFIX.*\", \"water\", "
                                       "\"emission\" or \"all\"")) {
      if (kind && (*kind == PartyKind::regulator || *kind == PartyKind::exchange) && !a->empty()) {
        o.error("may_trade", cat("a party of kind ", name_of(*kind),
                                 " does not trade; allowed: remove may_trade"));
      } else {
        extra.may_trade = a;
      }
    }
    party_paths_.push_back(path);
    party_extra_.push_back(std::move(extra));
    r_.parties.push_back(std::move(p));
  }

  void check_exchange(const Obj& top) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < r_.parties.size(); ++i) {
      if (r_.parties[i].kind != PartyKind::exchange) continue;
      if (++n > 1) {
        errors_.add(party_extra_[i].pos, party_paths_[i] + ".kind",
                    cat("a second party of kind exchange (the first is ", party_paths_[r_.exchange_party()],
                        "); allowed: exactly one exchange party"));
      }
    }
    if (n == 0 && top.has("parties")) {
      errors_.add(top.pos("parties"), "parties",
                  "no party of kind \"exchange\"; allowed: exactly one (it receives the fees)");
    }
  }

  // -------------------------------------------------------------- instruments

  void read_instrument(const toml::table& t, const std::string& path) {
    const Obj o(errors_, t, path,
                {"symbol", "name", "kind", "zone", "use_class", "pollutant", "region", "vintage",
                 "unit", "lot_qty", "tick_fen", "floor_fen", "ceiling_fen", "reference_fen",
                 "band_bps", "block_min_qty", "block_band_bps", "max_order_qty", "mode",
                 "batch_interval_ms", "call_times", "pre_open", "sessions", "party_limit_qty",
                 "buyer_fee_bps", "seller_fee_bps"});
    Instrument in;
    InstrumentExtra extra{o.pos(), path, false};
    const auto index = static_cast<InstrumentIndex>(r_.instruments.size());
    if (auto v = o.str("symbol", true, "a symbol, e.g. \"WATER.MIYUN_CHAO.IND.2027\"")) {
      in.symbol = *v;
      register_id(o, "symbol", *v, instruments_, index, instrument_paths_, true, "symbol");
    }
    in.name = o.name("name", false).value_or(in.symbol);
    const auto kind = o.keyword<InstrumentKind>(
        "kind", true, {{"water", InstrumentKind::water}, {"emission", InstrumentKind::emission}});
    if (kind) in.kind = *kind;
    if (kind == InstrumentKind::water) {
      in.zone = ref(o, "zone", true, zones_, "zones", "id");
      if (auto v = o.keyword<std::string_view>("use_class", true,
                                               {{"industrial", "industrial"},
                                                {"agricultural", "agricultural"},
                                                {"municipal", "municipal"},
                                                {"ecological", "ecological"}})) {
        in.use_class = std::string(*v);
      }
      for (const char* k : {"pollutant", "region"}) {
        if (o.has(k)) o.error(k, "is only for emission instruments; a water right is defined by its zone and use_class");
      }
      if (auto v = o.keyword<std::string_view>("unit", false, {{"m3", "m3"}})) {
        in.unit = std::string(*v);
      } else {
        in.unit = "m3";
      }
    } else if (kind == InstrumentKind::emission) {
      if (auto v = o.keyword<Pollutant>("pollutant", true,
                                        {{"SO2", Pollutant::so2},
                                         {"NOx", Pollutant::nox},
                                         {"COD", Pollutant::cod},
                                         {"NH3-N", Pollutant::nh3n},
                                         {"PM", Pollutant::pm},
                                         {"CO2", Pollutant::co2}},
                                        true)) {
        in.pollutant = *v;
      }
      in.region = ref(o, "region", true, regions_, "regions", "id");
      for (const char* k : {"zone", "use_class"}) {
        if (o.has(k)) o.error(k, "is only for water instruments; an emission right is defined by its pollutant and region");
      }
      if (auto v = o.keyword<std::string_view>("unit", false, {{"t", "t"}, {"kg", "kg"}})) {
        in.unit = std::string(*v);
      } else {
        in.unit = "t";
      }
    }
    if (auto v = o.integer("vintage", true, kMinVintage, kMaxVintage, "the vintage year")) {
      in.vintage = static_cast<std::uint16_t>(*v);
    }
    read_prices(o, in, extra);
    read_mode_and_day(o, in);
    if (auto v = o.integer("party_limit_qty", false, 1, kMaxQty,
                           "the per-party holding limit in base units (omit for none)")) {
      in.party_limit_qty = *v;
    }
    in.buyer_fee_bps = market_.buyer_fee_bps;
    in.seller_fee_bps = market_.seller_fee_bps;
    if (auto v = o.integer("buyer_fee_bps", false, 0, kBps - 1, "the buyer's fee in basis points of trade value")) {
      in.buyer_fee_bps = static_cast<std::uint32_t>(*v);
    }
    if (auto v = o.integer("seller_fee_bps", false, 0, kBps - 1, "the seller's fee in basis points of trade value")) {
      in.seller_fee_bps = static_cast<std::uint32_t>(*v);
    }
    instrument_paths_.push_back(path);
    instrument_extra_.push_back(std::move(extra));
    r_.instruments.push_back(std::move(in));
  }

  void read_prices(const Obj& o, Instrument& in, InstrumentExtra& extra) {
    const auto lot = o.integer("lot_qty", false, 1, kMaxQty, "the lot size in base units");
    const auto tick = o.integer("tick_fen", false, 1, kMaxPriceFen, "the tick size in fen per base unit");
    if (lot) in.lot_qty = *lot;
    if (tick) in.tick_fen = *tick;
    const bool lot_ok = lot.has_value() || !o.has("lot_qty");
    const bool tick_ok = tick.has_value() || !o.has("tick_fen");
    const Fen t = in.tick_fen;

    auto on_tick = [&](std::string_view key, Fen v) {
      if (tick_ok && v % t != 0) {
        o.error(key, cat(v, " is not a multiple of tick_fen ", t, "; allowed: prices on the tick"));
        return false;
      }
      return true;
    };
    auto floor = o.integer("floor_fen", false, 1, kMaxPriceFen,
                           "the lowest price of any trade, fen per base unit, at least tick_fen");
    if (floor && tick_ok && *floor < t) {
      o.error("floor_fen", cat(*floor, " is below tick_fen ", t, "; allowed: at least one tick"));
      floor.reset();
    }
    if (floor && !on_tick("floor_fen", *floor)) floor.reset();
    const bool floor_ok = floor.has_value() || !o.has("floor_fen");
    in.floor_fen = floor.value_or(t);

    auto ceiling = o.integer("ceiling_fen", true, 1, kMaxPriceFen,
                             "the highest price of any trade, fen per base unit");
    if (ceiling && !on_tick("ceiling_fen", *ceiling)) ceiling.reset();
    if (ceiling && floor_ok && tick_ok && *ceiling < in.floor_fen) {
      o.error("ceiling_fen", cat(*ceiling, " is below floor_fen ", in.floor_fen,
                                 "; allowed: floor_fen <= ceiling_fen"));
      ceiling.reset();
    }
    if (ceiling && floor_ok && tick_ok && (*ceiling - in.floor_fen) / t + 1 > kMaxPriceLevels) {
      o.error("ceiling_fen", cat("the price grid from floor_fen ", in.floor_fen, " to ceiling_fen ",
                                 *ceiling, " has ", (*ceiling - in.floor_fen) / t + 1,
                                 " ticks; allowed: at most ", kMaxPriceLevels,
                                 " (raise tick_fen or narrow floor_fen..ceiling_fen)"));
      ceiling.reset();
    }
    if (ceiling) in.ceiling_fen = *ceiling;

    auto reference = o.integer("reference_fen", true, 1, kMaxPriceFen,
                               "the opening reference price, fen per base unit");
    if (reference && !on_tick("reference_fen", *reference)) reference.reset();
    if (reference && ceiling && floor_ok && (*reference < in.floor_fen || *reference > *ceiling)) {
      o.error("reference_fen", cat(*reference, " is outside [floor_fen, ceiling_fen] = [", in.floor_fen,
                                   ", ", *ceiling, "]; allowed: a price within them"));
      reference.reset();
    }
    if (reference) in.reference_fen = *reference;

    if (auto v = o.integer("band_bps", false, 1, kBps - 1,
                           "the listed-trade price band around the reference, in basis points, "
                           "strictly between 0 and 100% (omit for no band)")) {
      in.band_bps = static_cast<std::uint32_t>(*v);
    }
    const auto block_min = o.integer("block_min_qty", false, 1, kMaxQty,
                                     "the smallest block trade in base units, a multiple of lot_qty");
    const auto block_band = o.integer("block_band_bps", false, 1, kBps - 1,
                                      "the block-trade price band in basis points, strictly between "
                                      "0 and 100%, at least band_bps");
    if (o.has("block_min_qty") != o.has("block_band_bps")) {
      o.error(o.has("block_min_qty") ? "block_min_qty" : "block_band_bps",
              "block trades need both block_min_qty and block_band_bps; allowed: both or neither");
    }
    if (block_band && in.band_bps != 0 && *block_band < in.band_bps) {
      o.error("block_band_bps", cat(*block_band, " is narrower than band_bps ", in.band_bps,
                                    "; allowed: at least band_bps"));
    }
    if (block_band) in.block_band_bps = static_cast<std::uint32_t>(*block_band);
    if (block_min) {
      if (lot_ok && *block_min % in.lot_qty != 0) {
        o.error("block_min_qty", cat(*block_min, " is not a multiple of lot_qty ", in.lot_qty,
                                     "; allowed: whole lots"));
      }
      in.block_min_qty = *block_min;
    }

    // The largest order: bounded so that qty * price and value * bps fit in
    // int64 everywhere downstream.
    if (!lot_ok || !tick_ok || !ceiling) return;
    const Qty by_value = kMaxTradeValueFen / in.ceiling_fen;
    const Qty cap = std::min(kMaxQty, by_value);
    if (cap < in.lot_qty) {
      o.error("lot_qty", cat("one lot (", in.lot_qty, ") at ceiling_fen ", in.ceiling_fen,
                             " is worth more than ", kMaxTradeValueFen,
                             " fen; allowed: lot_qty * ceiling_fen <= ", kMaxTradeValueFen));
      return;
    }
    if (auto v = o.integer("max_order_qty", false, 1, kMaxQty,
                           "the largest order or trade in base units, a multiple of lot_qty")) {
      if (*v % in.lot_qty != 0) {
        o.error("max_order_qty", cat(*v, " is not a multiple of lot_qty ", in.lot_qty,
                                     "; allowed: whole lots"));
        return;
      }
      if (*v > by_value) {
        o.error("max_order_qty",
                cat(*v, " at ceiling_fen ", in.ceiling_fen, " would be worth more than ",
                    kMaxTradeValueFen, " fen; allowed: at most ", by_value - by_value % in.lot_qty));
        return;
      }
      in.max_order_qty = *v;
    } else if (o.has("max_order_qty")) {
      return;
    } else {
      in.max_order_qty = cap - cap % in.lot_qty;
    }
    if (in.block_min_qty > in.max_order_qty) {
      o.error("block_min_qty", cat(in.block_min_qty, " is above max_order_qty ", in.max_order_qty,
                                   "; allowed: at most max_order_qty"));
      return;
    }
    extra.prices_ok = floor_ok && reference.has_value();
  }

  void read_mode_and_day(const Obj& o, Instrument& in) {
    const auto mode = o.keyword<TradingMode>("mode", false,
                                             {{"continuous", TradingMode::continuous},
                                              {"batch", TradingMode::batch},
                                              {"call", TradingMode::call}});
    in.mode = mode.value_or(TradingMode::continuous);
    const bool mode_ok = mode.has_value() || !o.has("mode");

    // The day: the instrument's own sessions, else the market's.
    std::optional<std::vector<Session>> sessions;
    bool day_ok = true;
    if (const toml::node* n = o.get("sessions")) {
      sessions = read_sessions(errors_, *n, o.field("sessions"));
      day_ok = sessions.has_value();
    } else if (market_.sessions) {
      sessions = market_.sessions;
    } else {
      day_ok = false;
      if (!o.has("sessions")) {
        o.missing("sessions", cat(kSessionsRule, " (here or in [market])"));
      }
    }
    std::optional<std::uint16_t> pre_open;
    if (const toml::node* n = o.get("pre_open")) {
      pre_open = read_time(errors_, *n, o.field("pre_open"));
      if (!pre_open) day_ok = false;
    } else {
      pre_open = market_.pre_open;
    }
    if (sessions) {
      in.day.sessions = *sessions;
      const std::uint16_t first = sessions->front().start_min;
      if (pre_open && *pre_open > first) {
        o.error(o.has("pre_open") ? "pre_open" : "sessions",
                cat("pre_open ", hhmm(*pre_open), " is after the first session starts (", hhmm(first),
                    "); allowed: at or before the first session"));
        day_ok = false;
      }
      in.day.pre_open_min = pre_open.value_or(first);
    }

    const bool is_batch = mode_ok && in.mode == TradingMode::batch;
    const bool is_call = mode_ok && in.mode == TradingMode::call;
    if (auto v = o.integer("batch_interval_ms", is_batch, 1, kMaxBatchIntervalMs,
                           "the batch auction interval in milliseconds")) {
      if (mode_ok && !is_batch) {
        o.error("batch_interval_ms", cat("is only for mode = \"batch\", this instrument's mode is \"",
                                         name_of(in.mode), "\""));
      }
      in.batch_interval_ms = static_cast<std::uint32_t>(*v);
    }
    const toml::array* calls =
        o.array("call_times", is_call, "an array of uncross times \"HH:MM\" (local time UTC+8)");
    if (calls == nullptr) return;
    if (mode_ok && !is_call) {
      o.error("call_times", cat("is only for mode = \"call\", this instrument's mode is \"",
                                name_of(in.mode), "\""));
      return;
    }
    if (calls->empty() || calls->size() > 1440) {
      o.error("call_times", cat("has ", calls->size(), " times; allowed: 1 to 1440"));
      return;
    }
    for (std::size_t i = 0; i < calls->size(); ++i) {
      const std::string p = cat(o.field("call_times"), "[", i, "]");
      const toml::node& e = *calls->get(i);
      const auto v = read_time(errors_, e, p);
      if (!v) continue;
      if (!in.call_times_min.empty() && *v <= in.call_times_min.back()) {
        errors_.add(pos_of(e), p, cat(hhmm(*v), " is not after the previous call time ",
                                      hhmm(in.call_times_min.back()),
                                      "; allowed: strictly ascending times"));
        continue;
      }
      if (day_ok && sessions &&
          (*v < in.day.pre_open_min || *v > in.day.sessions.back().end_min)) {
        errors_.add(pos_of(e), p,
                    cat(hhmm(*v), " is outside the trading day ", hhmm(in.day.pre_open_min), "-",
                        hhmm(in.day.sessions.back().end_min),
                        "; allowed: from pre_open to the end of the last session"));
        continue;
      }
      in.call_times_min.push_back(*v);
    }
  }

  // -------------------------------------------------------------- may_trade

  void resolve_may_trade() {
    std::size_t total = 0;
    for (std::size_t pi = 0; pi < r_.parties.size(); ++pi) {
      const toml::array* a = party_extra_[pi].may_trade;
      if (a == nullptr) continue;
      std::set<InstrumentIndex> out;
      for (std::size_t i = 0; i < a->size(); ++i) {
        const toml::node& e = *a->get(i);
        const std::string p = cat(party_paths_[pi], ".may_trade[", i, "]");
        const auto* s = e.as_string();
        if (s == nullptr) {
          errors_.add(pos_of(e), p,
                      cat("expected a string (a symbol, \"PREFIX.*\", \"water\", \"emission\" or "
                          "\"all\"), got ",
                          type_name(e)));
          continue;
        }
        const std::string_view v = s->get();
        const std::size_t before = out.size();
        bool matched = false;
        if (v == "all" || v == "*") {
          for (std::size_t k = 0; k < r_.instruments.size(); ++k) out.insert(static_cast<InstrumentIndex>(k));
          matched = !r_.instruments.empty();
        } else if (v == "water" || v == "emission") {
          const auto kind = v == "water" ? InstrumentKind::water : InstrumentKind::emission;
          for (std::size_t k = 0; k < r_.instruments.size(); ++k) {
            if (r_.instruments[k].kind == kind) {
              out.insert(static_cast<InstrumentIndex>(k));
              matched = true;
            }
          }
        } else if (v.size() >= 2 && v.back() == '*') {
          const std::string_view prefix = v.substr(0, v.size() - 1);
          for (const auto& [sym, k] : instruments_) {
            if (std::string_view(sym).substr(0, prefix.size()) == prefix) {
              out.insert(k);
              matched = true;
            }
          }
        } else if (const auto it = instruments_.find(v); it != instruments_.end()) {
          out.insert(it->second);
          matched = true;
        } else {
          errors_.add(pos_of(e), p, undefined_message(v, instruments_, "instruments", "symbol") +
                                        " (or \"PREFIX.*\", \"water\", \"emission\", \"all\")");
          continue;
        }
        if (!matched) {
          errors_.add(pos_of(e), p, cat(show(v), " matches no instrument; allowed: a symbol, "
                                                   "\"PREFIX.*\", \"water\", \"emission\" or \"all\" "
                                                   "that names at least one instrument"));
        }
        total += out.size() - before;
      }
      if (total > kMaxMayTradeEntries) {
        errors_.add(party_extra_[pi].pos, party_paths_[pi] + ".may_trade",
                    cat("the parties' may_trade lists name ", total,
                        " (party, instrument) pairs in all; allowed: at most ", kMaxMayTradeEntries));
        return;
      }
      r_.parties[pi].may_trade.assign(out.begin(), out.end());
    }
  }

  // -------------------------------------------------------------- caps

  bool holds_nothing(PartyIndex p) const {
    return p != kNone && r_.parties[p].kind == PartyKind::regulator;
  }

  // Records where a cap for `key` is defined; false (and an error on `field`)
  // when an earlier table already defined one for the same key.
  template <class Key>
  bool first_cap(std::map<Key, CapWhere>& at, const Key& key, const Obj& o, const std::string& path,
                 std::string_view field, std::string_view what) {
    const auto [it, inserted] = at.emplace(key, CapWhere{path, o.pos()});
    if (!inserted) {
      o.error(field, cat(what, " (already set by ", it->second.path, "); allowed: one per pair"));
    }
    return inserted;
  }

  void read_party_cap(const toml::table& t, const std::string& path) {
    const Obj o(errors_, t, path, {"party", "instrument", "limit_qty"});
    PartyCap c;
    c.party = ref(o, "party", true, parties_, "parties", "id");
    c.instrument = ref(o, "instrument", true, instruments_, "instruments", "symbol");
    const auto v = o.integer("limit_qty", true, 1, kMaxQty,
                             "the party's holding limit for the instrument, in base units");
    if (holds_nothing(c.party)) {
      o.error("party", "is a regulator; regulators hold nothing, so a holding limit has no meaning");
    }
    if (c.party == kNone || c.instrument == kNone || !v) return;
    c.limit_qty = *v;
    if (!first_cap(party_cap_at_, std::pair{c.party, c.instrument}, o, path, "instrument",
                   "duplicate holding limit for this party and instrument")) {
      return;
    }
    r_.party_caps.push_back(c);
  }

  void read_region_cap(const toml::table& t, const std::string& path) {
    const Obj o(errors_, t, path, {"region", "instrument", "cap_qty"});
    RegionCap c;
    c.region = ref(o, "region", true, regions_, "regions", "id");
    c.instrument = ref(o, "instrument", true, instruments_, "instruments", "symbol");
    const auto v = o.integer("cap_qty", true, 0, kMaxQty,
                             "the most of the instrument all parties in the region may hold together, "
                             "in base units");
    if (c.region == kNone || c.instrument == kNone || !v) return;
    c.cap_qty = *v;
    if (!first_cap(region_cap_at_, std::pair{c.region, c.instrument}, o, path, "instrument",
                   "duplicate cap for this region and instrument")) {
      return;
    }
    r_.region_caps.push_back(c);
  }

  void read_zone_cap(const toml::table& t, const std::string& path) {
    const Obj o(errors_, t, path, {"zone", "vintage", "cap_qty"});
    ZoneCap c;
    c.zone = ref(o, "zone", true, zones_, "zones", "id");
    const auto vintage = o.integer("vintage", true, kMinVintage, kMaxVintage, "the vintage year");
    const auto v = o.integer("cap_qty", true, 0, kMaxQty,
                             "the zone's sustainable yield for the vintage in m3: the most of all "
                             "water rights from the zone that may exist");
    if (c.zone == kNone || !vintage || !v) return;
    c.vintage = static_cast<std::uint16_t>(*vintage);
    c.cap_qty = *v;
    if (!first_cap(zone_cap_at_, std::pair{c.zone, c.vintage}, o, path, "vintage",
                   "duplicate cap for this zone and vintage")) {
      return;
    }
    r_.zone_caps.push_back(c);
  }

  // -------------------------------------------------------------- transfers

  // Region ids from `buyer_regions` (an array) or `buyer_region` (one id).
  std::vector<std::pair<RegionIndex, Pos>> buyer_regions(const Obj& o, std::string_view key) {
    std::vector<std::pair<RegionIndex, Pos>> out;
    const toml::array* a = o.array(key, true, "an array of region ids");
    if (a == nullptr) return out;
    if (a->empty()) {
      o.error(key, "is empty; allowed: one or more region ids");
      return out;
    }
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      const std::string p = cat(o.field(key), "[", i, "]");
      const auto* s = e.as_string();
      if (s == nullptr) {
        errors_.add(pos_of(e), p, cat("expected a region id (a string), got ", type_name(e)));
        continue;
      }
      const auto it = regions_.find(s->get());
      if (it == regions_.end()) {
        errors_.add(pos_of(e), p, undefined_message(s->get(), regions_, "regions", "id"));
        continue;
      }
      if (std::any_of(out.begin(), out.end(), [&](const auto& x) { return x.first == it->second; })) {
        errors_.add(pos_of(e), p, cat("region ", show(s->get()), " is listed twice; allowed: each once"));
        continue;
      }
      out.emplace_back(it->second, pos_of(e));
    }
    return out;
  }

  void read_transfer(const toml::table& t, const std::string& path) {
    const Obj o(errors_, t, path, {"zone", "buyer_regions", "rate"});
    const ZoneIndex zone = ref(o, "zone", true, zones_, "zones", "id");
    const auto regions = buyer_regions(o, "buyer_regions");
    const auto rate = read_rate(o);
    if (zone == kNone) return;
    // An invalid rate still declares the route, so that compensation on it
    // is not reported a second time as "no transfer rule".
    for (const auto& [region, pos] : regions) {
      const std::string p = o.field("buyer_regions");
      if (region == r_.zones[zone].region) {
        errors_.add(pos, p, cat("region ", show(r_.regions[region].id), " is the city zone ",
                                show(r_.zones[zone].id),
                                " lies in, which always receives 1:1; allowed: other regions"));
        continue;
      }
      auto [it, inserted] = transfer_at_.emplace(std::pair{zone, region}, CapWhere{path, pos});
      if (!inserted) {
        errors_.add(pos, p, cat("a transfer rule from zone ", show(r_.zones[zone].id), " to region ",
                                show(r_.regions[region].id), " already exists (", it->second.path,
                                "); allowed: one rule per zone and region"));
        continue;
      }
      if (rate) r_.transfers.push_back(TransferRule{zone, region, rate->first, rate->second});
    }
  }

  // "N/D" (or "N"), the quantity delivered per unit sold: 0 < N/D <= 1.
  std::optional<std::pair<std::int64_t, std::int64_t>> read_rate(const Obj& o) {
    const auto v = o.str("rate", true,
                         "the exchange rate as a string \"N/D\" (delivered per unit sold, e.g. "
                         "\"9/10\"), 0 < N/D <= 1");
    if (!v) return std::nullopt;
    auto number = [](std::string_view s) -> std::optional<std::int64_t> {
      if (s.empty() || s.size() > 6) return std::nullopt;
      std::int64_t n = 0;
      for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
      }
      return n;
    };
    const std::string_view s = *v;
    const std::size_t slash = s.find('/');
    const auto num = number(s.substr(0, slash));
    const auto den = slash == std::string_view::npos ? std::optional<std::int64_t>(1)
                                                     : number(s.substr(slash + 1));
    if (!num || !den) {
      o.error("rate", cat(show(s), " is not a ratio; allowed: \"N/D\" with whole numbers, e.g. \"9/10\""));
      return std::nullopt;
    }
    if (*den == 0 || *num == 0 || *num > *den) {
      o.error("rate", cat(show(s), " is outside (0, 1]; allowed: 0 < N/D <= 1 (a transfer can lose "
                                     "water to conveyance, never create it)"));
      return std::nullopt;
    }
    if (*den > kMaxRateDenominator) {
      o.error("rate", cat(show(s), " has a denominator above ", kMaxRateDenominator,
                          "; allowed: D <= ", kMaxRateDenominator));
      return std::nullopt;
    }
    return std::pair{*num, *den};
  }

  // -------------------------------------------------------------- compensation

  void read_compensation(const toml::table& t, const std::string& path) {
    const Obj o(errors_, t, path, {"id", "zone", "buyer_regions", "beneficiary", "fen_per_unit", "bps"});
    CompensationRoute c;
    if (auto v = o.str("id", true, "a route id, e.g. \"MIYUN-CHAO-BJ\"")) {
      c.id = *v;
      register_id(o, "id", *v, compensation_ids_, static_cast<std::uint32_t>(compensation_paths_.size()),
                  compensation_paths_, false, "compensation route id");
    }
    compensation_paths_.push_back(path);
    c.zone = ref(o, "zone", true, zones_, "zones", "id");
    const auto regions = buyer_regions(o, "buyer_regions");
    c.beneficiary = ref(o, "beneficiary", true, parties_, "parties", "id");
    bool ok = c.zone != kNone && c.beneficiary != kNone && !regions.empty();
    if (c.beneficiary != kNone) {
      const Party& b = r_.parties[c.beneficiary];
      if (b.kind != PartyKind::city_government) {
        o.error("beneficiary", cat(show(b.id), " is a party of kind ", name_of(b.kind),
                                   "; allowed: a city_government (the source city)"));
        ok = false;
      } else if (c.zone != kNone && r_.zones[c.zone].region != kNone && b.region != kNone &&
                 b.region != r_.zones[c.zone].region) {
        o.error("beneficiary",
                cat(show(b.id), " is the government of ", show(r_.regions[b.region].id),
                    " but zone ", show(r_.zones[c.zone].id), " lies in ",
                    show(r_.regions[r_.zones[c.zone].region].id),
                    "; allowed: the government of the city the zone lies in"));
        ok = false;
      }
    }
    const auto fen = o.integer("fen_per_unit", false, 0, kMaxPriceFen,
                               "fen the buyer pays per m3, on top of the price");
    const auto bps = o.integer("bps", false, 0, kBps,
                               "basis points of trade value the buyer pays, on top of the price");
    c.fen_per_unit = fen.value_or(0);
    c.bps = static_cast<std::uint32_t>(bps.value_or(0));
    if (!o.has("fen_per_unit") && !o.has("bps")) {
      o.missing("fen_per_unit", "fen_per_unit and/or bps (the compensation rate)");
      ok = false;
    } else if (fen && bps && c.fen_per_unit == 0 && c.bps == 0) {
      o.error("fen_per_unit", "the rate is zero; allowed: fen_per_unit > 0 or bps > 0");
      ok = false;
    }
    if ((o.has("fen_per_unit") && !fen) || (o.has("bps") && !bps)) ok = false;
    if (!ok) return;
    const SourceZone& z = r_.zones[c.zone];
    for (const auto& [region, pos] : regions) {
      const std::string p = o.field("buyer_regions");
      if (region == z.region) {
        errors_.add(pos, p, cat("region ", show(r_.regions[region].id), " is the city zone ",
                                show(z.id), " lies in; allowed: downstream regions"));
        ok = false;
        continue;
      }
      if (transfer_at_.find(std::pair{c.zone, region}) == transfer_at_.end()) {
        errors_.add(pos, p, cat("no [[transfers]] rule lets water from zone ", show(z.id),
                                " reach region ", show(r_.regions[region].id),
                                ", so this route could never pay; allowed: regions with a transfer rule"));
        ok = false;
        continue;
      }
      auto [it, inserted] = compensation_at_.emplace(std::pair{c.zone, region}, path);
      if (!inserted) {
        errors_.add(pos, p, cat("water from zone ", show(z.id), " to region ",
                                show(r_.regions[region].id), " already pays compensation by ",
                                it->second, "; allowed: one route per zone and region"));
        ok = false;
        continue;
      }
      c.buyer_regions.push_back(region);
    }
    // fen_per_unit * qty must stay within the trade-value bound.
    if (c.fen_per_unit > 0) {
      for (std::size_t k = 0; k < r_.instruments.size(); ++k) {
        const Instrument& in = r_.instruments[k];
        if (in.kind != InstrumentKind::water || in.zone != c.zone || in.max_order_qty <= 0) continue;
        if (c.fen_per_unit > kMaxTradeValueFen / in.max_order_qty) {
          o.error("fen_per_unit",
                  cat(c.fen_per_unit, " fen on ", in.symbol, "'s max_order_qty ", in.max_order_qty,
                      " would exceed ", kMaxTradeValueFen, " fen; allowed: at most ",
                      kMaxTradeValueFen / in.max_order_qty, " (or lower that max_order_qty)"));
          ok = false;
          break;
        }
      }
    }
    if (!ok) return;
    std::sort(c.buyer_regions.begin(), c.buyer_regions.end());
    r_.compensation.push_back(std::move(c));
  }

  // -------------------------------------------------------------- levies

  void read_levy(const toml::table& t, const std::string& path) {
    const Obj o(errors_, t, path, {"id", "kind", "pollutant", "fund", "bps"});
    Levy l;
    if (auto v = o.str("id", true, "a levy id, e.g. \"AIR-FUND-NOX\"")) {
      l.id = *v;
      register_id(o, "id", *v, levy_ids_, static_cast<std::uint32_t>(levy_paths_.size()), levy_paths_,
                  false, "levy id");
    }
    levy_paths_.push_back(path);
    const auto kind = o.keyword<InstrumentKind>(
        "kind", false, {{"water", InstrumentKind::water}, {"emission", InstrumentKind::emission}});
    l.kind = kind.value_or(InstrumentKind::emission);
    bool ok = kind.has_value() || !o.has("kind");
    if (o.has("pollutant") && ok && l.kind != InstrumentKind::emission) {
      o.error("pollutant", "is only for emission levies; allowed: omit it for a water levy");
      ok = false;
    } else if (auto v = o.keyword<Pollutant>("pollutant", false,
                                             {{"SO2", Pollutant::so2},
                                              {"NOx", Pollutant::nox},
                                              {"COD", Pollutant::cod},
                                              {"NH3-N", Pollutant::nh3n},
                                              {"PM", Pollutant::pm},
                                              {"CO2", Pollutant::co2}},
                                             true)) {
      l.pollutant = *v;
    } else if (o.has("pollutant")) {
      ok = false;
    }
    l.fund = ref(o, "fund", true, parties_, "parties", "id");
    if (l.fund != kNone && r_.parties[l.fund].kind != PartyKind::fund) {
      o.error("fund", cat(show(r_.parties[l.fund].id), " is a party of kind ",
                          name_of(r_.parties[l.fund].kind), "; allowed: a party of kind fund"));
      ok = false;
    }
    const auto bps = o.integer("bps", true, 1, kBps,
                               "basis points of trade value the seller pays out of the proceeds");
    if (!ok || l.fund == kNone || !bps) return;
    l.bps = static_cast<std::uint32_t>(*bps);
    const int slot = l.pollutant ? static_cast<int>(*l.pollutant) : -1;
    auto [it, inserted] = levy_at_.emplace(std::pair{static_cast<int>(l.kind), slot}, path);
    if (!inserted) {
      o.error(l.pollutant ? "pollutant" : "kind",
              cat("another levy already applies to the same instruments (", it->second,
                  "); allowed: one levy per kind, and one per pollutant"));
      return;
    }
    r_.levies.push_back(std::move(l));
  }

  // Seller's fee plus the levy never take more than the proceeds.
  void check_seller_deductions() {
    for (std::size_t k = 0; k < r_.instruments.size(); ++k) {
      const Instrument& in = r_.instruments[k];
      const Levy* l = r_.levy_for(in);
      if (l == nullptr) continue;
      if (std::uint64_t{in.seller_fee_bps} + l->bps > kBpsDenominator) {
        errors_.add(instrument_extra_[k].pos, instrument_paths_[k] + ".seller_fee_bps",
                    cat("seller_fee_bps ", in.seller_fee_bps, " plus levy ", show(l->id), " (", l->bps,
                        " bps) exceed 10000 bps; allowed: together at most 10000 (the seller's "
                        "proceeds cannot go negative)"));
      }
    }
  }

  // -------------------------------------------------------------- genesis

  void read_genesis(const toml::table& g) {
    const Obj o(errors_, g, "genesis", {"holdings", "cash"});
    std::map<std::pair<PartyIndex, InstrumentIndex>, std::string> seen;
    std::map<std::pair<RegionIndex, InstrumentIndex>, Qty> region_sum;
    std::map<std::pair<ZoneIndex, std::uint16_t>, Qty> zone_sum;
    std::vector<Qty> total(r_.instruments.size(), 0);
    each_table(errors_, o.get("holdings"), "genesis.holdings",
               [&](const toml::table& t, const std::string& path) {
      const Obj h(errors_, t, path, {"party", "instrument", "qty"});
      GenesisHolding gh;
      gh.party = ref(h, "party", true, parties_, "parties", "id");
      gh.instrument = ref(h, "instrument", true, instruments_, "instruments", "symbol");
      const auto qty = h.integer("qty", true, 1, kMaxQty, "the quantity issued, in base units");
      if (holds_nothing(gh.party)) {
        h.error("party", "is a regulator; regulators hold nothing");
        return;
      }
      if (gh.party == kNone || gh.instrument == kNone || !qty) return;
      gh.qty = *qty;
      auto [it, inserted] = seen.emplace(std::pair{gh.party, gh.instrument}, path);
      if (!inserted) {
        h.error("instrument", cat("a second allocation of this instrument to this party (the first is ",
                                  it->second, "); allowed: one per party and instrument"));
        return;
      }
      const Party& p = r_.parties[gh.party];
      const Instrument& in = r_.instruments[gh.instrument];
      bool ok = true;
      if (const Qty limit = r_.party_limit(gh.party, gh.instrument); limit > 0 && gh.qty > limit) {
        const auto cap = party_cap_at_.find(std::pair{gh.party, gh.instrument});
        const std::string where = cap != party_cap_at_.end()
                                      ? cat(cap->second.path, ", line ", cap->second.pos.line)
                                      : cat(instrument_paths_[gh.instrument], ".party_limit_qty");
        h.error("qty", cat(gh.qty, " is above ", p.id, "'s holding limit ", limit, " for ", in.symbol,
                           " (", where, "); allowed: at most the limit"));
        ok = false;
      }
      if (p.region != kNone) {
        if (const RegionCap* c = r_.region_cap(p.region, gh.instrument)) {
          Qty& sum = region_sum[std::pair{p.region, gh.instrument}];
          const bool was_within = sum <= c->cap_qty;
          sum = sat_add(sum, gh.qty);
          if (was_within && sum > c->cap_qty) {
            const auto& at = region_cap_at_.at(std::pair{p.region, gh.instrument});
            h.error("qty", cat("allocations of ", in.symbol, " to parties in ", r_.regions[p.region].id,
                               " reach ", sum, " with this one, above the region cap ", c->cap_qty, " (",
                               at.path, ", line ", at.pos.line, "); allowed: at most the cap"));
            ok = false;
          }
        }
      }
      if (in.kind == InstrumentKind::water && in.zone != kNone) {
        if (const ZoneCap* c = r_.zone_cap(in.zone, in.vintage)) {
          Qty& sum = zone_sum[std::pair{in.zone, in.vintage}];
          const bool was_within = sum <= c->cap_qty;
          sum = sat_add(sum, gh.qty);
          if (was_within && sum > c->cap_qty) {
            const auto& at = zone_cap_at_.at(std::pair{in.zone, in.vintage});
            h.error("qty", cat("water rights from zone ", r_.zones[in.zone].id, " for ", in.vintage,
                               " reach ", sum, " m3 with this one, above the zone cap ", c->cap_qty,
                               " (", at.path, ", line ", at.pos.line, "); allowed: at most the cap"));
            ok = false;
          }
        }
      }
      Qty& tot = total[gh.instrument];
      const bool was_ok = tot <= kMaxQty;
      tot = sat_add(tot, gh.qty);
      if (was_ok && tot > kMaxQty) {
        h.error("qty", cat("the total issued of ", in.symbol, " exceeds ", kMaxQty,
                           " base units; allowed: at most ", kMaxQty));
        ok = false;
      }
      if (ok) r_.genesis_holdings.push_back(gh);
    });

    std::map<PartyIndex, std::string> cash_seen;
    Fen cash_total = 0;
    each_table(errors_, o.get("cash"), "genesis.cash", [&](const toml::table& t, const std::string& path) {
      const Obj c(errors_, t, path, {"party", "fen"});
      GenesisCash gc;
      gc.party = ref(c, "party", true, parties_, "parties", "id");
      const auto fen = c.integer("fen", true, 0, kMaxCashFen, "the opening cash balance in fen");
      if (holds_nothing(gc.party)) {
        c.error("party", "is a regulator; regulators hold nothing");
        return;
      }
      if (gc.party == kNone || !fen) return;
      gc.fen = *fen;
      auto [it, inserted] = cash_seen.emplace(gc.party, path);
      if (!inserted) {
        c.error("party", cat("a second opening balance for this party (the first is ", it->second,
                             "); allowed: one per party"));
        return;
      }
      const bool was_ok = cash_total <= kMaxCashFen;
      cash_total = sat_add(cash_total, gc.fen);
      if (was_ok && cash_total > kMaxCashFen) {
        c.error("fen", cat("opening cash reaches ", cash_total, " fen in total with this one; allowed: at most ",
                           kMaxCashFen, " fen in total"));
        return;
      }
      r_.genesis_cash.push_back(gc);
    });
  }

  // -------------------------------------------------------------- indices

  static std::vector<std::pair<std::string, std::uint32_t>> table_of(const IdMap& m) {
    return {m.begin(), m.end()};  // std::map iterates sorted
  }

  void build_indices() {
    r_.region_index = table_of(regions_);
    r_.zone_index = table_of(zones_);
    r_.party_index = table_of(parties_);
    r_.comp_id_index = table_of(comp_ids_);
    r_.instrument_index = table_of(instruments_);
  }

  std::string_view text_;
  Errors errors_;
  MarketRules r_;
  MarketDefaults market_;
  IdMap regions_, zones_, parties_, comp_ids_, instruments_, compensation_ids_, levy_ids_;
  std::vector<std::string> region_paths_, zone_paths_, party_paths_, instrument_paths_,
      compensation_paths_, levy_paths_;
  std::vector<PartyExtra> party_extra_;
  std::vector<InstrumentExtra> instrument_extra_;
  std::map<RegionIndex, PartyIndex> city_government_of_;
  std::map<std::pair<PartyIndex, InstrumentIndex>, CapWhere> party_cap_at_;
  std::map<std::pair<RegionIndex, InstrumentIndex>, CapWhere> region_cap_at_;
  std::map<std::pair<ZoneIndex, std::uint16_t>, CapWhere> zone_cap_at_;
  std::map<std::pair<ZoneIndex, RegionIndex>, CapWhere> transfer_at_;
  std::map<std::pair<ZoneIndex, RegionIndex>, std::string> compensation_at_;
  std::map<std::pair<int, int>, std::string> levy_at_;
};

}  // namespace

std::shared_ptr<const MarketRules> load_rules_text(std::string_view text, std::string_view file) {
  try {
    return Loader(text, std::string(file)).run();
  } catch (const RulesLoadError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw RulesLoadError({RulesError{std::string(file), 0, 0, "", "out of memory while loading the file"}});
  } catch (const std::exception& e) {
    throw RulesLoadError(
        {RulesError{std::string(file), 0, 0, "", cat("internal error while loading: ", e.what())}});
  }
}

std::shared_ptr<const MarketRules> load_rules_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw RulesLoadError({RulesError{name, 0, 0, "", "is a directory; allowed: a rules file (TOML)"}});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw RulesLoadError({RulesError{name, 0, 0, "", "cannot open the file for reading"}});
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) {
      throw RulesLoadError({RulesError{name, 0, 0, "",
                                       cat("the file is larger than ", kMaxFileBytes,
                                           " bytes; allowed: at most ", kMaxFileBytes, " bytes")}});
    }
  }
  if (in.bad()) throw RulesLoadError({RulesError{name, 0, 0, "", "error while reading the file"}});
  return load_rules_text(text, name);
}

std::shared_ptr<const MarketRules> load_default_rules() {
  return load_rules_text(default_rules_text(), "<default>");
}

}  // namespace haihe::rules
