// fix_load — a FIX 4.4 load generator (bench/README-fix-load.md).
//
// N initiator sessions (QuickFIX ThreadedSocketInitiator, one thread per
// session, MemoryStore, ResetOnLogon=Y, no data dictionary: it reads only
// ClOrdID and ExecType of execution reports) send limit orders from a fixed-
// seed stream (bench/fix_load.h) either
//   --mode window: as fast as acknowledged, at most --window orders without
//                  an execution report per session; the next order is sent
//                  from the session's thread the moment a slot frees, and
//                  its latency counts from then;
//   --mode rate:   at a fixed offered rate (--rate orders/s over all
//                  sessions); order i of a session is due at start + i/rate
//                  and its latency counts from that intended time, however
//                  late it was actually sent (no coordinated omission).
// It reports, as one JSON line: acknowledged orders per second (first
// execution report of any kind: New, Rejected, Trade) and the order-to-first-
// execution-report latency p50/p90/p99/p99.9/max in microseconds, after
// --warmup orders per session.
#include <sys/prctl.h>

#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/fix_load.h"
#include "gateway/quickfix.h"

namespace {

namespace fl = haihe::bench::fixload;
using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

constexpr const char* kUsage =
    "usage: fix_load --config FILE [options]\n"
    "       fix_load --host H --port N --instrument SYM:REF:TICK:LOT... --session "
    "SENDER:TARGET:USER:PASS:SYM[,SYM]... [options]\n"
    "\n"
    "options:\n"
    "  --sessions N        use the first N sessions of the config (default: all)\n"
    "  --mode window|rate  as fast as acknowledged (default) or a fixed offered rate\n"
    "  --window W          window mode: orders in flight per session (default 64; 1 = one at a time)\n"
    "  --rate R            rate mode: orders per second over all sessions\n"
    "  --orders N          orders per session (default 20000)\n"
    "  --warmup N          first orders per session left out of the figures (default orders/10)\n"
    "  --seed S            order stream seed (default 42)\n"
    "  --depth T           price depth in ticks around the reference (default 5)\n"
    "  --max-lots L        order size 1..L lots (default 3)\n"
    "  --price-decimals D  decimals of the FIX price (default 2: price units are 1/100)\n"
    "  --logon-timeout S   seconds to wait for every logon (default 15)\n"
    "  --drain-timeout S   seconds to wait for the last reports (default 60)\n"
    "  --label TEXT        copied into the JSON line\n"
    "  --help\n";

struct Options {
  std::string config_path;
  std::optional<std::string> host;
  std::optional<int> port;
  std::vector<std::string> instrument_flags, session_flags;
  std::size_t sessions = 0;  // 0: all
  bool rate_mode = false;
  std::uint64_t window = 64;
  std::uint64_t rate = 0;
  std::uint64_t orders = 20000;
  std::optional<std::uint64_t> warmup;
  std::uint64_t seed = 42;
  std::int64_t depth = 5;
  std::int64_t max_lots = 3;
  std::optional<int> price_decimals;
  int logon_timeout_s = 15;
  int drain_timeout_s = 60;
  std::string label;
};

std::optional<std::uint64_t> to_u64(const std::string& s, std::uint64_t min, std::uint64_t max) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v < min || v > max) return std::nullopt;
  return v;
}

