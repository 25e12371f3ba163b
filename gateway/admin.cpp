// haihe::gateway admin — see admin.h.
#include "gateway/admin.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <istream>
#include <set>
#include <thread>

namespace haihe::gateway {

// ================================================================ protocol

namespace admin {

// ---------------------------------------------------------------- amounts

std::optional<std::int64_t> parse_uint(std::string_view text, std::int64_t max) {
  assert(max >= 0);
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::int64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::int64_t d = c - '0';
    if (v > (max - d) / 10) return std::nullopt;  // v * 10 + d > max
    v = v * 10 + d;
  }
  return v;
}

std::optional<rules::Fen> parse_yuan(std::string_view text, rules::Fen max_fen) {
  const std::size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  std::string_view frac;
  if (dot != std::string_view::npos) {
    frac = text.substr(dot + 1);
    if (frac.empty() || frac.size() > 2) return std::nullopt;
  }
  if (whole.empty()) return std::nullopt;
  const auto yuan = parse_uint(whole, max_fen / 100);
  if (!yuan) return std::nullopt;
  std::int64_t fen_part = 0;
  if (!frac.empty()) {
    const auto f = parse_uint(frac, 99);
    if (!f) return std::nullopt;
    fen_part = frac.size() == 1 ? *f * 10 : *f;
  }
  const std::int64_t fen = *yuan * 100 + fen_part;
  if (fen > max_fen) return std::nullopt;
  return fen;
}

namespace {
std::string group_digits(std::uint64_t v) {
  std::string digits = std::to_string(v);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  const std::size_t n = digits.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i != 0 && (n - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}
std::uint64_t magnitude(std::int64_t v) {
  return v < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
}
}  // namespace

std::string format_grouped(std::int64_t v) {
  return (v < 0 ? "-" : "") + group_digits(magnitude(v));
}

std::string format_yuan_grouped(rules::Fen fen) {
  const std::uint64_t mag = magnitude(fen);
  return fmt::format("{}{}.{:02d}", fen < 0 ? "-" : "", group_digits(mag / 100), mag % 100);
}

namespace {
constexpr char kHex[] = "0123456789ABCDEF";

bool plain_byte(unsigned char c) { return c >= 0x21 && c <= 0x7e && c != '%' && c != '='; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool valid_key(std::string_view k) {
  if (k.empty() || k.size() > kMaxKeyBytes) return false;
  return std::all_of(k.begin(), k.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}
}  // namespace

std::string percent_encode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (const char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (plain_byte(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    const char ch = encoded[i];
    if (ch != '%') {
      out += ch;
      continue;
    }
    if (i + 2 >= encoded.size()) return std::nullopt;
    const int hi = hex_value(encoded[i + 1]);
    const int lo = hex_value(encoded[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

const std::string* Fields::find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k == key) return &v;
  }
  return nullptr;
}

Fields& Fields::add(std::string key, std::string value) {
  assert(valid_key(key));
  items.emplace_back(std::move(key), std::move(value));
  return *this;
}

std::optional<Fields> parse_line(std::string_view line, std::string* error) {
  assert(error != nullptr);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > kMaxLineBytes) {
    *error = fmt::format("line longer than {} bytes", kMaxLineBytes);
    return std::nullopt;
  }
  if (line.empty()) {
    *error = "empty line";
    return std::nullopt;
  }
  Fields out;
  std::size_t pos = 0;
  while (pos <= line.size()) {
    std::size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    const std::string_view token = line.substr(pos, end - pos);
    if (token.empty()) {
      *error = "empty field (two spaces, or a space at the start or end)";
      return std::nullopt;
    }
    const std::size_t eq = token.find('=');
    if (eq == std::string_view::npos) {
      *error = fmt::format("field '{}' has no '='", token.substr(0, 40));
      return std::nullopt;
    }
    const std::string_view key = token.substr(0, eq);
    if (!valid_key(key)) {
      *error = fmt::format("bad key '{}' (allowed: a-z and _, 1..{} bytes)", key.substr(0, 40), kMaxKeyBytes);
      return std::nullopt;
    }
    if (out.find(key) != nullptr) {
      *error = fmt::format("key '{}' given twice", key);
      return std::nullopt;
    }
    if (out.items.size() == kMaxFields) {
      *error = fmt::format("more than {} fields", kMaxFields);
      return std::nullopt;
    }
    const std::string_view raw = token.substr(eq + 1);
    if (raw.find('=') != std::string_view::npos) {
      *error = fmt::format("value of '{}' holds an unencoded '='", key);
      return std::nullopt;
    }
    auto value = percent_decode(raw);
    if (!value) {
      *error = fmt::format("value of '{}' has a malformed %-escape", key);
      return std::nullopt;
    }
    out.items.emplace_back(std::string(key), std::move(*value));
    pos = end + 1;
    if (end == line.size()) break;
  }
  return out;
}

std::string format_line(const Fields& fields) {
  std::string out;
  for (const auto& [k, v] : fields.items) {
    assert(valid_key(k));
    if (!out.empty()) out += ' ';
    out += k;
    out += '=';
    out += percent_encode(v);
  }
  return out;
}

// ---------------------------------------------------------------- translate

namespace {

using exchange::CommandKind;

struct ActionSpec {
  std::string_view name;
  CommandKind kind;
  std::vector<std::string_view> required;
  std::vector<std::string_view> optional;
};

const std::vector<ActionSpec>& action_specs() {
  static const std::vector<ActionSpec> specs = {
      {"deposit", CommandKind::deposit, {"party", "fen"}, {}},
      {"withdraw", CommandKind::withdraw, {"party", "fen"}, {}},
      {"issue", CommandKind::issue, {"party", "instrument", "qty"}, {}},
      {"retire", CommandKind::retire, {"party", "instrument", "qty"}, {}},
      {"grant", CommandKind::grant, {"fund", "city", "fen"}, {}},
      {"halt", CommandKind::halt, {"instrument"}, {"cancel_orders"}},
      {"resume", CommandKind::resume, {"instrument"}, {}},
      {"set_reference", CommandKind::set_reference, {"instrument", "price_fen"}, {}},
      {"session_open", CommandKind::session_open, {}, {"instrument"}},
      {"session_close", CommandKind::session_close, {}, {"instrument"}},
  };
  return specs;
}

std::string unit_of(const rules::MarketRules& r, rules::InstrumentIndex i) {
  const std::string& u = r.instruments[i].unit;
  return u.empty() ? std::string("units") : u;
}

}  // namespace

std::optional<Request> translate(const Fields& fields, const rules::MarketRules& rules,
                                 rules::PartyIndex default_party, std::string* error) {
  assert(error != nullptr);
  const std::string* action = fields.find("action");
  if (action == nullptr || fields.items.front().first != "action") {
    *error = "the first field must be action=NAME";
    return std::nullopt;
  }
  Request req;
  req.action = *action;
  if (*action == "ping") {
    if (fields.items.size() != 1 && !(fields.items.size() == 2 && fields.find("as") != nullptr)) {
      *error = "ping takes no fields";
      return std::nullopt;
    }
    req.ping = true;
    req.summary = "ping";
    return req;
  }
  const auto& specs = action_specs();
  const auto spec = std::find_if(specs.begin(), specs.end(), [&](const ActionSpec& s) { return s.name == *action; });
  if (spec == specs.end()) {
    std::string names = "ping";
    for (const auto& s : specs) names += fmt::format(", {}", s.name);
    *error = fmt::format("unknown action '{}' (known: {})", action->substr(0, 40), names);
    return std::nullopt;
  }
  for (const auto& [k, v] : fields.items) {
    if (k == "action" || k == "as") continue;
    const bool known = std::find(spec->required.begin(), spec->required.end(), k) != spec->required.end() ||
                       std::find(spec->optional.begin(), spec->optional.end(), k) != spec->optional.end();
    if (!known) {
      *error = fmt::format("{} takes no field '{}'", spec->name, k);
      return std::nullopt;
    }
  }
  for (const auto k : spec->required) {
    if (fields.find(k) == nullptr) {
      *error = fmt::format("{} needs {}=", spec->name, k);
      return std::nullopt;
    }
  }

  exchange::Command& c = req.command;
  c = exchange::Command{};
  c.kind = spec->kind;
  // Who asks.
  if (const std::string* as = fields.find("as")) {
    c.party = rules.find_party(*as);
    if (c.party == rules::kNone) {
      *error = fmt::format("unknown party '{}' (as=)", as->substr(0, 64));
      return std::nullopt;
    }
  } else if (default_party != rules::kNone) {
    assert(default_party < rules.parties.size());
    c.party = default_party;
  } else {
    *error = "as=PARTY is required (who asks)";
    return std::nullopt;
  }

  auto party_field = [&](std::string_view key, rules::PartyIndex& out) {
    const std::string& id = *fields.find(key);
    out = rules.find_party(id);
    if (out == rules::kNone) *error = fmt::format("unknown party '{}' ({}=)", id.substr(0, 64), key);
    return out != rules::kNone;
  };
  auto instrument_field = [&](bool required) {
    const std::string* sym = fields.find("instrument");
    if (sym == nullptr) {
      assert(!required);
      c.instrument = rules::kNone;
      return true;
    }
    c.instrument = rules.find_instrument(*sym);
    if (c.instrument == rules::kNone) *error = fmt::format("unknown instrument '{}'", sym->substr(0, 64));
    return c.instrument != rules::kNone;
  };
  auto number_field = [&](std::string_view key, std::int64_t max, std::int64_t& out) {
    const auto v = parse_uint(*fields.find(key), max);
    if (!v) {
      *error = fmt::format("{}= must be a decimal integer 0..{}", key, max);
      return false;
    }
    out = *v;
    return true;
  };

  switch (spec->kind) {
    case CommandKind::deposit:
    case CommandKind::withdraw: {
      if (!party_field("party", c.target) || !number_field("fen", rules::kMaxCashFen, c.qty)) return std::nullopt;
      req.summary = spec->kind == CommandKind::deposit
                        ? fmt::format("deposit {} yuan to {}", format_yuan_grouped(c.qty), rules.parties[c.target].id)
                        : fmt::format("withdraw {} yuan from {}", format_yuan_grouped(c.qty),
                                      rules.parties[c.target].id);
      break;
    }
    case CommandKind::issue:
    case CommandKind::retire: {
      if (!party_field("party", c.target) || !instrument_field(true) ||
          !number_field("qty", rules::kMaxQty, c.qty)) {
        return std::nullopt;
      }
      req.summary = fmt::format("{} {} {} of {} {} {}", spec->name, format_grouped(c.qty), unit_of(rules, c.instrument),
                                rules.instruments[c.instrument].symbol,
                                spec->kind == CommandKind::issue ? "to" : "from", rules.parties[c.target].id);
      break;
    }
    case CommandKind::grant: {
      if (!party_field("fund", c.target) || !party_field("city", c.counterparty) ||
          !number_field("fen", rules::kMaxCashFen, c.qty)) {
        return std::nullopt;
      }
      req.summary = fmt::format("grant {} yuan from {} to {}", format_yuan_grouped(c.qty), rules.parties[c.target].id,
                                rules.parties[c.counterparty].id);
      break;
    }
    case CommandKind::halt: {
      if (!instrument_field(true)) return std::nullopt;
      if (const std::string* co = fields.find("cancel_orders")) {
        if (*co != "0" && *co != "1") {
          *error = "cancel_orders= must be 0 or 1";
          return std::nullopt;
        }
        c.post_only = *co == "1" ? 1 : 0;
      }
      req.summary = fmt::format("halt {}{}", rules.instruments[c.instrument].symbol,
                                c.post_only != 0 ? " and cancel its resting orders" : "");
      break;
    }
    case CommandKind::resume: {
      if (!instrument_field(true)) return std::nullopt;
      req.summary = fmt::format("resume {}", rules.instruments[c.instrument].symbol);
      break;
    }
    case CommandKind::set_reference: {
      if (!instrument_field(true) || !number_field("price_fen", rules::kMaxPriceFen, c.price_fen)) return std::nullopt;
      req.summary = fmt::format("set the reference price of {} to {} yuan", rules.instruments[c.instrument].symbol,
                                format_yuan_grouped(c.price_fen));
      break;
    }
    case CommandKind::session_open:
    case CommandKind::session_close: {
      if (!instrument_field(false)) return std::nullopt;
      const std::string what =
          c.instrument == rules::kNone ? std::string("every instrument") : rules.instruments[c.instrument].symbol;
      req.summary = spec->kind == CommandKind::session_open ? fmt::format("open {} now", what)
                                                            : fmt::format("end the trading day of {} now", what);
      break;
    }
    default:
      assert(false && "action table holds only admin kinds");
      *error = "internal: unexpected command kind";
      return std::nullopt;
  }
  return req;
}

Fields reply_for(const Request& request, const exchange::Event& event, const rules::MarketRules& rules) {
  assert(event.kind == exchange::EventKind::admin_done || event.kind == exchange::EventKind::admin_rejected);
  const bool done = event.kind == exchange::EventKind::admin_done;
  Fields f;
  f.add("status", done ? "done" : "rejected");
  f.add("action", request.action);
  f.add("seq", std::to_string(event.seq));
  f.add("ts_ns", std::to_string(event.ts_ns));
  const rules::PartyIndex as = request.command.party;
  f.add("as", as < rules.parties.size() ? rules.parties[as].id : std::string("?"));
  if (!done) f.add("reason", exchange::reject_text(event.reject_source, event.reject_code));
  f.add("message", request.summary);
  return f;
}

Fields error_reply(std::string_view reason) {
  Fields f;
  f.add("status", "error");
  f.add("reason", std::string(reason));
  return f;
}

}  // namespace admin

// ================================================================ server

namespace {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
using boost::system::error_code;

constexpr std::uint64_t kUserRefTag = 0xAD31'0000'0000'0000ull;  // marks the admin server's commands
constexpr std::size_t kSubscriptionCapacity = 1u << 12;  // events of the asking party per request
constexpr auto kPollInterval = std::chrono::microseconds(200);
constexpr auto kBusyRetry = std::chrono::milliseconds(1);

std::string errno_text(int e) { return std::strerror(e); }

// The directory the socket lives in must be ours and not writable by others
// (who could otherwise replace the socket with their own).
void check_directory(const std::filesystem::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    throw AdminError(fmt::format("admin socket: cannot stat directory {}: {}; create it first", dir.string(),
                                 errno_text(errno)));
  }
  if (!S_ISDIR(st.st_mode)) throw AdminError(fmt::format("admin socket: {} is not a directory", dir.string()));
  if (st.st_uid != ::geteuid()) {
    throw AdminError(fmt::format("admin socket: directory {} is owned by uid {}, not by this user (uid {}); run as "
                                 "its owner or use another data directory",
                                 dir.string(), st.st_uid, ::geteuid()));
  }
  if ((st.st_mode & S_IWOTH) != 0 && (st.st_mode & S_ISVTX) == 0) {
    throw AdminError(fmt::format("admin socket: directory {} is writable by every user; chmod o-w it",
                                 dir.string()));
  }
}

void check_path_length(const std::filesystem::path& p) {
  sockaddr_un addr{};
  if (p.native().size() >= sizeof(addr.sun_path)) {
    throw AdminError(fmt::format("admin socket: path {} is {} bytes, longer than a Unix socket path may be ({}); "
                                 "use a shorter data directory path",
                                 p.string(), p.native().size(), sizeof(addr.sun_path) - 1));
  }
}

// A socket file already at `p`: remove it if stale, refuse if someone answers.
void clear_stale_socket(const std::filesystem::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw AdminError(fmt::format("admin socket: cannot stat {}: {}", p.string(), errno_text(errno)));
  }
  if (!S_ISSOCK(st.st_mode)) {
    throw AdminError(
        fmt::format("admin socket: {} exists and is not a socket; move it away and start again", p.string()));
  }
  asio::io_context io;
  local::socket probe(io);
  error_code ec;
  probe.connect(local::endpoint(p.string()), ec);
  if (!ec) {
    throw AdminError(fmt::format("admin socket: a server already answers on {}: is another `haihe serve` running "
                                 "on this data directory?",
                                 p.string()));
  }
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
    throw AdminError(fmt::format("admin socket: cannot remove stale socket {}: {}", p.string(), errno_text(errno)));
  }
}

}  // namespace

struct AdminServer::Impl {
  struct Connection;

