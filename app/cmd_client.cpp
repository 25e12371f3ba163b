// haihe client — a person's FIX terminal: place and cancel orders, list open
// orders, see positions and cash, watch a book. Each invocation is one FIX
// 4.4 session (QuickFIX initiator) that logs on, does one thing and logs out.
//
// Sequence numbers: the client is stateless. It keeps its session in memory
// (MemoryStore) and logs on with ResetSeqNumFlag(141)=Y (ResetOnLogon=Y), so
// both sides start at 1; the server then drops the messages it had stored
// for the party (see gateway/README.md). Nothing is lost for a person at the
// terminal: `orders` and `positions` ask the exchange for the current state.
// A party whose own trading system keeps a FIX session should not use the
// client at the same time (one session per party).
//
// TLS: QuickFIX 1.15's SSL initiator does not verify the server's
// certificate, so the client does not use it. With --tls it opens the TLS
// connection itself (OpenSSL through Boost.Asio), verifies the server's
// certificate chain (against --tls-ca FILE, else the system's CAs) and its
// name (--host), and relays the plain FIX session of a local QuickFIX
// initiator through it over a loopback socket that accepts one connection.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/program_options.hpp>
#include <fmt/core.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "app/options.h"
#include "gateway/admin.h"
#include "gateway/dictionary.h"
#include "gateway/quickfix.h"
#include "gateway/translate.h"
#include "rules/rules.h"

namespace haihe::app {

namespace {

namespace po = boost::program_options;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: haihe client --as PARTY [--host H] [--port N] [--password-stdin | --password P]\n"
    "                    [--tls [--tls-ca FILE | --tls-insecure]] ACTION ...\n"
    "\n"
    "actions:\n"
    "  buy SYMBOL QTY PRICE [--tif day|gtc|ioc|fok|gtd] [--expire YYYYMMDD] [--id CLORDID]\n"
    "  sell SYMBOL QTY PRICE [...]   a limit order (PRICE in yuan per base unit, e.g. 0.93);\n"
    "                                PRICE 'market' for a market order (--tif ioc or fok)\n"
    "  cancel CLORDID                cancel an open order\n"
    "  orders                        list the party's open orders\n"
    "  positions                     holdings (free, reserved) and cash\n"
    "  instruments                   the instruments, their state and reference prices\n"
    "  watch SYMBOL [--once]         the book and the trades, refreshed until Ctrl-C\n"
    "\n"
    "PARTY is the party id from the rules (the FIX Username); its SenderCompID\n"
    "comes from the rules (--rules FILE, default: the built-in market) or --comp-id.\n"
    "The password comes from --password-stdin (one line), --password or $HAIHE_PASSWORD.\n"
    "Exit: 0 done, 1 rejected or failed, 2 wrong usage.\n";

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

// ------------------------------------------------------------------ session

class ClientApp final : public FIX::Application {
 public:
  ClientApp(std::string username, std::string password)
      : username_(std::move(username)), password_(std::move(password)) {}

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID& id) override {
    std::lock_guard lock(mu_);
    session_ = id;
    logged_on_ = true;
    cv_.notify_all();
  }
  void onLogout(const FIX::SessionID&) override {
    std::lock_guard lock(mu_);
    logged_out_ = true;
    logged_on_ = false;
    cv_.notify_all();
  }
  void toAdmin(FIX::Message& m, const FIX::SessionID&) override {
    if (m.getHeader().getField(FIX::FIELD::MsgType) == "A") {
      m.setField(553, username_);
      m.setField(554, password_);
    }
  }
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&) override {
    const std::string type = m.getHeader().getField(FIX::FIELD::MsgType);
    std::lock_guard lock(mu_);
    if (type == "5" && m.isSetField(58)) logout_text_ = m.getField(58);
    if (type == "3") {  // session-level reject of something we sent
      inbox_.push_back(m);
      cv_.notify_all();
    }
  }
  void toApp(FIX::Message&, const FIX::SessionID&) override {}
  void fromApp(const FIX::Message& m, const FIX::SessionID&) override {
    std::lock_guard lock(mu_);
    if (inbox_.size() < kMaxInbox) inbox_.push_back(m);
    cv_.notify_all();
  }

  /// The client drives a SocketInitiator with poll() on its own thread (the
  /// callbacks run inside poll). Without a poller it waits on the condition
  /// variable for another thread's callbacks.
  void set_poller(FIX::Initiator* poller) { poller_ = poller; }

  /// Waits for the logon; false (with the reason) on logout or timeout.
  bool wait_logon(std::chrono::milliseconds timeout, std::string* why) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (logged_on_) return true;
        if ((logged_out_ && !logout_text_.empty()) || Clock::now() >= deadline || g_interrupted.load()) {
          *why = !logout_text_.empty()
                     ? logout_text_
                     : "no logon answer in time (is `haihe serve` running there, is the CompID known, and is "
                       "no other session of this party logged on, e.g. a `haihe client watch`?)";
          return false;
        }
      }
      wait_some(deadline);
    }
  }

  /// The next inbound message, waiting until `deadline`; nullopt on timeout,
  /// Ctrl-C or a lost session.
  std::optional<FIX::Message> next(Clock::time_point deadline) {
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (!inbox_.empty()) {
          FIX::Message m = inbox_.front();
          inbox_.pop_front();
          return m;
        }
        if (!logged_on_ || g_interrupted.load() || Clock::now() >= deadline) return std::nullopt;
      }
      wait_some(deadline);
    }
  }

  /// Logs out and waits (briefly) for the exchange's Logout.
  void logout(const FIX::SessionID& id) {
    if (FIX::Session* s = FIX::Session::lookupSession(id); s != nullptr && s->isLoggedOn()) s->logout();
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (!logged_on_ || Clock::now() >= deadline) return;
      }
      wait_some(deadline);
    }
  }

  bool send(FIX::Message& m) {
    FIX::SessionID id;
    {
      std::lock_guard lock(mu_);
      id = session_;
    }
    return FIX::Session::sendToTarget(m, id);
  }

  bool connected() {
    std::lock_guard lock(mu_);
    return logged_on_;
  }

 private:
  static constexpr std::size_t kMaxInbox = 1u << 16;
  std::string username_, password_;
  std::mutex mu_;
  std::condition_variable cv_;
  FIX::SessionID session_;
  bool logged_on_ = false, logged_out_ = false;
  std::string logout_text_;
  std::deque<FIX::Message> inbox_;
  FIX::Initiator* poller_ = nullptr;

  // Lets time pass until at most `deadline` (short steps), delivering
  // callbacks. Called without mu_ held.
  void wait_some(Clock::time_point deadline) {
    const auto step = std::min(deadline, Clock::now() + std::chrono::milliseconds(20));
    if (poller_ != nullptr) {
      const double s = std::chrono::duration<double>(step - Clock::now()).count();
      poller_->poll(s > 0 ? s : 0.0);
    } else {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, step);
    }
  }
};

