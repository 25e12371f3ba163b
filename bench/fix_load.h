// The pure parts of bench/fix_load (the FIX load generator): its
// configuration file, the seeded order stream, the send schedule and the
// percentile arithmetic. Header-only, no QuickFIX, so tests include it.
//
// Order stream. For each session a fixed-seed generator draws orders on the
// session's instruments: one order in three is aggressive (a buy priced
// depth ticks above the instrument's reference, a sell depth ticks below),
// the others passive (a buy 1..depth ticks below the reference, a sell
// 1..depth above); buys and sells are equally likely, quantities 1..max_lots
// lots. Passive orders never cross each other, so what trades on arrival is
// about the aggressive third (it meets resting passive orders of the other
// parties on the same instruments).
//
// Prices are integers in price units of 10^-price_decimals (fen with 2:
// FIX price "95.96" is 9596 units); nothing here is floating point.
//
// Config file: one directive per line, '#' starts a comment.
//   host HOST
//   port N
//   price_decimals N                       (0..8; default 2)
//   instrument SYMBOL REF_PX TICK_PX LOT_QTY
//   session SENDER TARGET USERNAME PASSWORD SYMBOL[,SYMBOL...]
// Username and password may be '-' (not sent).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace haihe::bench::fixload {

__extension__ using u128 = unsigned __int128;
__extension__ using i128 = __int128;

struct Instrument {
  std::string symbol;
  std::int64_t ref_px = 0;   // price units
  std::int64_t tick_px = 1;  // price units
  std::int64_t lot_qty = 1;  // base units
};

struct SessionSpec {
  std::string sender;
  std::string target;
  std::string username;  // empty: not sent
  std::string password;  // empty: not sent
  std::vector<std::size_t> instruments;  // indices into Config::instruments
};

struct Config {
  std::string host = "127.0.0.1";
  int port = 0;
  int price_decimals = 2;
  std::vector<Instrument> instruments;
  std::vector<SessionSpec> sessions;

  std::optional<std::size_t> find_instrument(std::string_view symbol) const {
    for (std::size_t i = 0; i < instruments.size(); ++i) {
      if (instruments[i].symbol == symbol) return i;
    }
    return std::nullopt;
  }
};

namespace detail {
inline std::optional<std::int64_t> to_int(const std::string& s, std::int64_t min, std::int64_t max) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  std::size_t i = 0;
  const bool neg = s[0] == '-';
  if (neg) i = 1;
  if (i == s.size()) return std::nullopt;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  if (neg) v = -v;
  if (v < min || v > max) return std::nullopt;
  return v;
}
inline std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (const char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}
}  // namespace detail

inline constexpr std::int64_t kMaxPriceUnits = 1'000'000'000'000'000;  // 1e15

/// Adds an instrument "SYMBOL REF_PX TICK_PX LOT_QTY" (tokens given).
inline bool add_instrument(Config& c, const std::vector<std::string>& t, std::string* error) {
  if (t.size() != 4) {
    *error = "instrument needs SYMBOL REF_PX TICK_PX LOT_QTY";
    return false;
  }
  const auto ref = detail::to_int(t[1], 1, kMaxPriceUnits);
  const auto tick = detail::to_int(t[2], 1, kMaxPriceUnits);
  const auto lot = detail::to_int(t[3], 1, kMaxPriceUnits);
  if (!ref || !tick || !lot) {
    *error = "instrument " + t[0] + ": REF_PX, TICK_PX and LOT_QTY must be positive integers (price units, base units)";
    return false;
  }
  if (c.find_instrument(t[0])) {
    *error = "instrument " + t[0] + " given twice";
    return false;
  }
  c.instruments.push_back({t[0], *ref, *tick, *lot});
  return true;
}

/// Adds a session "SENDER TARGET USERNAME PASSWORD SYMBOLS" (tokens given).
inline bool add_session(Config& c, const std::vector<std::string>& t, std::string* error) {
  if (t.size() != 5) {
    *error = "session needs SENDER TARGET USERNAME PASSWORD SYMBOL[,SYMBOL...]";
    return false;
  }
  SessionSpec s;
  s.sender = t[0];
  s.target = t[1];
  s.username = t[2] == "-" ? std::string() : t[2];
  s.password = t[3] == "-" ? std::string() : t[3];
  for (const auto& sym : detail::split(t[4], ',')) {
    const auto i = c.find_instrument(sym);
    if (!i) {
      *error = "session " + s.sender + ": instrument '" + sym + "' is not declared (declare it before the session)";
      return false;
    }
    s.instruments.push_back(*i);
  }
  for (const auto& other : c.sessions) {
    if (other.sender == s.sender && other.target == s.target) {
      *error = "session " + s.sender + "->" + s.target + " given twice";
      return false;
    }
  }
  c.sessions.push_back(std::move(s));
  return true;
}