  Impl(exchange::Core& c, std::filesystem::path p, rules::PartyIndex d)
      : core(c), rules(c.rules()), path(std::move(p)), default_party(d) {}

  exchange::Core& core;
  const rules::MarketRules& rules;
  std::filesystem::path path;
  rules::PartyIndex default_party;

  asio::io_context io;
  std::optional<local::acceptor> acceptor;
  asio::steady_timer accept_retry{io};
  std::set<std::shared_ptr<Connection>> connections;  // io thread only
  std::thread thread;
  std::uint64_t next_ref = 1;  // io thread only
  bool started = false;
  bool stopped = false;
  bool closing = false;  // io thread only
  dev_t socket_dev = 0;
  ino_t socket_ino = 0;

  struct Connection : std::enable_shared_from_this<Connection> {
    Connection(Impl& s, local::socket sock)
        : server(s), socket(std::move(sock)), in(admin::kMaxLineBytes + 2), idle(s.io), poll_timer(s.io) {}
    Impl& server;
    local::socket socket;
    asio::streambuf in;
    asio::steady_timer idle;
    asio::steady_timer poll_timer;
    std::string out;
    // The request in flight.
    std::optional<admin::Request> request;
    std::shared_ptr<exchange::Subscription> subscription;
    std::chrono::steady_clock::time_point deadline{};
    bool submitted = false;