// ------------------------------------------------------------------ helpers

std::string field(const FIX::FieldMap& m, int tag) { return m.isSetField(tag) ? m.getField(tag) : std::string(); }

std::string msg_type(const FIX::Message& m) { return m.getHeader().getField(FIX::FIELD::MsgType); }

// A fresh ClOrdID: "C" + base 36 of the wall-clock nanoseconds (unique per
// party per day across invocations).
std::string new_cl_ord_id(char prefix = 'C') {
  static std::uint64_t last = 0;
  auto ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  if (ns <= last) ns = last + 1;
  last = ns;
  std::string s;
  do {
    s.insert(s.begin(), "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[ns % 36]);
    ns /= 36;
  } while (ns != 0);
  return std::string(1, prefix) + s;
}

std::string side_name(const std::string& s) { return s == "1" ? "buy" : s == "2" ? "sell" : s; }

std::string ord_status_name(const std::string& s) {
  static const std::map<std::string, std::string> names = {
      {"0", "new"},      {"1", "partially filled"}, {"2", "filled"},  {"4", "cancelled"},
      {"5", "replaced"}, {"8", "rejected"},         {"C", "expired"}, {"6", "pending cancel"},
  };
  const auto it = names.find(s);
  return it != names.end() ? it->second : s;
}

std::string tif_name(const std::string& s) {
  static const std::map<std::string, std::string> names = {
      {"0", "day"}, {"1", "gtc"}, {"3", "ioc"}, {"4", "fok"}, {"6", "gtd"}};
  const auto it = names.find(s);
  return it != names.end() ? it->second : s;
}

// "1000" -> "1,000"; anything that is not an integer is shown as it came.
std::string qty_text(const std::string& s) {
  const auto q = gateway::parse_qty(s);
  return q ? gateway::admin::format_grouped(*q) : s;
}

// A rejection of something we sent: session Reject (3) or business reject (j).
bool is_reject_of_ours(const FIX::Message& m) {
  const std::string t = msg_type(m);
  return t == "3" || t == "j";
}

std::string reject_text(const FIX::Message& m) {
  std::string text = field(m, 58);
  if (msg_type(m) == "3") {
    return fmt::format("session reject (tag {}, reason {}){}", field(m, 371), field(m, 373),
                       text.empty() ? "" : ": " + text);
  }
  return fmt::format("business reject (reason {}){}", field(m, 380), text.empty() ? "" : ": " + text);
}

struct Ctx {
  ClientApp& app;
  const rules::MarketRules* rules;  // for units; may not know every symbol
  std::chrono::milliseconds timeout;
};

std::string unit_of(const Ctx& c, const std::string& symbol) {
  if (c.rules == nullptr) return {};
  const auto i = c.rules->find_instrument(symbol);
  if (i == rules::kNone) return {};
  return c.rules->instruments[i].unit.empty() ? std::string() : c.rules->instruments[i].unit;
}

std::string with_unit(const std::string& qty, const std::string& unit) {
  return unit.empty() ? qty : qty + " " + unit;
}

void print_fill(const Ctx& c, const FIX::Message& m) {
  const std::string symbol = field(m, 55);
  std::string extra;
  auto nonzero = [&](int tag) { return m.isSetField(tag) && gateway::parse_price_fen(field(m, tag)).value_or(1) != 0; };
  if (m.isSetField(12)) extra += fmt::format(", fee {} yuan", field(m, 12));
  if (nonzero(20022)) extra += fmt::format(", compensation {} yuan", field(m, 20022));
  if (nonzero(20023)) extra += fmt::format(", levy {} yuan", field(m, 20023));
  if (m.isSetField(20024)) extra += fmt::format(", delivered {}", with_unit(qty_text(field(m, 20024)), unit_of(c, symbol)));
  std::cout << fmt::format("fill: {} {} @ {} yuan (trade {}){}; filled {} of {}, {} left\n", side_name(field(m, 54)),
                           with_unit(qty_text(field(m, 32)), unit_of(c, symbol)), field(m, 31), field(m, 880), extra,
                           qty_text(field(m, 14)), qty_text(field(m, 38)), qty_text(field(m, 151)));
}

// ------------------------------------------------------------------ actions

struct OrderArgs {
  bool buy = true;
  std::string symbol;
  std::string qty;
  std::string price;  // yuan text, or "market"
  std::string tif = "day";
  std::string expire;
  std::string cl_ord_id;
};

int do_order(const Ctx& c, const OrderArgs& a) {
  const std::string cl = a.cl_ord_id.empty() ? new_cl_ord_id() : a.cl_ord_id;
  FIX::Message m;
  m.getHeader().setField(FIX::MsgType("D"));
  m.setField(11, cl);
  m.setField(55, a.symbol);
  m.setField(54, a.buy ? "1" : "2");
  m.setField(FIX::TransactTime());
  m.setField(38, a.qty);
  if (a.price == "market") {
    m.setField(40, "1");
  } else {
    m.setField(40, "2");
    m.setField(44, a.price);
  }
  static const std::map<std::string, std::string> tifs = {
      {"day", "0"}, {"gtc", "1"}, {"ioc", "3"}, {"fok", "4"}, {"gtd", "6"}};
  m.setField(59, tifs.at(a.tif));
  if (!a.expire.empty()) m.setField(432, a.expire);
  if (!c.app.send(m)) {
    std::cerr << "haihe client: the session is down; the order was not sent\n";
    return kExitRejected;
  }
  const std::string unit = unit_of(c, a.symbol);
  // The first report decides; then fills that follow at once are shown until
  // the order is done or the exchange is quiet for a moment.
  auto deadline = Clock::now() + c.timeout;
  bool accepted = false;
  for (;;) {
    auto msg = c.app.next(deadline);
    if (!msg) break;
    if (is_reject_of_ours(*msg)) {
      std::cout << "rejected: " << reject_text(*msg) << "\n";
      return kExitRejected;
    }
    if (msg_type(*msg) != "8" || field(*msg, 11) != cl) continue;
    const std::string exec_type = field(*msg, 150);
    if (exec_type == "8") {
      std::cout << fmt::format("rejected: {} {} {} @ {}: {}\n", a.buy ? "buy" : "sell", with_unit(qty_text(a.qty), unit),
                               a.symbol, a.price, field(*msg, 58));
      return kExitRejected;
    }
    if (exec_type == "0") {
      accepted = true;
      std::cout << fmt::format("accepted: {} {} {} @ {} ({}), order {}, ClOrdID {}\n", a.buy ? "buy" : "sell",
                               with_unit(qty_text(a.qty), unit), a.symbol,
                               a.price == "market" ? std::string("market") : a.price + " yuan", a.tif,
                               field(*msg, 37), cl);
    } else if (exec_type == "F") {
      accepted = true;
      print_fill(c, *msg);
    } else if (exec_type == "4" || exec_type == "C") {
      accepted = true;
      std::cout << fmt::format("{}: {} left unfilled{}\n", exec_type == "4" ? "cancelled" : "expired",
                               with_unit(qty_text(field(*msg, 151)), unit),
                               msg->isSetField(58) ? " (" + field(*msg, 58) + ")" : std::string());
    }
    const std::string status = field(*msg, 39);
    if (status == "2" || status == "4" || status == "C") break;  // done
    // Resting: wait a moment for fills that come with the same batch.
    deadline = Clock::now() + std::chrono::milliseconds(300);
  }
  if (!accepted) {
    std::cerr << "haihe client: no answer to order " << cl << " in time; check with `haihe client orders`\n";
    return kExitRejected;
  }
  return kExitOk;
}

// Asks for one order's status (by ClOrdID). nullopt: unknown or no answer
// (the reason in *why).
std::optional<FIX::Message> order_status(const Ctx& c, const std::string& cl, std::string* why) {
  FIX::Message m;
  m.getHeader().setField(FIX::MsgType("H"));
  m.setField(11, cl);
  // FIX 4.4 requires Side (54); the exchange finds the order by ClOrdID alone
  // and ignores it (gateway/README.md), and the side is not known yet here.
  m.setField(54, "1");
  const std::string req = new_cl_ord_id('S');
  m.setField(790, req);
  if (!c.app.send(m)) {
    *why = "the session is down";
    return std::nullopt;
  }
  const auto deadline = Clock::now() + c.timeout;
  while (auto msg = c.app.next(deadline)) {
    if (is_reject_of_ours(*msg)) {
      *why = reject_text(*msg);
      return std::nullopt;
    }
    if (msg_type(*msg) == "8" && field(*msg, 150) == "I" && field(*msg, 11) == cl) {
      if (field(*msg, 39) == "8") {
        *why = field(*msg, 58).empty() ? "unknown order" : field(*msg, 58);
        return std::nullopt;
      }
      return msg;
    }
  }
  *why = "no answer in time";
  return std::nullopt;
}

int do_cancel(const Ctx& c, const std::string& cl) {
  std::string why;
  const auto status = order_status(c, cl, &why);
  if (!status) {
    std::cout << fmt::format("rejected: cancel {}: {}\n", cl, why);
    return kExitRejected;
  }
  FIX::Message m;
  m.getHeader().setField(FIX::MsgType("F"));
  const std::string req = new_cl_ord_id('X');
  m.setField(41, cl);
  m.setField(11, req);
  if (status->isSetField(37)) m.setField(37, field(*status, 37));
  m.setField(55, field(*status, 55));
  m.setField(54, field(*status, 54));
  m.setField(FIX::TransactTime());
  if (!c.app.send(m)) {
    std::cerr << "haihe client: the session is down; the cancel was not sent\n";
    return kExitRejected;
  }
  const auto deadline = Clock::now() + c.timeout;
  while (auto msg = c.app.next(deadline)) {
    if (is_reject_of_ours(*msg)) {
      std::cout << "rejected: " << reject_text(*msg) << "\n";
      return kExitRejected;
    }
    const std::string t = msg_type(*msg);
    if (t == "9" && field(*msg, 11) == req) {
      std::cout << fmt::format("rejected: cancel {}: {}\n", cl, field(*msg, 58));
      return kExitRejected;
    }
    if (t == "8" && field(*msg, 150) == "4" && (field(*msg, 11) == req || field(*msg, 41) == cl)) {
      const std::string symbol = field(*msg, 55);
      const auto order_qty = gateway::parse_qty(field(*msg, 38));
      const auto cum_qty = gateway::parse_qty(field(*msg, 14));
      const std::string cancelled =
          order_qty && cum_qty ? gateway::admin::format_grouped(*order_qty - *cum_qty) : std::string("?");
      std::cout << fmt::format("cancelled: {} {} {} @ {} yuan (ClOrdID {}): {} had filled, {} cancelled\n",
                               side_name(field(*msg, 54)), with_unit(qty_text(field(*msg, 38)), unit_of(c, symbol)),
                               symbol, field(*msg, 44), cl, qty_text(field(*msg, 14)), cancelled);
      return kExitOk;
    }
  }
  std::cerr << "haihe client: no answer to the cancel in time; check with `haihe client orders`\n";
  return kExitRejected;
}

int do_orders(const Ctx& c) {
  FIX::Message m;
  m.getHeader().setField(FIX::MsgType("AF"));
  const std::string req = new_cl_ord_id('M');
  m.setField(584, req);
  m.setField(585, "7");  // all orders
  if (!c.app.send(m)) {
    std::cerr << "haihe client: the session is down\n";
    return kExitRejected;
  }
  std::vector<FIX::Message> rows;
  auto deadline = Clock::now() + c.timeout;
  bool any_answer = false;
  while (auto msg = c.app.next(deadline)) {
    if (is_reject_of_ours(*msg)) {
      std::cout << "rejected: listing orders (OrderMassStatusRequest): " << reject_text(*msg) << "\n";
      return kExitRejected;
    }
    if (msg_type(*msg) != "8" || field(*msg, 150) != "I") continue;
    any_answer = true;
    const bool last = field(*msg, 912) == "Y";
    if (field(*msg, 39) != "8" && msg->isSetField(11)) rows.push_back(*msg);
    if (last) break;
    // Without a last-report marker: the listing ends when the exchange is quiet.
    deadline = Clock::now() + std::chrono::milliseconds(300);
  }
  if (!any_answer) {
    std::cerr << "haihe client: no answer to the order listing in time\n";
    return kExitRejected;
  }
  if (rows.empty()) {
    std::cout << "no open orders\n";
    return kExitOk;
  }
  std::cout << fmt::format("{:<26} {:<4} {:<28} {:>12} {:>12} {:>12} {:>10} {:<4} {}\n", "ClOrdID", "side", "symbol",
                           "qty", "filled", "open", "price", "tif", "status");
  for (const auto& r : rows) {
    std::cout << fmt::format("{:<26} {:<4} {:<28} {:>12} {:>12} {:>12} {:>10} {:<4} {}\n", field(r, 11),
                             side_name(field(r, 54)), field(r, 55), qty_text(field(r, 38)), qty_text(field(r, 14)),
                             qty_text(field(r, 151)), field(r, 44), tif_name(field(r, 59)),
                             ord_status_name(field(r, 39)));
  }
  return kExitOk;
}

int do_positions(const Ctx& c, const std::string& party) {
  FIX::Message m;
  m.getHeader().setField(FIX::MsgType("AN"));
  const std::string req = new_cl_ord_id('P');
  m.setField(710, req);
  m.setField(724, "0");
  // Fields FIX 4.4 requires in AN; the exchange reads only the Account.
  m.setField(1, party);
  m.setField(581, "1");  // AccountType: carried on the customer side of the books
  {
    const int offset_min = c.rules != nullptr ? c.rules->utc_offset_min : 480;
    const std::time_t local = std::time(nullptr) + static_cast<std::time_t>(offset_min) * 60;
    std::tm tm{};
    gmtime_r(&local, &tm);
    char date[16];
    std::strftime(date, sizeof date, "%Y%m%d", &tm);
    m.setField(715, date);  // ClearingBusinessDate: today at the market
  }
  m.setField(FIX::TransactTime());
  if (!c.app.send(m)) {
    std::cerr << "haihe client: the session is down\n";
    return kExitRejected;
  }
  struct Row {
    std::string symbol, free, reserved;
  };
  std::vector<Row> rows;
  std::string cash_free, cash_reserved;
  std::size_t seen = 0, total = 0;
  const auto deadline = Clock::now() + c.timeout;
  while (auto msg = c.app.next(deadline)) {
    if (is_reject_of_ours(*msg)) {
      std::cout << "rejected: positions: " << reject_text(*msg) << "\n";
      return kExitRejected;
    }
    if (msg_type(*msg) != "AP" || field(*msg, 710) != req) continue;
    if (field(*msg, 728) != "0") {
      std::cout << "rejected: positions: " << field(*msg, 58) << "\n";
      return kExitRejected;
    }
    ++seen;
    if (const auto t = gateway::admin::parse_uint(field(*msg, 727), 1'000'000)) total = static_cast<std::size_t>(*t);
    if (msg->isSetField(55)) {
      Row r{field(*msg, 55), "0", "0"};
      FIX::Group g(702, 703);
      const int n = msg->isSetField(702) ? std::atoi(field(*msg, 702).c_str()) : 0;
      for (int i = 1; i <= n; ++i) {
        msg->getGroup(static_cast<unsigned>(i), g);
        if (field(g, 703) == "FREE") r.free = field(g, 704);
        if (field(g, 703) == "RSVD") r.reserved = field(g, 704);
      }
      rows.push_back(r);
    } else {
      FIX::Group g(753, 707);
      const int n = msg->isSetField(753) ? std::atoi(field(*msg, 753).c_str()) : 0;
      for (int i = 1; i <= n; ++i) {
        msg->getGroup(static_cast<unsigned>(i), g);
        if (field(g, 707) == "CASH") cash_free = field(g, 708);
        if (field(g, 707) == "CRSV") cash_reserved = field(g, 708);
      }
    }
    if (total != 0 && seen >= total) break;
  }
  if (total == 0 || seen < total) {
    std::cerr << "haihe client: the position reports did not all arrive in time\n";
    return kExitRejected;
  }
  std::cout << "positions of " << party << "\n";
  if (rows.empty()) std::cout << "  (no holdings)\n";
  for (const auto& r : rows) {
    std::cout << fmt::format("  {:<28} free {:>18}  reserved {:>14}  {}\n", r.symbol, qty_text(r.free),
                             qty_text(r.reserved), unit_of(c, r.symbol));
  }
  auto yuan = [](const std::string& s) {
    const auto f = gateway::admin::parse_yuan(s);
    return f ? gateway::admin::format_yuan_grouped(*f) : s;
  };
  std::cout << fmt::format("  {:<28} free {:>18}  reserved {:>14}  yuan\n", "cash", yuan(cash_free),
                           yuan(cash_reserved));
  return kExitOk;
}

int do_instruments(const Ctx& c) {
  FIX::Message m;
  m.getHeader().setField(FIX::MsgType("x"));
  const std::string req = new_cl_ord_id('L');
  m.setField(320, req);
  m.setField(559, "4");
  if (!c.app.send(m)) {
    std::cerr << "haihe client: the session is down\n";
    return kExitRejected;
  }
  const auto deadline = Clock::now() + c.timeout;
  while (auto msg = c.app.next(deadline)) {
    if (is_reject_of_ours(*msg)) {
      std::cout << "rejected: " << reject_text(*msg) << "\n";
      return kExitRejected;
    }
    if (msg_type(*msg) != "y" || field(*msg, 320) != req) continue;
    static const char* states[] = {"closed", "pre-open", "open", "break", "halted", "call"};
    std::cout << fmt::format("{:<28} {:>5} {:>6} {:>12} {:>12} {:>12} {:<10} {}\n", "symbol", "unit", "lot",
                             "reference", "band low", "band high", "mode", "state");
    FIX::Group g(146, 55);
    const int n = msg->isSetField(146) ? std::atoi(field(*msg, 146).c_str()) : 0;
    for (int i = 1; i <= n; ++i) {
      msg->getGroup(static_cast<unsigned>(i), g);
      const std::string st = field(g, 20007);
      const int si = st.size() == 1 && st[0] >= '0' && st[0] <= '5' ? st[0] - '0' : -1;
      std::cout << fmt::format("{:<28} {:>5} {:>6} {:>12} {:>12} {:>12} {:<10} {}\n", field(g, 55), field(g, 20001),
                               qty_text(field(g, 561)), field(g, 20006), field(g, 20002), field(g, 20003),
                               field(g, 20008), si >= 0 ? states[si] : st);
    }
    return kExitOk;
  }
  std::cerr << "haihe client: no security list in time\n";
  return kExitRejected;
}

// ------------------------------------------------------------------ watch

struct Book {
  std::map<rules::Fen, std::string, std::greater<>> bids;  // price -> size text
  std::map<rules::Fen, std::string> offers;
  struct Trade {
    std::string px, qty, id, time;
  };
  std::deque<Trade> trades;  // newest first
  std::string seq;
};

void render(const std::string& symbol, const std::string& unit, const Book& b, bool tty, std::size_t depth) {
  std::string out;
  if (tty) out += "\x1b[H\x1b[2J";
  std::time_t now = std::time(nullptr);
  char ts[32];
  std::strftime(ts, sizeof(ts), "%H:%M:%S", std::localtime(&now));
  out += fmt::format("{}  (quantities in {}, prices in yuan)  seq {}  {}\n\n", symbol, unit.empty() ? "units" : unit,
                     b.seq, ts);
  out += fmt::format("{:>16} {:>12} | {:<12} {:<16}\n", "bid qty", "bid", "offer", "offer qty");
  auto bi = b.bids.begin();
  auto oi = b.offers.begin();
  for (std::size_t i = 0; i < depth && (bi != b.bids.end() || oi != b.offers.end()); ++i) {
    std::string l1, l2, r1, r2;
    if (bi != b.bids.end()) {
      l1 = qty_text(bi->second);
      l2 = gateway::format_yuan(bi->first);
      ++bi;
    }
    if (oi != b.offers.end()) {
      r1 = gateway::format_yuan(oi->first);
      r2 = qty_text(oi->second);
      ++oi;
    }
    out += fmt::format("{:>16} {:>12} | {:<12} {:<16}\n", l1, l2, r1, r2);
  }
  if (b.bids.empty() && b.offers.empty()) out += "            (empty book)\n";
  out += "\nlast trades:\n";
  if (b.trades.empty()) out += "  (none since watching)\n";
  for (const auto& t : b.trades) out += fmt::format("  {}  {:>16} @ {:<12} trade {}\n", t.time, qty_text(t.qty), t.px, t.id);
  if (!tty) out += "\n";
  std::cout << out << std::flush;
}

int do_watch(const Ctx& c, const std::string& symbol, bool once, std::size_t depth) {
  FIX::Message m;
  m.getHeader().setField(FIX::MsgType("V"));
  const std::string req = new_cl_ord_id('W');
  m.setField(262, req);
  m.setField(263, once ? "0" : "1");
  m.setField(264, "0");
  m.setField(265, "1");
  FIX::Group types(267, 269);
  for (const char* t : {"0", "1", "2"}) {
    types.setField(269, t);
    m.addGroup(types);
  }
  FIX::Group syms(146, 55);
  syms.setField(55, symbol);
  m.addGroup(syms);
  if (!c.app.send(m)) {
    std::cerr << "haihe client: the session is down\n";
    return kExitRejected;
  }
  const bool tty = ::isatty(STDOUT_FILENO) != 0;
  const std::string unit = unit_of(c, symbol);
  Book book;
  bool have_snapshot = false;
  auto deadline = Clock::now() + c.timeout;
  auto last_render = Clock::now() - std::chrono::seconds(1);
  bool dirty = false;
  for (;;) {
    if (g_interrupted.load()) break;
    auto msg = c.app.next(have_snapshot ? Clock::now() + std::chrono::milliseconds(100) : deadline);
    if (!msg) {
      if (g_interrupted.load()) break;
      if (!have_snapshot) {
        std::cerr << "haihe client: no market data snapshot in time\n";
        return kExitRejected;
      }
      if (!c.app.connected()) {
        std::cerr << "haihe client: the session ended\n";
        return kExitRejected;
      }
    } else if (is_reject_of_ours(*msg)) {
      std::cout << "rejected: " << reject_text(*msg) << "\n";
      return kExitRejected;
    } else if (msg_type(*msg) == "Y" && field(*msg, 262) == req) {
      std::cout << "rejected: market data request: " << field(*msg, 58) << "\n";
      return kExitRejected;
    } else if (msg_type(*msg) == "W" && field(*msg, 55) == symbol) {
      book.bids.clear();
      book.offers.clear();
      book.seq = field(*msg, 20040);
      FIX::Group g(268, 269);
      const int n = msg->isSetField(268) ? std::atoi(field(*msg, 268).c_str()) : 0;
      for (int i = 1; i <= n; ++i) {
        msg->getGroup(static_cast<unsigned>(i), g);
        const auto px = gateway::parse_price_fen(field(g, 270));
        if (!px) continue;
        if (field(g, 269) == "0") book.bids[*px] = field(g, 271);
        if (field(g, 269) == "1") book.offers[*px] = field(g, 271);
      }
      have_snapshot = true;
      dirty = true;
      if (once) {
        render(symbol, unit, book, false, depth);
        return kExitOk;
      }
    } else if (msg_type(*msg) == "X" && have_snapshot) {
      FIX::Group g(268, 279);
      const int n = msg->isSetField(268) ? std::atoi(field(*msg, 268).c_str()) : 0;
      for (int i = 1; i <= n; ++i) {
        msg->getGroup(static_cast<unsigned>(i), g);
        if (g.isSetField(55) && field(g, 55) != symbol) continue;
        const std::string action = field(g, 279), type = field(g, 269);
        if (g.isSetField(20040)) book.seq = field(g, 20040);
        if (type == "2" || action == "0") {
          std::time_t now = std::time(nullptr);
          char ts[16];
          std::strftime(ts, sizeof(ts), "%H:%M:%S", std::localtime(&now));
          book.trades.push_front({field(g, 270), field(g, 271), field(g, 880), ts});
          if (book.trades.size() > 10) book.trades.pop_back();
          continue;
        }
        const auto px = gateway::parse_price_fen(field(g, 270));
        if (!px) continue;
        if (type == "0") {
          if (action == "2") book.bids.erase(*px); else book.bids[*px] = field(g, 271);
        } else if (type == "1") {
          if (action == "2") book.offers.erase(*px); else book.offers[*px] = field(g, 271);
        }
      }
      dirty = true;
    }
    if (dirty && Clock::now() - last_render >= std::chrono::milliseconds(100)) {
      render(symbol, unit, book, tty, depth);
      last_render = Clock::now();
      dirty = false;
    }
  }
  return kExitOk;
}

// ------------------------------------------------------------------ TLS

// One verified TLS connection to the exchange, relaying the bytes of one
// local (loopback) connection. Construction connects, handshakes and
// verifies (throws std::runtime_error with the reason); start() relays on a
// thread until either side closes.
class TlsTunnel {
 public:
  TlsTunnel(const std::string& host, int port, const std::string& ca_file, bool insecure,
            std::chrono::milliseconds timeout)
      : ctx_(boost::asio::ssl::context::tls_client), upstream_(io_, ctx_), local_(io_), acceptor_(io_) {
    namespace ssl = boost::asio::ssl;
    using boost::asio::ip::tcp;
    ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (!insecure) {
      if (!ca_file.empty()) {
        ctx_.load_verify_file(ca_file, ec);
        if (ec) throw std::runtime_error(fmt::format("cannot read --tls-ca {}: {}", ca_file, ec.message()));
      } else {
        ctx_.set_default_verify_paths();
      }
      upstream_.set_verify_mode(ssl::verify_peer);
      upstream_.set_verify_callback(ssl::host_name_verification(host));
    } else {
      upstream_.set_verify_mode(ssl::verify_none);
    }
    SSL_set_tlsext_host_name(upstream_.native_handle(), host.c_str());  // SNI
    // Connect and handshake, bounded by the timeout.
    bool done = false;
    tcp::resolver resolver(io_);
    resolver.async_resolve(host, std::to_string(port), [&](const boost::system::error_code& e, tcp::resolver::results_type r) {
      if (e) {
        ec = e;
        done = true;
        return;
      }
      boost::asio::async_connect(upstream_.lowest_layer(), r, [&](const boost::system::error_code& e2, const tcp::endpoint&) {
        if (e2) {
          ec = e2;
          done = true;
          return;
        }
        upstream_.async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& e3) {
          ec = e3;
          done = true;
        });
      });
    });
    io_.run_for(timeout);
    if (!done) throw std::runtime_error(fmt::format("no TLS connection to {}:{} in time", host, port));
    if (ec) {
      std::string why = ec.message();
      if (ec.category() == boost::asio::error::get_ssl_category()) {
        const long v = SSL_get_verify_result(upstream_.native_handle());
        if (v == X509_V_ERR_UNSPECIFIED) {
          why = fmt::format("the server's certificate is not for '{}'", host);  // host_name_verification
        } else if (v != X509_V_OK) {
          why = X509_verify_cert_error_string(v);
        }
      }
      throw std::runtime_error(fmt::format("TLS connection to {}:{} failed: {}{}", host, port, why,
                                           insecure ? "" : " (give --tls-ca FILE for a private CA)"));
    }
    io_.restart();
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    acceptor_.listen(1);
    local_port_ = acceptor_.local_endpoint().port();
  }
  ~TlsTunnel() {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  TlsTunnel(const TlsTunnel&) = delete;
  TlsTunnel& operator=(const TlsTunnel&) = delete;

  int local_port() const { return local_port_; }

  void start() {
    acceptor_.async_accept(local_, [this](const boost::system::error_code& ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);  // one connection only
      if (ec) return;
      local_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
      upstream_.lowest_layer().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
      pump_down();
      pump_up();
    });
    thread_ = std::thread([this] { io_.run(); });
  }

 private:
  // exchange -> local
  void pump_down() {
    upstream_.async_read_some(boost::asio::buffer(down_), [this](const boost::system::error_code& ec, std::size_t n) {
      if (ec) return close();
      boost::asio::async_write(local_, boost::asio::buffer(down_, n),
                               [this](const boost::system::error_code& e, std::size_t) {
                                 if (e) return close();
                                 pump_down();
                               });
    });
  }
  // local -> exchange
  void pump_up() {
    local_.async_read_some(boost::asio::buffer(up_), [this](const boost::system::error_code& ec, std::size_t n) {
      if (ec) return close();
      boost::asio::async_write(upstream_, boost::asio::buffer(up_, n),
                               [this](const boost::system::error_code& e, std::size_t) {
                                 if (e) return close();
                                 pump_up();
                               });
    });
  }
  void close() {
    boost::system::error_code ignored;
    local_.close(ignored);
    upstream_.lowest_layer().close(ignored);
  }

  boost::asio::io_context io_;
  boost::asio::ssl::context ctx_;
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> upstream_;
  boost::asio::ip::tcp::socket local_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int local_port_ = 0;
  std::array<char, 16384> down_{}, up_{};
  std::thread thread_;
};

