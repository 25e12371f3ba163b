#include "gateway/gateway.h"

#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gateway/codes.h"
#include "gateway/dictionary.h"
#include "gateway/fast_store.h"
#include "gateway/passwords.h"
#include "gateway/quickfix.h"
#include "gateway/throttle.h"
#include "gateway/translate.h"

namespace haihe::gateway {

namespace {

using exchange::Event;
using exchange::EventKind;
using exchange::InstrumentIndex;
using exchange::Seq;
using rules::kNone;

// ---------------------------------------------------------------- formatting

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

/// UTCTimestamp "YYYYMMDD-HH:MM:SS.sss" (the calendar from exchange::local_time).
std::string fix_time(std::int64_t ts_ns) {
  const auto lt = exchange::local_time(ts_ns, 0);
  const std::int64_t ms_total = floor_div(ts_ns, 1'000'000);
  const std::int64_t ms_of_minute = ms_total - floor_div(ms_total, 60'000) * 60'000;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%08u-%02u:%02u:%02lld.%03lld", lt.date, lt.minute / 60, lt.minute % 60,
                static_cast<long long>(ms_of_minute / 1000), static_cast<long long>(ms_of_minute % 1000));
  return buf;
}

/// LocalMktDate "YYYYMMDD" of a timestamp at the market's UTC offset.
std::string local_date(std::int64_t ts_ns, std::int32_t utc_offset_min) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08u", exchange::local_time(ts_ns, utc_offset_min).date);
  return buf;
}

std::string cl_text(const exchange::ClOrdId& id) {
  return std::string(id.chars.data(), strnlen(id.chars.data(), id.chars.size()));
}

std::string i2s(std::int64_t v) { return std::to_string(v); }

const char* side_char(exchange::Side s) { return s == exchange::Side::buy ? "1" : "2"; }

const char* tif_char(exchange::TimeInForce t) {
  switch (t) {
    case exchange::TimeInForce::day: return "0";
    case exchange::TimeInForce::gtc: return "1";
    case exchange::TimeInForce::gtd: return "6";
    case exchange::TimeInForce::ioc: return "3";
    case exchange::TimeInForce::fok: return "4";
  }
  return "0";
}

/// OrdStatus of a live or finished order from its quantities.
const char* ord_status(const Event& e) {
  if (e.leaves_qty > 0) return e.cum_qty > 0 ? "1" : "0";
  if (e.cum_qty >= e.order_qty && e.order_qty > 0) return "2";
  return "4";
}

FIX::Message new_message(const char* type) {
  FIX::Message m;
  m.getHeader().setField(FIX::FIELD::MsgType, type);
  return m;
}

void set(FIX::FieldMap& m, int tag, const std::string& v) { m.setField(tag, v); }

// Tag orders of the repeating groups (the delimiter first), 0-terminated.
constexpr int kMdFullOrder[] = {269, 270, 271, 0};
constexpr int kMdIncOrder[] = {279, 269, 55, 270, 271, 880, 20040, 0};
constexpr int kSidesOrder[] = {54, 37, 1, 12, 13, 0};
constexpr int kSecListOrder[] = {55,   107,   20010, 20001, 969,   561,   20009, 20012,
                                 20008, 20007, 20006, 20011, 20002, 20003, 20004, 20005, 0};
constexpr int kPositionsOrder[] = {703, 704, 0};
constexpr int kPosAmtOrder[] = {707, 708, 0};

// ---------------------------------------------------------------- fix-sent

/// Per party: every event with seq < `seq` was handed to QuickFIX, and the
/// first `count` events of `seq`.
struct SentMark {
  std::uint64_t seq = 0;
  std::uint64_t count = 0;
};

class SentFile {
 public:
  static constexpr char kMagic[8] = {'H', 'A', 'I', 'H', 'E', 'F', 'S', '1'};

  SentFile(const std::filesystem::path& path, std::size_t parties, Seq last_seq) : marks_(parties) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw GatewayError(path.string() + ": " + std::strerror(errno));
    char magic[8] = {};
    const bool fresh = ::pread(fd_, magic, sizeof magic, 0) != static_cast<ssize_t>(sizeof magic) ||
                       std::memcmp(magic, kMagic, sizeof magic) != 0;
    // A new file (or a party the file does not know yet): nothing pending.
    for (std::size_t p = 0; p < parties; ++p) {
      SentMark m{last_seq + 1, 0};
      if (!fresh) {
        SentMark stored;
        if (::pread(fd_, &stored, sizeof stored, offset(p)) == static_cast<ssize_t>(sizeof stored) &&
            stored.seq != 0) {
          m = stored;
        }
      }
      marks_[p] = m;
    }
    if (fresh) {
      if (::pwrite(fd_, kMagic, sizeof kMagic, 0) != static_cast<ssize_t>(sizeof kMagic)) {
        throw GatewayError(path.string() + ": cannot write");
      }
      for (std::size_t p = 0; p < parties; ++p) write(p);
    }
  }
  ~SentFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  SentFile(const SentFile&) = delete;
  SentFile& operator=(const SentFile&) = delete;

  const SentMark& get(std::size_t p) const { return marks_[p]; }
  void set(std::size_t p, SentMark m) { marks_[p] = m; }
  void write(std::size_t p) {
    const auto n = ::pwrite(fd_, &marks_[p], sizeof(SentMark), offset(p));
    if (n != static_cast<ssize_t>(sizeof(SentMark))) {
      std::fprintf(stderr, "gateway: cannot record fix-sent for party %zu: %s\n", p, std::strerror(errno));
    }
  }
  void sync() { ::fdatasync(fd_); }

 private:
  static off_t offset(std::size_t p) { return static_cast<off_t>(sizeof kMagic + p * sizeof(SentMark)); }
  int fd_ = -1;
  std::vector<SentMark> marks_;
};

// ---------------------------------------------------------------- logs

/// Session events (logons, logouts, resends, rejects) to stderr; never the
/// messages themselves, never a password.
class EventLog final : public FIX::Log {
 public:
  explicit EventLog(std::string prefix) : prefix_(std::move(prefix)) {}
  void clear() override {}
  void backup() override {}
  void onIncoming(const std::string&) override {}
  void onOutgoing(const std::string&) override {}
  void onEvent(const std::string& text) override {
    if (text.rfind("Session not found for incoming message", 0) == 0) {
      // Name the CompID only: the message may carry a password.
      std::string comp = "?";
      const auto at = text.find("\x01" "49=");
      if (at != std::string::npos) {
        const auto end = text.find('\x01', at + 4);
        comp = text.substr(at + 4, end == std::string::npos ? std::string::npos : end - at - 4);
      }
      std::fprintf(stderr, "fix: refused: unknown CompID '%s' (no such session)\n", comp.c_str());
      return;
    }
    // Routine chatter is left out to keep the hot path quiet.
    if (text.rfind("Created session", 0) == 0 || text.rfind("Sent ", 0) == 0 ||
        (text.rfind("Received ", 0) == 0 && text.find("Logon") == std::string::npos &&
         text.find("Logout") == std::string::npos)) {
      return;
    }
    std::fprintf(stderr, "fix%s: %s\n", prefix_.c_str(), text.c_str());
  }

 private:
  std::string prefix_;
};

class EventLogFactory final : public FIX::LogFactory {
 public:
  FIX::Log* create() override { return new EventLog(""); }
  FIX::Log* create(const FIX::SessionID& id) override { return new EventLog(" " + id.getTargetCompID().getValue()); }
  void destroy(FIX::Log* log) override { delete log; }
};

}  // namespace