    void close() {
      error_code ignored;
      socket.close(ignored);
      idle.cancel();
      poll_timer.cancel();
      subscription.reset();
      server.connections.erase(shared_from_this());
    }

    void read_next() {
      if (server.closing) return;
      idle.expires_after(kIdleTimeout);
      idle.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->close();
      });
      asio::async_read_until(socket, in, '\n', [self = shared_from_this()](const error_code& ec, std::size_t n) {
        self->on_line(ec, n);
      });
    }

    void on_line(const error_code& ec, std::size_t n) {
      idle.cancel();
      if (server.closing) return;
      if (ec == asio::error::not_found) {
        reply(admin::error_reply(fmt::format("line longer than {} bytes", admin::kMaxLineBytes)), true);
        return;
      }
      if (ec) {
        close();
        return;
      }
      std::string line(n, '\0');
      std::istream is(&in);
      is.read(line.data(), static_cast<std::streamsize>(n));
      assert(!line.empty() && line.back() == '\n');
      line.pop_back();
      handle(line);
    }

    void handle(const std::string& line) {
      std::string error;
      const auto fields = admin::parse_line(line, &error);
      if (!fields) {
        reply(admin::error_reply(error), false);
        return;
      }
      auto req = admin::translate(*fields, server.rules, server.default_party, &error);
      if (!req) {
        reply(admin::error_reply(error), false);
        return;
      }
      if (req->ping) {
        admin::Fields f;
        f.add("status", "done").add("action", "ping").add("message", "pong");
        reply(f, false);
        return;
      }
      request = std::move(*req);
      request->command.user_ref = kUserRefTag | server.next_ref++;
      // Subscribe before submitting: the subscription sees every batch
      // committed after this call, so it sees our command's.
      subscription = server.core.subscribe(exchange::Audience::party, request->command.party, kSubscriptionCapacity);
      deadline = std::chrono::steady_clock::now() + kResultTimeout;
      submitted = false;
      step();
    }