/// Parses the config file text. On error returns nullopt with "line N: why".
inline std::optional<Config> parse_config(std::string_view text, std::string* error) {
  Config c;
  std::istringstream in{std::string(text)};
  std::string line;
  int line_no = 0;
  auto fail = [&](const std::string& why) {
    *error = "line " + std::to_string(line_no) + ": " + why;
    return std::nullopt;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream ls(line);
    std::vector<std::string> t;
    for (std::string w; ls >> w;) t.push_back(w);
    if (t.empty()) continue;
    const std::string key = t[0];
    t.erase(t.begin());
    if (key == "host") {
      if (t.size() != 1) return fail("host needs one value");
      c.host = t[0];
    } else if (key == "port") {
      const auto p = t.size() == 1 ? detail::to_int(t[0], 1, 65535) : std::nullopt;
      if (!p) return fail("port must be 1..65535");
      c.port = static_cast<int>(*p);
    } else if (key == "price_decimals") {
      const auto d = t.size() == 1 ? detail::to_int(t[0], 0, 8) : std::nullopt;
      if (!d) return fail("price_decimals must be 0..8");
      c.price_decimals = static_cast<int>(*d);
    } else if (key == "instrument") {
      std::string why;
      if (!add_instrument(c, t, &why)) return fail(why);
    } else if (key == "session") {
      std::string why;
      if (!add_session(c, t, &why)) return fail(why);
    } else {
      return fail("unknown directive '" + key + "' (host, port, price_decimals, instrument, session)");
    }
  }
  return c;
}

/// Price units -> FIX decimal text: 9596 with 2 decimals -> "95.96".
inline std::string format_price(std::int64_t units, int decimals) {
  std::string digits = std::to_string(units < 0 ? -units : units);
  if (decimals > 0) {
    const auto d = static_cast<std::size_t>(decimals);
    if (digits.size() <= d) digits.insert(0, d + 1 - digits.size(), '0');
    digits.insert(digits.size() - d, 1, '.');
  }
  return (units < 0 ? "-" : "") + digits;
}

// ---------------------------------------------------------------- stream

/// splitmix64: small, fast, good enough for a load mix, same on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias < n / 2^64).
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<u128>(next()) * n) >> 64);
  }

 private:
  std::uint64_t s_;
};

struct Order {
  std::size_t instrument = 0;  // index into Config::instruments
  bool buy = true;
  bool aggressive = false;
  std::int64_t price = 0;  // price units
  std::int64_t qty = 0;    // base units
};

class OrderStream {
 public:
  /// `instruments`: the session's (indices into `all`). depth_ticks >= 1,
  /// max_lots >= 1.
  OrderStream(std::uint64_t seed, const std::vector<Instrument>& all, std::vector<std::size_t> instruments,
              std::int64_t depth_ticks = 5, std::int64_t max_lots = 3)
      : rng_(seed), all_(&all), mine_(std::move(instruments)), depth_(depth_ticks), max_lots_(max_lots) {}

  Order next() {
    Order o;
    o.instrument = mine_[static_cast<std::size_t>(rng_.below(mine_.size()))];
    const Instrument& in = (*all_)[o.instrument];
    o.buy = rng_.below(2) == 0;
    o.aggressive = rng_.below(3) == 0;
    const auto k = o.aggressive ? depth_ : 1 + static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(depth_)));
    // Aggressive: through the reference; passive: on its own side of it.
    const std::int64_t away = o.aggressive ? k : -k;
    o.price = in.ref_px + (o.buy ? away : -away) * in.tick_px;
    if (o.price < in.tick_px) o.price = in.tick_px;
    o.qty = (1 + static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(max_lots_)))) * in.lot_qty;
    return o;
  }

 private:
  Rng rng_;
  const std::vector<Instrument>* all_;
  std::vector<std::size_t> mine_;
  std::int64_t depth_;
  std::int64_t max_lots_;
};

/// The seed of session `index` from the run's seed (distinct streams).
inline std::uint64_t session_seed(std::uint64_t seed, std::size_t index) {
  Rng r(seed ^ (0xD1B54A32D192ED03ull * (index + 1)));
  return r.next();
}

// ---------------------------------------------------------------- schedule

/// Fixed offered rate: the intended send time (ns after the start) of the
/// i-th order of a stream offered at rate_per_s. Exact integer arithmetic,
/// no accumulated drift.
inline std::int64_t intended_offset_ns(std::uint64_t i, std::uint64_t rate_per_s) {
  return static_cast<std::int64_t>((static_cast<u128>(i) * 1'000'000'000u) / rate_per_s);
}

// ---------------------------------------------------------------- percentiles

struct Summary {
  std::size_t count = 0;
  std::int64_t min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  std::int64_t mean = 0;
};

/// Nearest rank: the smallest sample with at least num/den of the samples
/// at or below it. samples must be sorted ascending and non-empty.
inline std::int64_t quantile_sorted(const std::vector<std::int64_t>& sorted, std::uint64_t num, std::uint64_t den) {
  const std::uint64_t n = sorted.size();
  std::uint64_t rank = (n * num + den - 1) / den;  // ceil(n * q), 1-based
  if (rank == 0) rank = 1;
  if (rank > n) rank = n;
  return sorted[static_cast<std::size_t>(rank - 1)];
}

/// Sorts `samples` (in place) and summarises them. Empty: all zero.
inline Summary summarize(std::vector<std::int64_t>& samples) {
  Summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.min = samples.front();
  s.max = samples.back();
  s.p50 = quantile_sorted(samples, 50, 100);
  s.p90 = quantile_sorted(samples, 90, 100);
  s.p99 = quantile_sorted(samples, 99, 100);
  s.p999 = quantile_sorted(samples, 999, 1000);
  i128 sum = 0;
  for (const auto v : samples) sum += v;
  s.mean = static_cast<std::int64_t>(sum / static_cast<i128>(samples.size()));
  return s;
}

/// The median of values (sorted copy); for "median of 3 runs".
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace haihe::bench::fixload