// Returns 0 to go on, or the exit code.
int parse_options(int argc, char** argv, Options& o) {
  auto bad = [](const std::string& why) {
    std::cerr << "fix_load: " << why << "\n\n" << kUsage;
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return -1;
    }
    if (i + 1 >= argc) return bad("option " + a + " needs a value (or is unknown)");
    const std::string v = argv[++i];
    auto num = [&](std::uint64_t min, std::uint64_t max) -> std::optional<std::uint64_t> { return to_u64(v, min, max); };
    std::optional<std::uint64_t> n;
    if (a == "--config") {
      o.config_path = v;
    } else if (a == "--host") {
      o.host = v;
    } else if (a == "--port") {
      if (!(n = num(1, 65535))) return bad("--port must be 1..65535");
      o.port = static_cast<int>(*n);
    } else if (a == "--instrument") {
      o.instrument_flags.push_back(v);
    } else if (a == "--session") {
      o.session_flags.push_back(v);
    } else if (a == "--sessions") {
      if (!(n = num(1, 1000))) return bad("--sessions must be 1..1000");
      o.sessions = *n;
    } else if (a == "--mode") {
      if (v != "window" && v != "rate") return bad("--mode is window or rate");
      o.rate_mode = v == "rate";
    } else if (a == "--window") {
      if (!(n = num(1, 1'000'000))) return bad("--window must be 1..1000000");
      o.window = *n;
    } else if (a == "--rate") {
      if (!(n = num(1, 10'000'000))) return bad("--rate must be 1..10000000");
      o.rate = *n;
    } else if (a == "--orders") {
      if (!(n = num(1, 100'000'000))) return bad("--orders must be 1..100000000");
      o.orders = *n;
    } else if (a == "--warmup") {
      if (!(n = num(0, 100'000'000))) return bad("--warmup must be 0..100000000");
      o.warmup = *n;
    } else if (a == "--seed") {
      if (!(n = num(0, UINT64_MAX))) return bad("--seed must be a non-negative integer");
      o.seed = *n;
    } else if (a == "--depth") {
      if (!(n = num(1, 1000))) return bad("--depth must be 1..1000");
      o.depth = static_cast<std::int64_t>(*n);
    } else if (a == "--max-lots") {
      if (!(n = num(1, 1000))) return bad("--max-lots must be 1..1000");
      o.max_lots = static_cast<std::int64_t>(*n);
    } else if (a == "--price-decimals") {
      if (!(n = num(0, 8))) return bad("--price-decimals must be 0..8");
      o.price_decimals = static_cast<int>(*n);
    } else if (a == "--logon-timeout") {
      if (!(n = num(1, 3600))) return bad("--logon-timeout must be 1..3600");
      o.logon_timeout_s = static_cast<int>(*n);
    } else if (a == "--drain-timeout") {
      if (!(n = num(1, 3600))) return bad("--drain-timeout must be 1..3600");
      o.drain_timeout_s = static_cast<int>(*n);
    } else if (a == "--label") {
      o.label = v;
    } else {
      return bad("unknown option " + a);
    }
  }
  if (o.rate_mode && o.rate == 0) return bad("--mode rate needs --rate");
  if (!o.rate_mode && o.rate != 0) return bad("--rate goes with --mode rate");
  return 0;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// ------------------------------------------------------------------ a session

// Per-order flags.
constexpr std::uint8_t kAcked = 1, kRejected = 2, kFilled = 4;

struct SessionRun {
  std::size_t index = 0;
  fl::SessionSpec spec;
  FIX::SessionID id;
  std::string prefix;  // ClOrdID prefix: "<run tag>.<session>."
  fl::OrderStream stream;
  std::uint64_t orders = 0;
  std::unique_ptr<std::atomic<std::int64_t>[]> intended_ns;  // 0: not sent
  std::unique_ptr<std::atomic<std::int64_t>[]> first_er_ns;  // 0: no report yet
  std::unique_ptr<std::atomic<std::uint8_t>[]> flags;
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> send_failures{0};
  std::atomic<bool> logged_on{false};
  std::mutex logout_mu;
  std::string logout_text;
  // Window mode: the next order to send (under send_mu).
  std::mutex send_mu;
  std::uint64_t next = 0;

  SessionRun(std::size_t i, fl::SessionSpec s, const std::string& run_tag, const fl::Config& cfg, std::uint64_t seed,
             std::int64_t depth, std::int64_t max_lots, std::uint64_t n)
      : index(i),
        spec(std::move(s)),
        id("FIX.4.4", spec.sender, spec.target),
        prefix(fmt::format("{}.{}.", run_tag, i)),
        stream(fl::session_seed(seed, i), cfg.instruments, spec.instruments, depth, max_lots),
        orders(n),
        intended_ns(new std::atomic<std::int64_t>[n]),
        first_er_ns(new std::atomic<std::int64_t>[n]),
        flags(new std::atomic<std::uint8_t>[n]) {
    for (std::uint64_t k = 0; k < n; ++k) {
      intended_ns[k].store(0, std::memory_order_relaxed);
      first_er_ns[k].store(0, std::memory_order_relaxed);
      flags[k].store(0, std::memory_order_relaxed);
    }
  }
};

class LoadApp final : public FIX::Application {
 public:
  LoadApp(const fl::Config& cfg, std::vector<std::unique_ptr<SessionRun>>& runs, bool window_mode)
      : cfg_(cfg), runs_(runs), window_mode_(window_mode) {
    for (auto& r : runs_) by_id_.emplace(r->id, r.get());
  }