// ================================================================ the gateway

class GatewayImpl final : public FIX::Application {
 public:
  GatewayImpl(exchange::Core& core, GatewayOptions options)
      : core_(core), rules_(core.rules()), options_(std::move(options)) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(options_.data_dir, ec);
    fs::create_directories(options_.data_dir / "fix-store", ec);
    if (ec) throw GatewayError(options_.data_dir.string() + ": " + ec.message());
    // The dictionary, from the binary (works from any directory).
    const auto dict_path = options_.data_dir / "haihe-fix44.xml";
    {
      std::ofstream out(dict_path, std::ios::binary | std::ios::trunc);
      const auto xml = dictionary_xml();
      out.write(xml.data(), static_cast<std::streamsize>(xml.size()));
      if (!out) throw GatewayError(dict_path.string() + ": cannot write the FIX dictionary");
    }
    try {
      passwords_ = PasswordFile::load(options_.data_dir / "fix-passwords");
    } catch (const PasswordFileError& e) {
      throw GatewayError(e.what());
    }

    const std::size_t n = rules_.parties.size();
    parties_.resize(n);
    for (PartyIndex p = 0; p < n; ++p) {
      const auto& party = rules_.parties[p];
      auto& ps = parties_[p];
      ps = std::make_unique<PartyState>();
      if (party.fix_comp_id.empty()) continue;
      ps->has_session = true;
      ps->regulator = party.kind == rules::PartyKind::regulator;
      ps->sid = FIX::SessionID("FIX.4.4", options_.comp_id, party.fix_comp_id);
      ps->throttle.reset(party.max_msgs_per_s);
      by_comp_id_.emplace(party.fix_comp_id, p);
      ++session_count_;
      if (passwords_.has(party.id)) ++passwords_count_;
      if (ps->regulator) regulators_.push_back(p);
    }
    if (session_count_ == 0) throw GatewayError("the rules give no party a fix_comp_id: nobody could log on");

    // Instrument state known before the core runs; kept current from the stream.
    instruments_ = std::vector<InstrumentState>(rules_.instruments.size());
    for (InstrumentIndex i = 0; i < rules_.instruments.size(); ++i) {
      const auto& ins = rules_.instruments[i];
      auto& st = instruments_[i];
      st.state.store(static_cast<std::uint8_t>(core_.state(i)));
      const Fen ref = core_.reference_fen(i).value_or(ins.reference_fen);
      st.reference_fen.store(ref);
      Fen lo = ins.floor_fen, hi = ins.ceiling_fen;
      if (ins.band_bps != 0) {
        const Fen d = ref * static_cast<Fen>(ins.band_bps) / static_cast<Fen>(rules::kBpsDenominator);
        lo = std::max(lo, ref - d);
        hi = std::min(hi, ref + d);
      }
      st.band_low_fen.store(lo);
      st.band_high_fen.store(hi);
    }

    // The one ordered stream (see the header). Subscribed before start():
    // it sees every batch committed from now on; the stored ones are read below.
    stream_ = core_.subscribe(exchange::Audience::regulator, kNone, options_.stream_capacity);