// ------------------------------------------------------------------ setup

std::optional<std::string> read_password(bool from_stdin, const std::string& flag) {
  if (from_stdin) {
    std::string line;
    if (!std::getline(std::cin, line)) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("HAIHE_PASSWORD"); env != nullptr && *env != '\0') return std::string(env);
  return std::nullopt;
}

// A private temporary directory for the data dictionary; removed on exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "haihe-client-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("cannot create a temporary directory");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

int cmd_client(Args args) {
  po::options_description opts("options");
  std::string as, host = "127.0.0.1", password, comp_id, target = "HAIHE", rules_file, tif = "day", expire, id,
                  tls_ca;
  int port = 0;
  bool password_stdin = false, tls = false, tls_insecure = false, once = false;
  unsigned timeout_s = 10, depth = 10;
  opts.add_options()("help,h", "show this help")
      ("as", po::value(&as), "the party id (FIX Username)")
      ("host", po::value(&host), "the exchange's host (default 127.0.0.1)")
      ("port", po::value(&port), "the FIX port (default 9878, or 9879 with --tls)")
      ("password-stdin", po::bool_switch(&password_stdin), "read the password from the first line of stdin")
      ("password", po::value(&password), "the password (visible to other users in ps; prefer --password-stdin)")
      ("tls", po::bool_switch(&tls), "connect with TLS")
      ("tls-ca", po::value(&tls_ca), "TLS: the CA certificate file that signs the server's certificate")
      ("tls-insecure", po::bool_switch(&tls_insecure), "TLS: do not verify the server's certificate")
      ("comp-id", po::value(&comp_id), "SenderCompID (default: the party's fix_comp_id in the rules)")
      ("target", po::value(&target), "TargetCompID (default HAIHE)")
      ("rules", po::value(&rules_file), "the market rules file (default: the built-in market)")
      ("tif", po::value(&tif), "buy/sell: time in force day|gtc|ioc|fok|gtd (default day)")
      ("expire", po::value(&expire), "buy/sell with --tif gtd: last day YYYYMMDD (local)")
      ("id", po::value(&id), "buy/sell: the ClOrdID (default: a fresh one)")
      ("once", po::bool_switch(&once), "watch: print the book once and exit")
      ("depth", po::value(&depth), "watch: levels shown per side (default 10)")
      ("timeout", po::value(&timeout_s), "seconds to wait for the logon and each answer (default 10)");
  std::vector<std::string> pos;
  po::variables_map vm;
  if (const auto done = parse_command_line(args, opts, pos, vm, "client", kUsage)) return *done;
  auto usage = [&](const std::string& why) {
    std::cerr << "haihe client: " << why << " (haihe client --help)\n";
    return kExitUsage;
  };
  if (as.empty()) return usage("--as PARTY is required");
  if (pos.empty()) return usage("no action given");
  const std::string action = pos[0];
  auto nargs = [&](std::size_t n) { return pos.size() == n + 1; };
  OrderArgs order;
  if (action == "buy" || action == "sell") {
    if (!nargs(3)) return usage(action + " needs SYMBOL QTY PRICE");
    order.buy = action == "buy";
    order.symbol = pos[1];
    const auto q = gateway::admin::parse_uint(pos[2], rules::kMaxQty);
    if (!q || *q == 0) return usage("QTY '" + pos[2] + "' is not a positive whole number of base units");
    order.qty = std::to_string(*q);
    if (pos[3] == "market") {
      order.price = "market";
    } else {
      const auto px = gateway::admin::parse_yuan(pos[3], rules::kMaxPriceFen);
      if (!px || *px == 0) return usage("PRICE '" + pos[3] + "' is not a positive yuan amount with at most 2 decimals");
      order.price = gateway::format_yuan(*px);
    }
    if (tif != "day" && tif != "gtc" && tif != "ioc" && tif != "fok" && tif != "gtd") {
      return usage("--tif is day, gtc, ioc, fok or gtd");
    }
    if ((tif == "gtd") != !expire.empty()) return usage("--expire YYYYMMDD goes with --tif gtd (and only with it)");
    if (!expire.empty() && !gateway::parse_local_date(expire)) return usage("--expire must be a date YYYYMMDD");
    if (order.price == "market" && tif != "ioc" && tif != "fok") return usage("a market order needs --tif ioc or fok");
    if (!id.empty() && !gateway::make_cl_ord_id(id)) return usage("--id must be 1..32 printable ASCII characters");
    order.tif = tif;
    order.expire = expire;
    order.cl_ord_id = id;
  } else if (action == "cancel") {
    if (!nargs(1)) return usage("cancel needs CLORDID");
  } else if (action == "orders" || action == "positions" || action == "instruments") {
    if (!nargs(0)) return usage(action + " takes no arguments");
  } else if (action == "watch") {
    if (!nargs(1)) return usage("watch needs SYMBOL");
    if (depth == 0 || depth > 1000) return usage("--depth must be 1..1000");
  } else {
    return usage("unknown action '" + action + "'");
  }
  if (timeout_s == 0 || timeout_s > 3600) return usage("--timeout must be 1..3600 seconds");
  if (!tls && (!tls_ca.empty() || tls_insecure)) return usage("--tls-ca and --tls-insecure go with --tls");
  if (!tls_ca.empty() && tls_insecure) return usage("give --tls-ca or --tls-insecure, not both");
  if (port == 0) port = tls ? 9879 : 9878;
  if (port < 1 || port > 65535) return usage("--port must be 1..65535");
  if (password_stdin && !password.empty()) return usage("give --password-stdin or --password, not both");

  std::shared_ptr<const rules::MarketRules> rules;
  try {
    rules = rules_file.empty() ? rules::load_default_rules() : rules::load_rules_file(rules_file);
  } catch (const rules::RulesLoadError& e) {
    std::cerr << "haihe client: " << e.what() << "\n";
    for (const auto& err : e.errors()) std::cerr << "  " << err.to_string() << "\n";
    return kExitUsage;
  }
  if (comp_id.empty()) {
    const auto party = rules->find_party(as);
    if (party == rules::kNone) {
      return usage(fmt::format("party '{}' is not in the {} rules (give --rules FILE or --comp-id)", as,
                               rules_file.empty() ? "built-in" : rules_file));
    }
    comp_id = rules->parties[party].fix_comp_id;
    if (comp_id.empty()) return usage(fmt::format("party '{}' has no FIX session (no fix_comp_id)", as));
  }
  const auto pw = read_password(password_stdin, password);
  if (!pw || pw->empty()) return usage("no password: give --password-stdin, --password or $HAIHE_PASSWORD");

  std::unique_ptr<TempDir> tmp;
  try {
    tmp = std::make_unique<TempDir>();
    std::ofstream f(tmp->path / "haihe-fix44.xml", std::ios::binary);
    const auto xml = gateway::dictionary_xml();
    f.write(xml.data(), static_cast<std::streamsize>(xml.size()));
    if (!f) throw std::runtime_error("cannot write the data dictionary");
  } catch (const std::exception& e) {
    std::cerr << "haihe client: " << e.what() << "\n";
    return kExitRejected;
  }

  std::unique_ptr<TlsTunnel> tunnel;
  if (tls) {
    try {
      tunnel = std::make_unique<TlsTunnel>(host, port, tls_ca, tls_insecure, std::chrono::seconds(timeout_s));
      tunnel->start();
    } catch (const std::exception& e) {
      std::cerr << "haihe client: " << e.what() << "\n";
      return kExitRejected;
    }
    if (tls_insecure) std::cerr << "haihe client: warning: the server's TLS certificate is not verified (--tls-insecure)\n";
  }

  FIX::SessionSettings settings;
  FIX::Dictionary d;
  d.setString("ConnectionType", "initiator");
  d.setString("SocketConnectHost", tunnel ? std::string("127.0.0.1") : host);
  d.setInt("SocketConnectPort", tunnel ? tunnel->local_port() : port);
  d.setInt("HeartBtInt", 30);
  d.setInt("ReconnectInterval", 1);
  d.setString("StartTime", "00:00:00");
  d.setString("EndTime", "00:00:00");
  d.setString("UseDataDictionary", "Y");
  d.setString("DataDictionary", (tmp->path / "haihe-fix44.xml").string());
  d.setString("ResetOnLogon", "Y");
  d.setString("ResetOnLogout", "Y");
  d.setString("ResetOnDisconnect", "Y");
  d.setString("PersistMessages", "N");
  d.setString("SocketNodelay", "Y");
  const FIX::SessionID sid("FIX.4.4", comp_id, target);
  settings.set(sid, d);

  // Driven by poll() on this thread (see ClientApp::set_poller).
  ClientApp app(as, *pw);
  FIX::MemoryStoreFactory store;
  std::unique_ptr<FIX::Initiator> initiator;
  try {
    initiator = std::make_unique<FIX::SocketInitiator>(app, store, settings);
    app.set_poller(initiator.get());
  } catch (const std::exception& e) {
    std::cerr << "haihe client: cannot start the FIX session: " << e.what() << "\n";
    return kExitRejected;
  }
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  std::string why;
  if (!app.wait_logon(std::chrono::seconds(timeout_s), &why)) {
    initiator->stop(true);
    std::cerr << fmt::format("haihe client: logon as {} ({} -> {} at {}:{}) failed: {}\n", as, comp_id, target, host,
                             port, why);
    return kExitRejected;
  }
  const Ctx ctx{app, rules.get(), std::chrono::seconds(timeout_s)};
  int rc = kExitOk;
  if (action == "buy" || action == "sell") {
    rc = do_order(ctx, order);
  } else if (action == "cancel") {
    rc = do_cancel(ctx, pos[1]);
  } else if (action == "orders") {
    rc = do_orders(ctx);
  } else if (action == "positions") {
    rc = do_positions(ctx, as);
  } else if (action == "instruments") {
    rc = do_instruments(ctx);
  } else if (action == "watch") {
    rc = do_watch(ctx, pos[1], once, depth);
  }
  app.logout(sid);
  initiator->stop(true);
  return rc;
}

}  // namespace haihe::app