  // Builds order k of session r (the next of its stream), due at intended
  // (ns). One thread at a time per session (its send_mu, or its sender).
  FIX::Message build_order(SessionRun& r, std::uint64_t k, std::int64_t intended) {
    const fl::Order o = r.stream.next();
    const fl::Instrument& in = cfg_.instruments[o.instrument];
    FIX::Message m;
    m.getHeader().setField(FIX::MsgType("D"));
    m.setField(11, r.prefix + std::to_string(k));
    m.setField(55, in.symbol);
    m.setField(54, o.buy ? "1" : "2");
    m.setField(FIX::TransactTime());
    m.setField(38, std::to_string(o.qty));
    m.setField(40, "2");
    m.setField(44, fl::format_price(o.price, cfg_.price_decimals));
    m.setField(59, "0");
    r.intended_ns[k].store(intended, std::memory_order_relaxed);
    return m;
  }
  // Sends without holding send_mu (QuickFIX takes its own session lock).
  static void transmit(SessionRun& r, FIX::Message& m) {
    if (!FIX::Session::sendToTarget(m, r.id)) r.send_failures.fetch_add(1, std::memory_order_relaxed);
  }
  // Window mode: takes the next order of r, if any, and sends it.
  void send_next(SessionRun& r) {
    FIX::Message m;
    {
      std::lock_guard lock(r.send_mu);
      if (r.next >= r.orders) return;
      const std::uint64_t k = r.next++;
      m = build_order(r, k, now_ns());
    }
    transmit(r, m);
  }

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID& id) override {
    if (SessionRun* r = find(id)) r->logged_on.store(true, std::memory_order_release);
  }
  void onLogout(const FIX::SessionID& id) override {
    if (SessionRun* r = find(id)) r->logged_on.store(false, std::memory_order_release);
  }
  void toAdmin(FIX::Message& m, const FIX::SessionID& id) override {
    if (m.getHeader().getField(FIX::FIELD::MsgType) != "A") return;
    if (SessionRun* r = find(id)) {
      if (!r->spec.username.empty()) m.setField(553, r->spec.username);
      if (!r->spec.password.empty()) m.setField(554, r->spec.password);
    }
  }
  void fromAdmin(const FIX::Message& m, const FIX::SessionID& id) override {
    if (m.getHeader().getField(FIX::FIELD::MsgType) == "5" && m.isSetField(58)) {
      if (SessionRun* r = find(id)) {
        std::lock_guard lock(r->logout_mu);
        r->logout_text = m.getField(58);
      }
    }
  }
  void toApp(FIX::Message&, const FIX::SessionID&) override {}
  void fromApp(const FIX::Message& m, const FIX::SessionID& id) override {
    const std::int64_t t = now_ns();
    if (m.getHeader().getField(FIX::FIELD::MsgType) != "8" || !m.isSetField(11)) return;
    SessionRun* r = find(id);
    if (r == nullptr) return;
    const std::string cl = m.getField(11);
    if (cl.size() <= r->prefix.size() || cl.compare(0, r->prefix.size(), r->prefix) != 0) return;
    const auto k = to_u64(cl.substr(r->prefix.size()), 0, r->orders - 1);
    if (!k) return;
    const std::string exec_type = m.isSetField(150) ? m.getField(150) : std::string();
    std::uint8_t add = 0;
    if (exec_type == "8") add |= kRejected;
    if (exec_type == "F") add |= kFilled;
    const std::uint8_t before = r->flags[*k].fetch_or(static_cast<std::uint8_t>(add | kAcked), std::memory_order_relaxed);
    if ((before & kAcked) != 0) return;  // not the first report of this order
    r->first_er_ns[*k].store(t, std::memory_order_relaxed);
    r->acked.fetch_add(1, std::memory_order_release);
    if (window_mode_) send_next(*r);
  }

 private:
  SessionRun* find(const FIX::SessionID& id) {
    const auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second;
  }
  const fl::Config& cfg_;
  std::vector<std::unique_ptr<SessionRun>>& runs_;
  bool window_mode_;
  std::map<FIX::SessionID, SessionRun*> by_id_;
};