    // Submits (retrying while the queue is busy), then polls for the result.
    void step() {
      if (server.closing) return;
      assert(request.has_value());
      const auto now = std::chrono::steady_clock::now();
      if (!submitted) {
        const auto r = server.core.submit(request->command);
        if (r == exchange::SubmitResult::ok) {
          submitted = true;
        } else if (r == exchange::SubmitResult::busy && now < deadline) {
          wait_then_step(kBusyRetry);
          return;
        } else {
          finish(admin::error_reply(fmt::format("the exchange did not take the command: {}; nothing was applied",
                                                exchange::to_string(r))));
          return;
        }
      }
      exchange::Event ev;
      while (subscription->poll(ev)) {
        if ((ev.kind == exchange::EventKind::admin_done || ev.kind == exchange::EventKind::admin_rejected) &&
            ev.user_ref == request->command.user_ref) {
          finish(admin::reply_for(*request, ev, server.rules));
          return;
        }
      }
      if (subscription->cut_off()) {
        finish(admin::error_reply("lost the result (event stream cut off: " + subscription->cut_off_reason() +
                                  "); the command was submitted: check the journal (haihe audit report)"));
        return;
      }
      if (now >= deadline) {
        finish(admin::error_reply("no result within the timeout; the command was submitted and may still be "
                                  "applied: check the journal (haihe audit report)"));
        return;
      }
      wait_then_step(kPollInterval);
    }

