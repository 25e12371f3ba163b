#include "gateway/gateway.h"

#include <cstdio>
#include <fstream>

#include "gateway/dictionary.h"
#include "gateway/fast_store.h"
#include "gateway/inbound.h"
#include "gateway/passwords.h"
#include "gateway/publisher.h"
#include "gateway/quickfix.h"
#include "gateway/sent_marks.h"
#include "gateway/state.h"

// The gateway's wiring: the units along the data flow (gateway/inbound.h,
// gateway/publisher.h, gateway/sent_marks.h, sharing gateway/state.h) and the
// QuickFIX acceptors that carry the sessions.

namespace haihe::gateway {

namespace {

using exchange::PartyIndex;
using rules::kNone;

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

class GatewayImpl {
 public:
  GatewayImpl(exchange::Core& core, GatewayOptions options) : core_(core), options_(std::move(options)) {
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
    PasswordFile passwords;
    try {
      passwords = PasswordFile::load(options_.data_dir / "fix-passwords");
    } catch (const PasswordFileError& e) {
      throw GatewayError(e.what());
    }
    shared_ = std::make_unique<Shared>(core_, options_.comp_id);
    if (shared_->sessions.count() == 0) {
      throw GatewayError("the rules give no party a fix_comp_id: nobody could log on");
    }
    inbound_ = std::make_unique<Inbound>(*shared_, std::move(passwords));

    // The one ordered stream (gateway/publisher.h). Subscribed before start():
    // it sees every batch committed from now on; the stored ones are recovered below.
    auto stream = core_.subscribe(exchange::Audience::regulator, kNone, options_.stream_capacity);

    build_acceptors();
    marks_ = std::make_unique<SentMarks>(options_.data_dir / "fix-sent", shared_->sessions, core_.last_seq());
    publisher_ = std::make_unique<Publisher>(*shared_, *marks_, std::move(stream));
    recovered_ = marks_->recover(core_, [this](const exchange::Event& e) { publisher_->party_event(e); });
    publisher_->end_recovery();
  }

  ~GatewayImpl() {
    try {
      stop_accepting();
      stop();
    } catch (...) {
    }
  }

  void start() {
    publisher_->start();
    try {
      if (acceptor_) acceptor_->start();
      if (tls_acceptor_) tls_acceptor_->start();
    } catch (const std::exception& e) {
      throw GatewayError(std::string("cannot start the FIX acceptor: ") + e.what());
    }
  }

  void stop_accepting() {
    inbound_->stop_accepting();
    if (tls_acceptor_) tls_acceptor_->stop();
    if (acceptor_) acceptor_->stop();
  }

  void stop() {
    publisher_->stop();
    // Everything the core committed has been handed over: nothing pending.
    marks_->close(core_.last_seq());
  }

  GatewayStats stats() const {
    const Counters& c = shared_->counters;
    GatewayStats s;
    s.submitted = c.submitted.load(std::memory_order_relaxed);
    s.rejected = c.rejected.load(std::memory_order_relaxed);
    s.throttled = c.throttled.load(std::memory_order_relaxed);
    s.busy = c.busy.load(std::memory_order_relaxed);
    s.events = c.events.load(std::memory_order_relaxed);
    s.sent = c.sent.load(std::memory_order_relaxed);
    s.recovered = recovered_;
    return s;
  }
  std::uint64_t recovered_events() const { return recovered_; }
  std::size_t sessions() const { return shared_->sessions.count(); }
  std::size_t passwords_set() const { return inbound_->passwords_set(); }

 private:
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
      for (PartyIndex p = 0; p < shared_->sessions.size(); ++p) {
        if (shared_->sessions[p].has_session) s.set(shared_->sessions[p].sid, FIX::Dictionary());
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
        acceptor_ = std::make_unique<FIX::ThreadedSocketAcceptor>(*inbound_, store_factory(settings_), settings_,
                                                                  *log_factory_);
      }
      if (options_.tls) {
        for (const auto& f : {options_.tls->cert_file, options_.tls->key_file}) {
          if (!fs::is_regular_file(f)) throw GatewayError(f.string() + ": no such certificate or key file");
        }
        tls_settings_ = make_settings(options_.tls->port, true);
        if (!acceptor_) {
          log_factory_ = make_log_factory(tls_settings_);
          tls_acceptor_ = std::make_unique<FIX::ThreadedSSLSocketAcceptor>(*inbound_, store_factory(tls_settings_),
                                                                           tls_settings_, *log_factory_);
        } else {
          null_store_factory_ = std::make_unique<FIX::NullStoreFactory>();
          tls_acceptor_ = std::make_unique<FIX::ThreadedSSLSocketAcceptor>(*inbound_, *null_store_factory_,
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

  exchange::Core& core_;
  GatewayOptions options_;
  std::unique_ptr<Shared> shared_;
  std::unique_ptr<Inbound> inbound_;

  FIX::SessionSettings settings_, tls_settings_;
  std::unique_ptr<FIX::LogFactory> log_factory_;
  std::unique_ptr<FastStoreFactory> file_store_factory_;
  std::unique_ptr<FIX::NullStoreFactory> null_store_factory_;
  std::unique_ptr<FIX::ThreadedSocketAcceptor> acceptor_;
  std::unique_ptr<FIX::ThreadedSSLSocketAcceptor> tls_acceptor_;

  std::unique_ptr<SentMarks> marks_;
  std::unique_ptr<Publisher> publisher_;
  std::uint64_t recovered_ = 0;
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