std::string run_tag() {
  // Unique per run within a trading day (ClOrdIDs are unique per party per
  // day): base-36 of the wall-clock milliseconds.
  auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::string s;
  do {
    s.insert(s.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[ms % 36]);
    ms /= 36;
  } while (ms != 0);
  return "L" + s;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const int rc = parse_options(argc, argv, o); rc != 0) return rc < 0 ? 0 : rc;

  fl::Config cfg;
  std::string error;
  if (!o.config_path.empty()) {
    std::ifstream f(o.config_path);
    if (!f) {
      std::cerr << "fix_load: cannot read " << o.config_path << "\n";
      return 2;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    auto c = fl::parse_config(ss.str(), &error);
    if (!c) {
      std::cerr << "fix_load: " << o.config_path << ": " << error << "\n";
      return 2;
    }
    cfg = std::move(*c);
  }
  if (o.host) cfg.host = *o.host;
  if (o.port) cfg.port = *o.port;
  if (o.price_decimals) cfg.price_decimals = *o.price_decimals;
  for (const auto& f : o.instrument_flags) {
    if (!fl::add_instrument(cfg, fl::detail::split(f, ':'), &error)) {
      std::cerr << "fix_load: --instrument " << f << ": " << error << "\n";
      return 2;
    }
  }
  for (const auto& f : o.session_flags) {
    if (!fl::add_session(cfg, fl::detail::split(f, ':'), &error)) {
      std::cerr << "fix_load: --session " << f << ": " << error << "\n";
      return 2;
    }
  }
  if (cfg.port == 0 || cfg.sessions.empty()) {
    std::cerr << "fix_load: need a port and at least one session (config file or flags)\n\n" << kUsage;
    return 2;
  }
  if (o.sessions != 0) {
    if (o.sessions > cfg.sessions.size()) {
      std::cerr << "fix_load: --sessions " << o.sessions << " but the config has " << cfg.sessions.size() << "\n";
      return 2;
    }
    cfg.sessions.resize(o.sessions);
  }
  const std::uint64_t warmup = o.warmup.value_or(o.orders / 10);
  if (warmup >= o.orders) {
    std::cerr << "fix_load: --warmup must be below --orders\n";
    return 2;
  }
  // Finer sleeps for the rate mode's schedule (default slack is 50 us).
  ::prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);

  const std::string tag = run_tag();
  std::vector<std::unique_ptr<SessionRun>> runs;
  for (std::size_t i = 0; i < cfg.sessions.size(); ++i) {
    runs.push_back(
        std::make_unique<SessionRun>(i, cfg.sessions[i], tag, cfg, o.seed, o.depth, o.max_lots, o.orders));
  }

  FIX::SessionSettings settings;
  FIX::Dictionary defaults;
  defaults.setString("ConnectionType", "initiator");
  defaults.setString("SocketConnectHost", cfg.host);
  defaults.setInt("SocketConnectPort", cfg.port);
  defaults.setInt("HeartBtInt", 30);
  defaults.setInt("ReconnectInterval", 1);
  defaults.setString("StartTime", "00:00:00");
  defaults.setString("EndTime", "00:00:00");
  defaults.setString("UseDataDictionary", "N");
  defaults.setString("ResetOnLogon", "Y");
  defaults.setString("ResetOnLogout", "Y");
  defaults.setString("ResetOnDisconnect", "Y");
  defaults.setString("PersistMessages", "N");
  defaults.setString("SocketNodelay", "Y");
  defaults.setString("TimestampPrecision", "6");
  settings.set(defaults);
  for (const auto& r : runs) settings.set(r->id, FIX::Dictionary());

  LoadApp app(cfg, runs, !o.rate_mode);
  FIX::MemoryStoreFactory store;
  std::unique_ptr<FIX::ThreadedSocketInitiator> initiator;
  try {
    initiator = std::make_unique<FIX::ThreadedSocketInitiator>(app, store, settings);
    initiator->start();
  } catch (const std::exception& e) {
    std::cerr << "fix_load: cannot start the initiator: " << e.what() << "\n";
    return 1;
  }
  const auto logon_deadline = Clock::now() + std::chrono::seconds(o.logon_timeout_s);
  for (;;) {
    bool all = true;
    for (const auto& r : runs) all = all && r->logged_on.load(std::memory_order_acquire);
    if (all) break;
    if (Clock::now() > logon_deadline) {
      for (const auto& r : runs) {
        if (!r->logged_on.load()) {
          std::lock_guard lock(r->logout_mu);
          std::cerr << "fix_load: session " << r->spec.sender << "->" << r->spec.target << " did not log on"
                    << (r->logout_text.empty() ? std::string() : ": " + r->logout_text) << "\n";
        }
      }
      initiator->stop(true);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  const std::int64_t start_ns = now_ns();
  std::vector<std::thread> senders;
  if (o.rate_mode) {
    // Each session offers rate / sessions; the streams are interleaved by
    // offsetting each session's schedule by a fraction of its period.
    const std::uint64_t n_sessions = runs.size();
    const std::uint64_t per_session_rate = std::max<std::uint64_t>(1, o.rate / n_sessions);
    for (auto& rp : runs) {
      SessionRun* r = rp.get();
      senders.emplace_back([&app, r, start_ns, per_session_rate, n_sessions] {
        const std::int64_t phase = fl::intended_offset_ns(1, per_session_rate) *
                                   static_cast<std::int64_t>(r->index) / static_cast<std::int64_t>(n_sessions);
        for (std::uint64_t k = 0; k < r->orders; ++k) {
          const std::int64_t due = start_ns + phase + fl::intended_offset_ns(k, per_session_rate);
          const std::int64_t wait = due - now_ns();
          if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
          FIX::Message m = app.build_order(*r, k, due);
          LoadApp::transmit(*r, m);
        }
      });
    }
  } else {
    for (auto& r : runs) {
      for (std::uint64_t w = 0; w < o.window; ++w) app.send_next(*r);
    }
  }
  for (auto& t : senders) t.join();

  // Wait for every order's first report (or the drain timeout).
  const auto drain_deadline = Clock::now() + std::chrono::seconds(o.drain_timeout_s);
  for (;;) {
    std::uint64_t acked = 0;
    for (const auto& r : runs) acked += r->acked.load(std::memory_order_acquire);
    if (acked == o.orders * runs.size() || Clock::now() > drain_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Let late fills of passive orders arrive for the fill count.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  initiator->stop();

  // Figures over the orders after the warm-up.
  std::vector<std::int64_t> lat_ns;
  lat_ns.reserve(runs.size() * (o.orders - warmup));
  std::uint64_t measured = 0, acked = 0, rejected = 0, filled = 0, lost = 0, send_failures = 0;
  std::int64_t first_intended = INT64_MAX, last_ack = 0;
  for (const auto& r : runs) {
    send_failures += r->send_failures.load();
    for (std::uint64_t k = warmup; k < r->orders; ++k) {
      ++measured;
      const std::int64_t sent = r->intended_ns[k].load(std::memory_order_relaxed);
      const std::int64_t er = r->first_er_ns[k].load(std::memory_order_relaxed);
      const std::uint8_t f = r->flags[k].load(std::memory_order_relaxed);
      if (sent != 0) first_intended = std::min(first_intended, sent);
      if (er == 0 || sent == 0) {
        ++lost;
        continue;
      }
      ++acked;
      last_ack = std::max(last_ack, er);
      lat_ns.push_back(er - sent);
      if ((f & kRejected) != 0) ++rejected;
      if ((f & kFilled) != 0) ++filled;
    }
  }
  const fl::Summary s = fl::summarize(lat_ns);
  const double elapsed_s = acked > 0 ? static_cast<double>(last_ack - first_intended) / 1e9 : 0.0;
  const double per_s = elapsed_s > 0 ? static_cast<double>(acked) / elapsed_s : 0.0;
  auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1000.0; };
  std::cout << fmt::format(
      "{{\"bench\":\"fix_load\",\"label\":{},\"mode\":\"{}\",\"sessions\":{},\"window\":{},\"offered_per_s\":{},"
      "\"orders_per_session\":{},\"warmup_per_session\":{},\"seed\":{},\"measured\":{},\"acked\":{},\"lost\":{},"
      "\"rejected\":{},\"filled\":{},\"send_failures\":{},\"elapsed_s\":{:.3f},\"acked_per_s\":{:.0f},"
      "\"latency_us\":{{\"p50\":{:.1f},\"p90\":{:.1f},\"p99\":{:.1f},\"p999\":{:.1f},\"max\":{:.1f},\"mean\":{:.1f}}},"
      "\"run_s\":{:.3f}}}\n",
      json_string(o.label), o.rate_mode ? "rate" : "window", runs.size(), o.rate_mode ? 0 : o.window,
      o.rate_mode ? o.rate : 0, o.orders, warmup, o.seed, measured, acked, lost, rejected, filled, send_failures,
      elapsed_s, per_s, us(s.p50), us(s.p90), us(s.p99), us(s.p999), us(s.max), us(s.mean),
      static_cast<double>(now_ns() - start_ns) / 1e9);
  return lost == 0 ? 0 : 1;
}