    void wait_then_step(std::chrono::steady_clock::duration d) {
      poll_timer.expires_after(d);
      poll_timer.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec) self->step();
      });
    }

    void finish(const admin::Fields& f) {
      const std::string* status = f.find("status");
      fmt::print(stderr, "admin: {} {}: {}{}\n",
                 request->command.party < server.rules.parties.size() ? server.rules.parties[request->command.party].id
                                                                      : std::string("?"),
                 request->summary, status != nullptr ? *status : "?",
                 f.find("reason") != nullptr ? " (" + *f.find("reason") + ")" : std::string());
      request.reset();
      subscription.reset();
      reply(f, false);
    }

    void reply(const admin::Fields& f, bool close_after) {
      out = admin::format_line(f);
      out += '\n';
      asio::async_write(socket, asio::buffer(out),
                        [self = shared_from_this(), close_after](const error_code& ec, std::size_t) {
                          if (ec || close_after) {
                            self->close();
                          } else {
                            self->read_next();
                          }
                        });
    }
  };

  void accept_next() {
    acceptor->async_accept([this](const error_code& ec, local::socket sock) {
      if (closing) return;
      if (ec) {
        // E.g. out of file descriptors: try again shortly, without spinning.
        accept_retry.expires_after(std::chrono::milliseconds(10));
        accept_retry.async_wait([this](const error_code& e) {
          if (!e && !closing) accept_next();
        });
        return;
      }
      {
        auto conn = std::make_shared<Connection>(*this, std::move(sock));
        if (connections.size() >= kMaxConnections) {
          // Answer and close: bounded connections.
          connections.insert(conn);
          conn->reply(admin::error_reply(fmt::format("too many admin connections (at most {})", kMaxConnections)),
                      true);
        } else {
          connections.insert(conn);
          conn->read_next();
        }
      }
      accept_next();
    });
  }

  void shutdown_all() {
    closing = true;
    error_code ignored;
    accept_retry.cancel();
    if (acceptor) acceptor->close(ignored);
    const auto copy = connections;
    for (const auto& c : copy) c->close();
    assert(connections.empty());
  }
};