    user_ref_.store(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count()));

    build_acceptors();
    sent_ = std::make_unique<SentFile>(options_.data_dir / "fix-sent", n, core_.last_seq());
    recover();
  }

  ~GatewayImpl() override {
    try {
      stop_accepting();
      stop();
    } catch (...) {
    }
  }

  void start() {
    running_.store(true);
    publisher_ = std::thread([this] { publish_loop(); });
    try {
      if (acceptor_) acceptor_->start();
      if (tls_acceptor_) tls_acceptor_->start();
    } catch (const std::exception& e) {
      throw GatewayError(std::string("cannot start the FIX acceptor: ") + e.what());
    }
  }

  void stop_accepting() {
    accepting_.store(false);
    if (tls_acceptor_) tls_acceptor_->stop();
    if (acceptor_) acceptor_->stop();
  }

  void stop() {
    if (publisher_.joinable()) {
      draining_.store(true);
      running_.store(false);
      publisher_.join();
    }
    if (sent_) {
      // Everything the core committed has been handed over: nothing pending.
      const Seq last = core_.last_seq();
      for (PartyIndex p = 0; p < parties_.size(); ++p) {
        if (!parties_[p]->has_session) continue;
        const auto m = sent_->get(p);
        if (m.seq <= last) {
          sent_->set(p, SentMark{last + 1, 0});
          sent_->write(p);
        }
      }
      sent_->sync();
    }
  }

  GatewayStats stats() const {
    GatewayStats s;
    s.submitted = submitted_.load(std::memory_order_relaxed);
    s.rejected = rejected_.load(std::memory_order_relaxed);
    s.throttled = throttled_.load(std::memory_order_relaxed);
    s.busy = busy_.load(std::memory_order_relaxed);
    s.events = events_.load(std::memory_order_relaxed);
    s.sent = sent_count_.load(std::memory_order_relaxed);
    s.recovered = recovered_;
    return s;
  }
  std::uint64_t recovered_events() const { return recovered_; }
  std::size_t sessions() const { return session_count_; }
  std::size_t passwords_set() const { return passwords_count_; }

  // ------------------------------------------------------------ QuickFIX callbacks

  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID& sid) override {
    const PartyIndex p = party_of(sid);
    if (p != kNone) std::fprintf(stderr, "fix: %s logged on\n", rules_.parties[p].id.c_str());
  }
  void onLogout(const FIX::SessionID& sid) override {
    const PartyIndex p = party_of(sid);
    if (p == kNone) return;
    std::lock_guard lock(md_mutex_);
    for (auto it = md_subs_.begin(); it != md_subs_.end();) {
      it = it->second.party == p ? md_subs_.erase(it) : std::next(it);
    }
    md_count_.store(md_subs_.size());
  }
  void toAdmin(FIX::Message&, const FIX::SessionID&) override {}
  void toApp(FIX::Message&, const FIX::SessionID&) override {}

  void fromAdmin(const FIX::Message& msg, const FIX::SessionID& sid) override {
    if (msg.getHeader().getField(FIX::FIELD::MsgType) != "A") return;
    const PartyIndex p = party_of(sid);
    if (p == kNone) throw FIX::RejectLogon("logon refused: unknown CompID");
    if (!msg.isSetField(553) || !msg.isSetField(554)) {
      throw FIX::RejectLogon("logon refused: Username (553) and Password (554) are required");
    }
    const std::string& user = msg.getField(553);
    const std::string& password = msg.getField(554);
    const auto& party = rules_.parties[p];
    if (!passwords_.has(party.id)) {
      std::fprintf(stderr, "fix: %s: logon refused: no password set\n", party.id.c_str());
      throw FIX::RejectLogon("logon refused: no password set for this party (haihe passwd)");
    }
    if (user != party.id || passwords_.check(party.id, password) != PasswordCheck::ok) {
      std::fprintf(stderr, "fix: %s: logon refused: wrong username or password\n", party.id.c_str());
      throw FIX::RejectLogon("logon refused: wrong username or password");
    }
  }

  void fromApp(const FIX::Message& msg, const FIX::SessionID& sid) override {
    const PartyIndex p = party_of(sid);
    if (p == kNone) return;  // cannot happen: every session is a party's
    const std::string& type = msg.getHeader().getField(FIX::FIELD::MsgType);
    PartyState& ps = *parties_[p];
    {
      const auto now = std::chrono::steady_clock::now().time_since_epoch();
      std::lock_guard lock(ps.mutex);
      if (!ps.throttle.allow(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count())) {
        throttled_.fetch_add(1, std::memory_order_relaxed);
        return refuse_generic(msg, sid, type, "throttle exceeded", kBizOther, kOrdRejOther, kCxlRejOther);
      }
    }
    if (!accepting_.load(std::memory_order_relaxed)) {
      return refuse_generic(msg, sid, type, "exchange stopping", kBizNotAvailable, kOrdRejOther, kCxlRejOther);
    }
    if (type == "V") return market_data_request(msg, sid, p);
    if (type == "x") return security_list(msg, sid);
    if (type == "D" || type == "F" || type == "G" || type == "H" || type == "q" || type == "AN" || type == "AF") {
      return order_entry(msg, sid, p, type);
    }
    throw FIX::UnsupportedMessageType();  // QuickFIX answers j, 380=3
  }

 private:
  struct PartyState {
    std::mutex mutex;  // throttle (one connection at a time, but plain and TLS may race on logon)
    Throttle throttle;
    FIX::SessionID sid;
    bool has_session = false;
    bool regulator = false;
    // Publisher-only state.
    Seq cur_seq = 0;               // the seq of the last event handed over
    std::uint64_t cur_count = 0;   // how many of this party's events of cur_seq
    bool dirty = false;            // fix-sent to write after this batch
    std::vector<Event> positions;  // position events awaiting their cash event
    // OrderMassStatusRequest (AF): the order_status events of the answer being
    // collected (with their ExecIDs) until its is_last, so that every report
    // can carry TotNumReports (911). Bounded by the party's resting orders,
    // which the engine's pools bound.
    std::uint64_t mass_ref = 0;
    std::vector<std::pair<Event, std::string>> mass;
  };

  // What a report of a mass status answer carries besides the order.
  struct MassReport {
    const std::string* req_id = nullptr;  // MassStatusReqID (584)
    std::size_t total = 0;                // TotNumReports (911)
    bool last = false;                    // LastRptRequested (912)
  };

  struct InstrumentState {
    std::atomic<std::uint8_t> state{0};
    std::atomic<Fen> reference_fen{0};
    std::atomic<Fen> band_low_fen{0};
    std::atomic<Fen> band_high_fen{0};
  };

  struct MdSub {
    PartyIndex party = kNone;
    FIX::SessionID sid;
    std::string req_id;
    InstrumentIndex instrument = kNone;
    int depth = 0;
    bool bids = true, offers = true, trades = true;
    bool updates = false;  // 263=1
    bool live = false;     // snapshot sent; incrementals flow
    Seq snapshot_seq = 0;
    std::vector<Event> levels;  // snapshot being assembled
  };

  // What the publisher needs to remember of a request (user_ref -> texts).
  struct Pending {
    std::string cl_ord_id;  // F: the cancel request's ClOrdID
    std::string req_id;     // H: OrdStatusReqID; AN: PosReqID; AF: MassStatusReqID
    bool mass_status = false;  // AF: the order_status events are one mass status answer
  };

  PartyIndex party_of(const FIX::SessionID& sid) const {
    const auto it = by_comp_id_.find(sid.getTargetCompID().getValue());
    return it == by_comp_id_.end() ? kNone : it->second;
  }

  // ------------------------------------------------------------ acceptors

  void build_acceptors() {
    namespace fs = std::filesystem;
    const auto base = [&](std::uint16_t port) {
      FIX::Dictionary d;
      d.setString("ConnectionType", "acceptor");
      d.setString("SocketAcceptPort", std::to_string(port));
      d.setString("SocketReuseAddress", "Y");
      d.setString("SocketNodelay", "Y");
      d.setString("FileStorePath", (options_.data_dir / "fix-store").string());
      d.setString("FileLogPath", (options_.data_dir / "fix-log").string());
      d.setString("DataDictionary", (options_.data_dir / "haihe-fix44.xml").string());
      d.setString("UseDataDictionary", "Y");
      d.setString("ValidateUserDefinedFields", "Y");
      d.setString("ValidateFieldsOutOfOrder", "N");
      d.setString("AllowUnknownMsgFields", "N");
      d.setString("StartTime", "00:00:00");
      d.setString("EndTime", "00:00:00");
      d.setString("CheckLatency", "N");
      d.setString("PersistMessages", "Y");
      d.setString("ResetOnLogon", "N");
      d.setString("ResetOnLogout", "N");
      d.setString("ResetOnDisconnect", "N");
      d.setString("TimestampPrecision", "3");
      return d;
    };
    const auto make_settings = [&](std::uint16_t port, bool tls) {
      FIX::SessionSettings s;
      FIX::Dictionary d = base(port);
      if (tls) {
        d.setString("ServerCertificateFile", options_.tls->cert_file.string());
        d.setString("ServerCertificateKeyFile", options_.tls->key_file.string());
        d.setString("CertificateVerifyLevel", "0");
        d.setString("SSLProtocol", "all -SSLv2 -SSLv3 -TLSv1 -TLSv1_1");
      }
      s.set(d);
      for (const auto& ps : parties_) {
        if (ps->has_session) s.set(ps->sid, FIX::Dictionary());
      }
      return s;
    };
    try {
      if (options_.fix_log) {
        std::error_code ec;
        fs::create_directories(options_.data_dir / "fix-log", ec);
      }
      // The plain acceptor owns the sessions (FastStore); the TLS acceptor's
      // connections find the same Session objects (QuickFIX looks sessions up
      // in one process-wide table), so its own copies use a NullStore.
      if (options_.port != 0 || !options_.tls) {
        settings_ = make_settings(options_.port, false);
        log_factory_ = make_log_factory(settings_);
        acceptor_ = std::make_unique<FIX::ThreadedSocketAcceptor>(*this, store_factory(settings_), settings_,
                                                                  *log_factory_);
      }
      if (options_.tls) {
        for (const auto& f : {options_.tls->cert_file, options_.tls->key_file}) {
          if (!fs::is_regular_file(f)) throw GatewayError(f.string() + ": no such certificate or key file");
        }
        tls_settings_ = make_settings(options_.tls->port, true);
        if (!acceptor_) {
          log_factory_ = make_log_factory(tls_settings_);
          tls_acceptor_ = std::make_unique<FIX::ThreadedSSLSocketAcceptor>(*this, store_factory(tls_settings_),
                                                                           tls_settings_, *log_factory_);
        } else {
          null_store_factory_ = std::make_unique<FIX::NullStoreFactory>();
          tls_acceptor_ = std::make_unique<FIX::ThreadedSSLSocketAcceptor>(*this, *null_store_factory_,
                                                                           tls_settings_, *log_factory_);
        }
      }
    } catch (const GatewayError&) {
      throw;
    } catch (const std::exception& e) {
      throw GatewayError(std::string("FIX configuration: ") + e.what());
    }
  }

  std::unique_ptr<FIX::LogFactory> make_log_factory(const FIX::SessionSettings& s) {
    if (options_.fix_log) return std::make_unique<FIX::FileLogFactory>(s);
    return std::make_unique<EventLogFactory>();
  }

  // The sessions' store: FastStore (gateway/fast_store.h) in DATA/fix-store/,
  // one write per stored message instead of FileStore's stdio round trips.
  FIX::MessageStoreFactory& store_factory(const FIX::SessionSettings& /*settings*/) {
    file_store_factory_ = std::make_unique<FastStoreFactory>(options_.data_dir / "fix-store");
    return *file_store_factory_;
  }

  // ------------------------------------------------------------ inbound

  void send(FIX::Message& m, const FIX::SessionID& sid) {
    try {
      FIX::Session::sendToTarget(m, sid);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fix: cannot send to %s: %s\n", sid.getTargetCompID().getValue().c_str(), e.what());
    }
  }

  static std::string opt(const FIX::FieldMap& m, int tag) { return m.isSetField(tag) ? m.getField(tag) : std::string(); }

  void send_business_reject(const FIX::Message& msg, const FIX::SessionID& sid, int reason, const std::string& text) {
    auto r = new_message("j");
    if (msg.getHeader().isSetField(34)) set(r, 45, msg.getHeader().getField(34));
    set(r, 372, msg.getHeader().getField(FIX::FIELD::MsgType));
    for (int tag : {11, 262, 320, 584, 710, 790}) {
      if (msg.isSetField(tag)) {
        set(r, 379, msg.getField(tag));
        break;
      }
    }
    set(r, 380, i2s(reason));
    set(r, 58, text);
    send(r, sid);
  }

  void send_order_reject(const FIX::Message& msg, const FIX::SessionID& sid, int code, const std::string& text,
                         const char* exec_type) {
    auto r = new_message("8");
    set(r, 37, msg.isSetField(37) ? msg.getField(37) : "NONE");
    std::string exec = "G";  // gateway-made: no core sequence number
    exec += i2s(static_cast<std::int64_t>(next_ref() & 0x7fffffffffffffffull));
    set(r, 17, exec);
    set(r, 150, exec_type);
    set(r, 39, "8");
    set(r, 103, i2s(code));
    for (int tag : {11, 1, 38, 40, 44, 59, 432, 790}) {
      if (msg.isSetField(tag)) set(r, tag, msg.getField(tag));
    }
    set(r, 55, msg.isSetField(55) ? msg.getField(55) : "NONE");
    set(r, 54, msg.isSetField(54) ? msg.getField(54) : "1");
    set(r, 151, "0");
    set(r, 14, "0");
    set(r, 6, "0");
    set(r, 60, fix_time(now_ns()));
    set(r, 58, text);
    send(r, sid);
  }

  void send_cancel_reject(const FIX::Message& msg, const FIX::SessionID& sid, const std::string& type, int code,
                          const std::string& text) {
    auto r = new_message("9");
    set(r, 37, msg.isSetField(37) ? msg.getField(37) : "NONE");
    set(r, 11, msg.isSetField(11) ? msg.getField(11) : "NONE");
    set(r, 41, msg.isSetField(41) ? msg.getField(41) : "NONE");
    set(r, 39, "8");
    if (msg.isSetField(1)) set(r, 1, msg.getField(1));
    set(r, 434, type == "G" ? "2" : "1");
    set(r, 102, i2s(code));
    set(r, 58, text);
    send(r, sid);
  }

  void send_mass_cancel_reject(const FIX::Message& msg, const FIX::SessionID& sid, int code, const std::string& text) {
    auto r = new_message("r");
    if (msg.isSetField(11)) set(r, 11, msg.getField(11));
    set(r, 37, "NONE");
    set(r, 530, msg.isSetField(530) ? msg.getField(530) : "7");
    set(r, 531, "0");
    set(r, 532, i2s(code));
    if (msg.isSetField(55)) set(r, 55, msg.getField(55));
    set(r, 58, text);
    send(r, sid);
  }

  /// A refusal before the core (throttle, busy, stopping) in the answer the message type calls for.
  void refuse_generic(const FIX::Message& msg, const FIX::SessionID& sid, const std::string& type,
                      const std::string& text, int biz, int ord_rej, int cxl_rej) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    if (type == "D") return send_order_reject(msg, sid, ord_rej, text, "8");
    if (type == "F" || type == "G") return send_cancel_reject(msg, sid, type, cxl_rej, text);
    if (type == "q") return send_mass_cancel_reject(msg, sid, 99, text);
    send_business_reject(msg, sid, biz, text);
  }

  void order_entry(const FIX::Message& msg, const FIX::SessionID& sid, PartyIndex p, const std::string& type) {
    Translation t = translate(msg, rules_, p);
    if (!t.ok) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      switch (t.reject.reply) {
        case ReplyKind::execution_report:
          return send_order_reject(msg, sid, t.reject.code, t.reject.text, type == "H" ? "I" : "8");
        case ReplyKind::cancel_reject: return send_cancel_reject(msg, sid, type, t.reject.code, t.reject.text);
        case ReplyKind::mass_cancel_report: return send_mass_cancel_reject(msg, sid, t.reject.code, t.reject.text);
        case ReplyKind::business_reject: return send_business_reject(msg, sid, t.reject.code, t.reject.text);
      }
      return;
    }
    // Requests whose answers need a text the core does not carry.
    std::uint64_t ref = 0;
    if (type == "F" || (type == "H" && msg.isSetField(790)) || type == "AN" || type == "AF") {
      ref = next_ref();
      Pending pending;
      if (type == "F") pending.cl_ord_id = msg.getField(11);
      if (type == "H") pending.req_id = msg.getField(790);
      if (type == "AN") pending.req_id = msg.getField(710);
      if (type == "AF") {
        pending.req_id = msg.getField(584);  // translate() checked it is there
        pending.mass_status = true;
      }
      std::lock_guard lock(pending_mutex_);
      pending_.emplace(ref, std::move(pending));
    }
    t.command.user_ref = ref;
    const auto r = core_.submit(t.command);
    if (r == exchange::SubmitResult::ok) {
      submitted_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (ref != 0) {
      std::lock_guard lock(pending_mutex_);
      pending_.erase(ref);
    }
    if (r == exchange::SubmitResult::busy) {
      busy_.fetch_add(1, std::memory_order_relaxed);
      return refuse_generic(msg, sid, type, "exchange busy, retry", kBizNotAvailable, kOrdRejOther, kCxlRejOther);
    }
    refuse_generic(msg, sid, type, "exchange stopping", kBizNotAvailable, kOrdRejOther, kCxlRejOther);
  }

  void md_reject(const FIX::Message& msg, const FIX::SessionID& sid, const char* reason, const std::string& text) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    auto r = new_message("Y");
    set(r, 262, msg.isSetField(262) ? msg.getField(262) : "NONE");
    if (reason) set(r, 281, reason);
    set(r, 58, text);
    send(r, sid);
  }

  void market_data_request(const FIX::Message& msg, const FIX::SessionID& sid, PartyIndex p) {
    const std::string req_id = opt(msg, 262);
    const std::string sub_type = opt(msg, 263);
    if (req_id.empty()) return md_reject(msg, sid, nullptr, "MDReqID (262) missing");
    if (sub_type == "2") {
      std::size_t removed = 0;
      {
        std::lock_guard lock(md_mutex_);
        for (auto it = md_subs_.begin(); it != md_subs_.end();) {
          if (it->second.party == p && it->second.req_id == req_id) {
            it = md_subs_.erase(it);
            ++removed;
          } else {
            ++it;
          }
        }
        md_count_.store(md_subs_.size());
      }
      if (removed == 0) md_reject(msg, sid, "4", "no subscription with this MDReqID");
      return;
    }
    if (sub_type != "0" && sub_type != "1") return md_reject(msg, sid, "4", "SubscriptionRequestType (263) must be 0, 1 or 2");
    int depth = 0;
    try {
      depth = std::stoi(opt(msg, 264));
    } catch (...) {
      depth = -1;
    }
    if (depth < 0) return md_reject(msg, sid, "5", "MarketDepth (264) must be 0 (full) or a positive number of levels");
    if (msg.isSetField(265) && msg.getField(265) != "1") {
      return md_reject(msg, sid, "6", "MDUpdateType (265) must be 1 (incremental)");
    }
    MdSub proto;
    proto.party = p;
    proto.sid = sid;
    proto.req_id = req_id;
    proto.depth = depth;
    proto.updates = sub_type == "1";
    if (msg.isSetField(267)) {
      proto.bids = proto.offers = proto.trades = false;
      FIX::Group g(267, 269);
      const int n = std::atoi(msg.getField(267).c_str());
      for (int k = 1; k <= n; ++k) {
        try {
          msg.getGroup(static_cast<unsigned>(k), g);
        } catch (...) {
          break;
        }
        const std::string t = opt(g, 269);
        if (t == "0") {
          proto.bids = true;
        } else if (t == "1") {
          proto.offers = true;
        } else if (t == "2") {
          proto.trades = true;
        } else {
          return md_reject(msg, sid, "8", "MDEntryType (269) must be 0, 1 or 2");
        }
      }
    }
    std::vector<InstrumentIndex> instruments;
    {
      FIX::Group g(146, 55);
      const int n = msg.isSetField(146) ? std::atoi(msg.getField(146).c_str()) : 0;
      for (int k = 1; k <= n && k <= 1024; ++k) {
        try {
          msg.getGroup(static_cast<unsigned>(k), g);
        } catch (...) {
          break;
        }
        const auto i = rules_.find_instrument(opt(g, 55));
        if (i == kNone) return md_reject(msg, sid, "0", "unknown symbol '" + opt(g, 55) + "'");
        instruments.push_back(i);
      }
    }
    if (instruments.empty()) return md_reject(msg, sid, "0", "NoRelatedSym (146) lists no symbol");
    std::vector<std::uint64_t> tokens;
    {
      std::lock_guard lock(md_mutex_);
      for (const auto& [tok, s] : md_subs_) {
        if (s.party == p && s.req_id == req_id) {
          return md_reject(msg, sid, "1", "duplicate MDReqID: already subscribed");
        }
      }
      if (md_subs_.size() >= kMaxMdSubs) return md_reject(msg, sid, nullptr, "too many market data subscriptions");
      for (const auto i : instruments) {
        MdSub s = proto;
        s.instrument = i;
        const auto tok = next_ref();
        md_subs_.emplace(tok, std::move(s));
        tokens.push_back(tok);
      }
      md_count_.store(md_subs_.size());
    }
    for (std::size_t k = 0; k < tokens.size(); ++k) {
      exchange::Command c{};
      c.kind = exchange::CommandKind::book_request;
      c.party = p;
      c.instrument = instruments[k];
      c.user_ref = tokens[k];
      const auto r = core_.submit(c);
      if (r != exchange::SubmitResult::ok) {
        {
          std::lock_guard lock(md_mutex_);
          for (std::size_t j = k; j < tokens.size(); ++j) md_subs_.erase(tokens[j]);
          md_count_.store(md_subs_.size());
        }
        if (r == exchange::SubmitResult::busy) busy_.fetch_add(1, std::memory_order_relaxed);
        return md_reject(msg, sid, nullptr,
                         r == exchange::SubmitResult::busy ? "exchange busy, retry" : "exchange stopping");
      }
      submitted_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void security_list(const FIX::Message& msg, const FIX::SessionID& sid) {
    const std::string type = opt(msg, 559);
    std::vector<InstrumentIndex> list;
    if (type == "0") {
      const auto i = rules_.find_instrument(opt(msg, 55));
      if (i != kNone) list.push_back(i);
    } else if (type == "4") {
      for (InstrumentIndex i = 0; i < rules_.instruments.size(); ++i) list.push_back(i);
    } else {
      return send_business_reject(msg, sid, kBizOther, "SecurityListRequestType (559) must be 0 or 4");
    }
    auto r = new_message("y");
    set(r, 320, opt(msg, 320));
    std::string response_id = "SL";
    response_id += i2s(static_cast<std::int64_t>(next_ref() & 0x7fffffffffffffffull));
    set(r, 322, response_id);
    set(r, 560, list.empty() ? "2" : "0");
    set(r, 393, i2s(static_cast<std::int64_t>(list.size())));
    set(r, 893, "Y");
    for (const auto i : list) {
      const auto& ins = rules_.instruments[i];
      const auto& st = instruments_[i];
      FIX::Group g(146, 55, kSecListOrder);
      set(g, 55, ins.symbol);
      set(g, 107, ins.name);
      set(g, 20010, std::string(rules::name_of(ins.kind)));
      set(g, 20001, ins.unit);
      set(g, 969, format_yuan(ins.tick_fen));
      set(g, 561, i2s(ins.lot_qty));
      set(g, 20009, i2s(ins.max_order_qty));
      set(g, 20012, i2s(ins.party_limit_qty));
      set(g, 20008, std::string(rules::name_of(ins.mode)));
      set(g, 20007, i2s(st.state.load()));
      set(g, 20006, format_yuan(st.reference_fen.load()));
      set(g, 20011, i2s(ins.band_bps));
      set(g, 20002, format_yuan(st.band_low_fen.load()));
      set(g, 20003, format_yuan(st.band_high_fen.load()));
      set(g, 20004, format_yuan(ins.floor_fen));
      set(g, 20005, format_yuan(ins.ceiling_fen));
      r.addGroup(g);
    }
    send(r, sid);
  }

  // ------------------------------------------------------------ outbound

  /// Called for every event of the ordered stream (and for stored events at recovery).
  void route(const Event& e, std::vector<std::pair<FIX::SessionID, FIX::Message>>& md_out) {
    switch (e.audience) {
      case exchange::Audience::party: return party_event(e);
      case exchange::Audience::market: return market_event(e, md_out);
      case exchange::Audience::regulator: return drop_copy(e);
    }
  }

  std::string exec_id(const Event& e, PartyState& ps) {
    if (ps.cur_seq == e.seq) {
      ++ps.cur_count;
    } else {
      ps.cur_seq = e.seq;
      ps.cur_count = 1;
    }
    ps.dirty = true;
    return i2s(static_cast<std::int64_t>(e.seq)) + "." + i2s(static_cast<std::int64_t>(ps.cur_count - 1));
  }

  std::optional<Pending> take_pending(std::uint64_t ref, bool erase) {
    if (ref == 0) return std::nullopt;
    std::lock_guard lock(pending_mutex_);
    const auto it = pending_.find(ref);
    if (it == pending_.end()) return std::nullopt;
    Pending p = it->second;
    if (erase) pending_.erase(it);
    return p;
  }

  void party_event(const Event& e) {
    if (e.party >= parties_.size()) return;
    PartyState& ps = *parties_[e.party];
    if (!ps.has_session) return;
    // Market data snapshots are not the party's execution stream: no ExecID slot.
    if (e.kind == EventKind::book_level) return snapshot_level(e);
    if (e.kind == EventKind::admin_done || e.kind == EventKind::admin_rejected) {
      exec_id(e, ps);  // counted, so that fix-sent stays exact
      return;
    }
    const std::string id = exec_id(e, ps);
    switch (e.kind) {
      case EventKind::order_accepted:
      case EventKind::order_rejected:
      case EventKind::order_fill:
      case EventKind::order_cancelled:
      case EventKind::order_replaced:
      case EventKind::order_expired: return execution_report(e, ps, id);
      case EventKind::order_status:
        if (e.user_ref != 0) {
          if (auto p = take_pending(e.user_ref, false); p && p->mass_status) {
            return mass_status_report(e, ps, id, p->req_id);
          }
        }
        return execution_report(e, ps, id);
      case EventKind::cancel_rejected: return cancel_rejected(e, ps);
      case EventKind::mass_cancel_done: return mass_cancel_done(e, ps);
      case EventKind::position:
        if (ps.positions.size() < rules_.instruments.size()) ps.positions.push_back(e);
        return;
      case EventKind::cash: return position_reports(e, ps);
      default: return;
    }
  }

  /// One order_status event of an AF answer: collected until the last, then
  /// every report is sent with 584, 911 and 912. The core's answer when the
  /// party has no open order (one rejected event, unknown_order, no order id)
  /// becomes one report with 911=0.
  void mass_status_report(const Event& e, PartyState& ps, std::string id, const std::string& req_id) {
    if (ps.mass_ref != e.user_ref) {
      // The events of one command are contiguous in a party's stream: a
      // different ref means a new answer (the old one cannot be incomplete).
      assert(ps.mass.empty());
      ps.mass.clear();
      ps.mass_ref = e.user_ref;
    }
    ps.mass.emplace_back(e, std::move(id));
    if (!e.is_last) return;
    take_pending(e.user_ref, true);
    const bool none = ps.mass.size() == 1 && ps.mass[0].first.reject_source != exchange::RejectSource::none &&
                      ps.mass[0].first.order_id == 0;
    const std::size_t total = none ? 0 : ps.mass.size();
    for (std::size_t k = 0; k < ps.mass.size(); ++k) {
      const MassReport r{&req_id, total, k + 1 == ps.mass.size()};
      execution_report(ps.mass[k].first, ps, ps.mass[k].second, &r);
    }
    ps.mass.clear();
    if (ps.mass.capacity() > 1024) ps.mass.shrink_to_fit();
    ps.mass_ref = 0;
  }

  void execution_report(const Event& e, PartyState& ps, const std::string& id, const MassReport* mass = nullptr) {
    const bool rejected = e.reject_source != exchange::RejectSource::none;
    auto m = new_message("8");
    set(m, 37, e.order_id != 0 ? i2s(static_cast<std::int64_t>(e.order_id)) : "NONE");
    set(m, 17, id);
    std::string cl = cl_text(e.cl_ord_id);
    std::string orig;
    const char* exec_type = "0";
    const char* status = "0";
    switch (e.kind) {
      case EventKind::order_accepted:
        exec_type = "0";
        status = "0";
        break;
      case EventKind::order_rejected:
        exec_type = "8";
        status = "8";
        break;
      case EventKind::order_fill:
        exec_type = "F";
        status = e.leaves_qty > 0 ? "1" : "2";
        break;
      case EventKind::order_cancelled:
        exec_type = "4";
        status = "4";
        if (e.command == exchange::CommandKind::cancel) {
          if (const auto p = take_pending(e.user_ref, true)) {
            orig = cl;
            cl = p->cl_ord_id;
          }
        }
        break;
      case EventKind::order_replaced:
        exec_type = "5";
        status = e.cum_qty > 0 ? "1" : "0";
        orig = cl_text(e.orig_cl_ord_id);
        break;
      case EventKind::order_expired:
        exec_type = "C";
        status = "C";
        break;
      case EventKind::order_status: {
        exec_type = "I";
        status = rejected ? "8" : ord_status(e);
        if (cl.empty()) cl = cl_text(e.orig_cl_ord_id);
        if (mass) {
          set(m, 584, *mass->req_id);
          set(m, 911, i2s(static_cast<std::int64_t>(mass->total)));
          set(m, 912, mass->last ? "Y" : "N");
        } else if (const auto p = take_pending(e.user_ref, e.is_last != 0)) {
          set(m, 790, p->req_id);
        }
        break;
      }
      default: break;
    }
    if (!cl.empty()) set(m, 11, cl);
    if (!orig.empty()) set(m, 41, orig);
    set(m, 150, exec_type);
    set(m, 39, status);
    if (rejected && mass) {
      set(m, 58, "no open orders");  // the only rejection of a mass status answer (911=0)
    } else if (rejected) {
      set(m, 103, i2s(ord_rej_reason(e.reject_source, e.reject_code)));
      set(m, 58, exchange::reject_text(e.reject_source, e.reject_code));
    } else if (e.kind == EventKind::order_cancelled) {
      set(m, 58, "cancel: " + std::string(engine::to_string(static_cast<engine::CancelCause>(e.cancel_cause))));
    }
    set(m, 1, rules_.parties[e.party].id);
    set(m, 55, e.instrument < rules_.instruments.size() ? rules_.instruments[e.instrument].symbol : "NONE");
    set(m, 54, side_char(e.side));
    set(m, 40, e.type == exchange::OrderType::market ? "1" : "2");
    if (e.type == exchange::OrderType::limit && e.price_fen > 0) set(m, 44, format_yuan(e.price_fen));
    if (e.order_qty > 0) set(m, 38, i2s(e.order_qty));
    set(m, 59, tif_char(e.tif));
    if (e.tif == exchange::TimeInForce::gtd && e.expire_date != 0) set(m, 432, i2s(e.expire_date));
    if (e.kind == EventKind::order_fill) {
      set(m, 32, i2s(e.last_qty));
      set(m, 31, format_yuan(e.last_px_fen));
      set(m, 880, i2s(static_cast<std::int64_t>(e.trade_id)));
      set(m, 12, format_yuan(e.fee_fen));
      set(m, 13, "3");
      if (e.side == exchange::Side::buy) {
        set(m, 20022, format_yuan(e.compensation_fen));
        set(m, 20024, i2s(e.delivered_qty));
      } else {
        set(m, 20023, format_yuan(e.levy_fen));
      }
    }
    const bool done = rejected || e.kind == EventKind::order_cancelled || e.kind == EventKind::order_expired;
    set(m, 151, i2s(done ? 0 : std::max<Qty>(0, e.leaves_qty)));
    set(m, 14, i2s(e.cum_qty));
    set(m, 6, format_avg_px(e.cum_value_fen, e.cum_qty));
    set(m, 60, fix_time(e.ts_ns));
    set(m, 20040, i2s(static_cast<std::int64_t>(e.seq)));
    deliver(m, ps);
  }

  void cancel_rejected(const Event& e, PartyState& ps) {
    take_pending(e.user_ref, true);
    auto m = new_message("9");
    set(m, 37, e.order_id != 0 ? i2s(static_cast<std::int64_t>(e.order_id)) : "NONE");
    const std::string cl = cl_text(e.cl_ord_id), orig = cl_text(e.orig_cl_ord_id);
    set(m, 11, cl.empty() ? "NONE" : cl);
    set(m, 41, orig.empty() ? "NONE" : orig);
    set(m, 39, e.order_id != 0 && e.order_qty > 0 ? ord_status(e) : "8");
    set(m, 1, rules_.parties[e.party].id);
    set(m, 434, e.command == exchange::CommandKind::replace ? "2" : "1");
    set(m, 102, i2s(cxl_rej_reason(e.reject_source, e.reject_code)));
    set(m, 58, exchange::reject_text(e.reject_source, e.reject_code));
    set(m, 20040, i2s(static_cast<std::int64_t>(e.seq)));
    deliver(m, ps);
  }

  void mass_cancel_done(const Event& e, PartyState& ps) {
    auto m = new_message("r");
    const std::string cl = cl_text(e.cl_ord_id);
    if (!cl.empty()) set(m, 11, cl);
    set(m, 37, "MC" + i2s(static_cast<std::int64_t>(e.seq)));
    const char* type = e.instrument == kNone ? "7" : "1";
    set(m, 530, type);
    if (e.reject_source != exchange::RejectSource::none) {
      set(m, 531, "0");
      set(m, 532, e.reject_code == static_cast<std::uint8_t>(exchange::CoreReject::unknown_instrument) ? "1" : "99");
      set(m, 58, exchange::reject_text(e.reject_source, e.reject_code));
    } else {
      set(m, 531, type);
      set(m, 533, i2s(e.order_qty));
    }
    if (e.instrument < rules_.instruments.size()) set(m, 55, rules_.instruments[e.instrument].symbol);
    set(m, 20040, i2s(static_cast<std::int64_t>(e.seq)));
    deliver(m, ps);
  }

  void position_reports(const Event& cash, PartyState& ps) {
    const auto pending = take_pending(cash.user_ref, true);
    const auto total = static_cast<std::int64_t>(ps.positions.size() + 1);
    const std::string& account = rules_.parties[cash.party].id;
    std::int64_t k = 0;
    const auto header = [&](FIX::Message& m) {
      set(m, 721, i2s(static_cast<std::int64_t>(cash.seq)) + "." + i2s(k++));
      if (pending) set(m, 710, pending->req_id);
      set(m, 728, "0");
      set(m, 727, i2s(total));
      set(m, 1, account);
      set(m, 20040, i2s(static_cast<std::int64_t>(cash.seq)));
    };
    for (const Event& e : ps.positions) {
      auto m = new_message("AP");
      header(m);
      if (e.instrument < rules_.instruments.size()) set(m, 55, rules_.instruments[e.instrument].symbol);
      FIX::Group free_g(702, 703, kPositionsOrder);
      set(free_g, 703, "FREE");
      set(free_g, 704, i2s(e.cum_qty));
      m.addGroup(free_g);
      FIX::Group res_g(702, 703, kPositionsOrder);
      set(res_g, 703, "RSVD");
      set(res_g, 704, i2s(e.aux_fen));
      m.addGroup(res_g);
      deliver(m, ps);
    }
    ps.positions.clear();
    auto m = new_message("AP");
    header(m);
    FIX::Group free_g(753, 707, kPosAmtOrder);
    set(free_g, 707, "CASH");
    set(free_g, 708, format_yuan(cash.cum_value_fen));
    m.addGroup(free_g);
    FIX::Group res_g(753, 707, kPosAmtOrder);
    set(res_g, 707, "CRSV");
    set(res_g, 708, format_yuan(cash.aux_fen));
    m.addGroup(res_g);
    deliver(m, ps);
  }

  void deliver(FIX::Message& m, PartyState& ps) {
    send(m, ps.sid);
    sent_count_.fetch_add(1, std::memory_order_relaxed);
  }

  void snapshot_level(const Event& e) {
    if (md_count_.load(std::memory_order_relaxed) == 0) return;
    std::optional<std::pair<FIX::SessionID, FIX::Message>> out;
    {
      std::lock_guard lock(md_mutex_);
      const auto it = md_subs_.find(e.user_ref);
      if (it == md_subs_.end() || it->second.party != e.party) return;
      MdSub& s = it->second;
      if (e.reject_source == exchange::RejectSource::none && e.order_qty > 0 && s.levels.size() < kMaxLevels) {
        s.levels.push_back(e);
      }
      if (!e.is_last) return;
      auto m = new_message("W");
      set(m, 262, s.req_id);
      set(m, 55, rules_.instruments[s.instrument].symbol);
      set(m, 20040, i2s(static_cast<std::int64_t>(e.seq)));
      int bids = 0, offers = 0;
      for (const Event& l : s.levels) {
        const bool bid = l.side == exchange::Side::buy;
        if (bid ? !s.bids : !s.offers) continue;
        int& n = bid ? bids : offers;
        if (s.depth > 0 && n >= s.depth) continue;
        ++n;
        FIX::Group g(268, 269, kMdFullOrder);
        set(g, 269, bid ? "0" : "1");
        set(g, 270, format_yuan(l.price_fen));
        set(g, 271, i2s(l.order_qty));
        m.addGroup(g);
      }
      if (bids + offers == 0) set(m, 268, "0");
      s.levels.clear();
      s.levels.shrink_to_fit();
      s.snapshot_seq = e.seq;
      out.emplace(s.sid, std::move(m));
      if (s.updates) {
        s.live = true;
      } else {
        md_subs_.erase(it);
        md_count_.store(md_subs_.size());
      }
    }
    send(out->second, out->first);
    sent_count_.fetch_add(1, std::memory_order_relaxed);
  }

  void market_event(const Event& e, std::vector<std::pair<FIX::SessionID, FIX::Message>>& md_out) {
    if (e.instrument >= instruments_.size()) return;
    auto& st = instruments_[e.instrument];
    if (e.kind == EventKind::state) {
      st.state.store(static_cast<std::uint8_t>(e.state));
      return;
    }
    if (e.kind == EventKind::reference) {
      st.reference_fen.store(e.price_fen);
      st.band_low_fen.store(e.last_px_fen);
      st.band_high_fen.store(e.aux_fen);
      return;
    }
    if (e.kind != EventKind::level && e.kind != EventKind::trade) return;
    if (md_count_.load(std::memory_order_relaxed) == 0) return;
    std::lock_guard lock(md_mutex_);
    for (auto& [tok, s] : md_subs_) {
      if (!s.live || s.instrument != e.instrument || e.seq <= s.snapshot_seq) continue;
      const bool trade = e.kind == EventKind::trade;
      const bool bid = e.side == exchange::Side::buy;
      if (trade ? !s.trades : (bid ? !s.bids : !s.offers)) continue;
      // One X per (subscription, command): reuse the last message if it is ours.
      if (md_out.empty() || !(md_out.back().first == s.sid) || md_out.back().second.getField(262) != s.req_id ||
          md_out.back().second.getField(20040) != i2s(static_cast<std::int64_t>(e.seq))) {
        auto m = new_message("X");
        set(m, 262, s.req_id);
        set(m, 20040, i2s(static_cast<std::int64_t>(e.seq)));  // removed before sending
        md_out.emplace_back(s.sid, std::move(m));
      }
      FIX::Group g(268, 279, kMdIncOrder);
      if (trade) {
        set(g, 279, "0");
        set(g, 269, "2");
        set(g, 271, i2s(e.last_qty));
        set(g, 880, i2s(static_cast<std::int64_t>(e.trade_id)));
      } else {
        set(g, 279, e.order_qty > 0 ? "1" : "2");
        set(g, 269, bid ? "0" : "1");
        set(g, 271, i2s(e.order_qty));
      }
      set(g, 55, rules_.instruments[e.instrument].symbol);
      set(g, 270, format_yuan(e.price_fen));
      set(g, 20040, i2s(static_cast<std::int64_t>(e.seq)));
      md_out.back().second.addGroup(g);
    }
  }

  void flush_md(std::vector<std::pair<FIX::SessionID, FIX::Message>>& md_out) {
    for (auto& [sid, m] : md_out) {
      m.removeField(20040);
      send(m, sid);
      sent_count_.fetch_add(1, std::memory_order_relaxed);
    }
    md_out.clear();
  }

  void drop_copy(const Event& e) {
    if (e.kind != EventKind::trade_report || regulators_.empty()) return;
    if (e.instrument >= rules_.instruments.size()) return;
    const auto& ins = rules_.instruments[e.instrument];
    auto m = new_message("AE");
    set(m, 571, i2s(static_cast<std::int64_t>(e.trade_id)));
    set(m, 570, "N");
    set(m, 880, i2s(static_cast<std::int64_t>(e.trade_id)));
    set(m, 55, ins.symbol);
    set(m, 32, i2s(e.last_qty));
    set(m, 31, format_yuan(e.last_px_fen));
    set(m, 75, local_date(e.ts_ns, rules_.utc_offset_min));
    set(m, 60, fix_time(e.ts_ns));
    set(m, 20024, i2s(e.delivered_qty));
    set(m, 20022, format_yuan(e.compensation_fen));
    if (e.beneficiary < rules_.parties.size()) set(m, 20025, rules_.parties[e.beneficiary].id);
    set(m, 20023, format_yuan(e.levy_fen));
    if (const auto* levy = rules_.levy_for(ins); levy && levy->fund < rules_.parties.size()) {
      set(m, 20026, rules_.parties[levy->fund].id);
    }
    set(m, 20040, i2s(static_cast<std::int64_t>(e.seq)));
    const auto side = [&](const char* s, PartyIndex party, exchange::OrderId order, Fen fee) {
      FIX::Group g(552, 54, kSidesOrder);
      set(g, 54, s);
      set(g, 37, i2s(static_cast<std::int64_t>(order)));
      if (party < rules_.parties.size()) set(g, 1, rules_.parties[party].id);
      set(g, 12, format_yuan(fee));
      set(g, 13, "3");
      m.addGroup(g);
    };
    side("1", e.party, e.order_id, e.fee_fen);
    side("2", e.counterparty, e.other_order_id, e.other_fee_fen);
    for (const PartyIndex r : regulators_) {
      FIX::Message copy = m;
      send(copy, parties_[r]->sid);
      sent_count_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void record_sent() {
    for (PartyIndex p = 0; p < parties_.size(); ++p) {
      PartyState& ps = *parties_[p];
      if (!ps.dirty) continue;
      ps.dirty = false;
      sent_->set(p, SentMark{ps.cur_seq, ps.cur_count});
      sent_->write(p);
    }
  }

  void publish_loop() {
    std::vector<Event> buf(1024);
    std::vector<std::pair<FIX::SessionID, FIX::Message>> md_out;
    bool cut_reported = false;
    for (;;) {
      const std::size_t n = stream_->poll(std::span<Event>(buf.data(), buf.size()));
      if (n == 0) {
        if (stream_->cut_off() && !cut_reported) {
          cut_reported = true;
          std::fprintf(stderr, "gateway: the event stream was cut off (%s); restart the server to deliver the rest\n",
                       stream_->cut_off_reason().c_str());
        }
        if (!running_.load()) break;  // stop() comes after core.stop(): nothing more will arrive
        stream_->wait(std::chrono::microseconds(2000));
        continue;
      }
      events_.fetch_add(n, std::memory_order_relaxed);
      for (std::size_t k = 0; k < n; ++k) route(buf[k], md_out);
      flush_md(md_out);
      record_sent();
    }
  }

  // ------------------------------------------------------------ recovery

  void recover() {
    Seq after = core_.last_seq();
    for (PartyIndex p = 0; p < parties_.size(); ++p) {
      if (!parties_[p]->has_session) continue;
      const auto m = sent_->get(p);
      after = std::min<Seq>(after, m.seq == 0 ? 0 : m.seq - 1);
    }
    if (after >= core_.last_seq()) return;
    std::vector<std::pair<FIX::SessionID, FIX::Message>> unused;
    // Per party: count events per seq like the publisher does, and hand over
    // those past the mark.
    std::vector<std::pair<Seq, std::uint64_t>> counter(parties_.size(), {0, 0});
    core_.for_each_stored_event(after, [&](const Event& e) {
      if (e.audience != exchange::Audience::party || e.party >= parties_.size()) return;
      PartyState& ps = *parties_[e.party];
      if (!ps.has_session || e.kind == EventKind::book_level) return;
      auto& [seq, count] = counter[e.party];
      if (seq == e.seq) {
        ++count;
      } else {
        seq = e.seq;
        count = 1;
      }
      const auto mark = sent_->get(e.party);
      const bool handed = e.seq < mark.seq || (e.seq == mark.seq && count <= mark.count);
      if (handed) {
        ps.cur_seq = seq;
        ps.cur_count = count;
        return;
      }
      // Not handed over before the stop: deliver now (QuickFIX stores it for the next logon).
      ps.cur_seq = seq;
      ps.cur_count = count - 1;  // party_event's exec_id counts it again
      party_event(e);
      ++recovered_;
    });
    record_sent();
    for (auto& ps : parties_) {
      ps->positions.clear();
      ps->mass.clear();
      ps->mass_ref = 0;
    }
    // Everything stored is now handed over.
    const Seq last = core_.last_seq();
    for (PartyIndex p = 0; p < parties_.size(); ++p) {
      if (!parties_[p]->has_session) continue;
      if (sent_->get(p).seq <= last) {
        sent_->set(p, SentMark{last + 1, 0});
        sent_->write(p);
      }
      parties_[p]->cur_seq = 0;
      parties_[p]->cur_count = 0;
    }
    sent_->sync();
  }

  std::uint64_t next_ref() { return user_ref_.fetch_add(1, std::memory_order_relaxed); }
  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  static constexpr std::size_t kMaxMdSubs = 4096;
  static constexpr std::size_t kMaxLevels = 1u << 20;

  exchange::Core& core_;
  const rules::MarketRules& rules_;
  GatewayOptions options_;
  PasswordFile passwords_;
  std::vector<std::unique_ptr<PartyState>> parties_;
  std::vector<PartyIndex> regulators_;
  std::unordered_map<std::string, PartyIndex> by_comp_id_;  // immutable after construction
  std::vector<InstrumentState> instruments_;
  std::size_t session_count_ = 0;
  std::size_t passwords_count_ = 0;
  std::shared_ptr<exchange::Subscription> stream_;
  std::unique_ptr<SentFile> sent_;

  std::mutex pending_mutex_;
  std::unordered_map<std::uint64_t, Pending> pending_;
  std::mutex md_mutex_;
  std::unordered_map<std::uint64_t, MdSub> md_subs_;
  std::atomic<std::size_t> md_count_{0};
  std::atomic<std::uint64_t> user_ref_{1};

  FIX::SessionSettings settings_, tls_settings_;
  std::unique_ptr<FIX::LogFactory> log_factory_;
  std::unique_ptr<FastStoreFactory> file_store_factory_;
  std::unique_ptr<FIX::NullStoreFactory> null_store_factory_;
  std::unique_ptr<FIX::ThreadedSocketAcceptor> acceptor_;
  std::unique_ptr<FIX::ThreadedSSLSocketAcceptor> tls_acceptor_;

  std::thread publisher_;
  std::atomic<bool> running_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> accepting_{true};
  std::uint64_t recovered_ = 0;
  std::atomic<std::uint64_t> submitted_{0}, rejected_{0}, throttled_{0}, busy_{0}, events_{0}, sent_count_{0};
};

// ================================================================ facade

Gateway::Gateway(exchange::Core& core, GatewayOptions options)
    : impl_(std::make_unique<GatewayImpl>(core, std::move(options))) {}
Gateway::~Gateway() = default;
void Gateway::start() { impl_->start(); }
void Gateway::stop_accepting() { impl_->stop_accepting(); }
void Gateway::stop() { impl_->stop(); }
GatewayStats Gateway::stats() const { return impl_->stats(); }
std::uint64_t Gateway::recovered_events() const { return impl_->recovered_events(); }
std::size_t Gateway::sessions() const { return impl_->sessions(); }
std::size_t Gateway::passwords_set() const { return impl_->passwords_set(); }

}  // namespace haihe::gateway