AdminServer::AdminServer(exchange::Core& core, std::filesystem::path socket_path, rules::PartyIndex default_party)
    : impl_(std::make_unique<Impl>(core, std::move(socket_path), default_party)) {
  assert(default_party == rules::kNone || default_party < impl_->rules.parties.size());
}

AdminServer::~AdminServer() { stop(); }

const std::filesystem::path& AdminServer::socket_path() const { return impl_->path; }

void AdminServer::start() {
  Impl& s = *impl_;
  assert(!s.started && "start() once");
  s.started = true;
  if (s.path.empty() || s.path.filename().empty()) throw AdminError("admin socket: empty socket path");
  const std::filesystem::path dir = s.path.has_parent_path() ? s.path.parent_path() : std::filesystem::path(".");
  check_directory(dir);
  check_path_length(s.path);
  clear_stale_socket(s.path);

  // Bind in a private directory, narrow the mode, then rename into place.
  std::string tmpl = (dir / ".admXXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw AdminError(fmt::format("admin socket: cannot create a temporary directory in {}: {}", dir.string(),
                                 errno_text(errno)));
  }
  const std::filesystem::path tmp_dir = tmpl;
  const std::filesystem::path tmp_sock = tmp_dir / "s";
  auto cleanup_tmp = [&] {
    ::unlink(tmp_sock.c_str());
    ::rmdir(tmp_dir.c_str());
  };
  try {
    check_path_length(tmp_sock);
    s.acceptor.emplace(s.io);
    s.acceptor->open(local());
    s.acceptor->bind(local::endpoint(tmp_sock.string()));
    s.acceptor->listen(static_cast<int>(kMaxConnections));
    if (::chmod(tmp_sock.c_str(), 0600) != 0) {
      throw AdminError(fmt::format("admin socket: chmod 0600 {}: {}", tmp_sock.string(), errno_text(errno)));
    }
    if (::rename(tmp_sock.c_str(), s.path.c_str()) != 0) {
      throw AdminError(fmt::format("admin socket: cannot move the socket to {}: {}", s.path.string(),
                                   errno_text(errno)));
    }
  } catch (const boost::system::system_error& e) {
    cleanup_tmp();
    throw AdminError(fmt::format("admin socket: cannot listen on {}: {}", s.path.string(), e.what()));
  } catch (...) {
    cleanup_tmp();
    throw;
  }
  cleanup_tmp();
  struct stat st {};
  if (::lstat(s.path.c_str(), &st) == 0) {
    s.socket_dev = st.st_dev;
    s.socket_ino = st.st_ino;
  }
  s.accept_next();
  s.thread = std::thread([&s] { s.io.run(); });
}

void AdminServer::stop() {
  Impl& s = *impl_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  asio::post(s.io, [&s] { s.shutdown_all(); });
  if (s.thread.joinable()) s.thread.join();
  s.acceptor.reset();
  // Remove the socket file if it is still ours.
  struct stat st {};
  if (::lstat(s.path.c_str(), &st) == 0 && st.st_dev == s.socket_dev && st.st_ino == s.socket_ino) {
    ::unlink(s.path.c_str());
  }
}

}  // namespace haihe::gateway
