// Test harness: a real `haihe serve` process on a temp data dir and a free
// port, and QuickFIX initiators as participants.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gateway/quickfix.h"

namespace haihe::gateway::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

inline fs::path temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("haihe-gw-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

/// Runs `haihe ARGS...` to completion; returns the exit code, output in `out`.
inline int run(const std::vector<std::string>& args, const std::string& input, std::string* out = nullptr) {
  std::string cmd = "'" + std::string(HAIHE_BINARY) + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  if (!input.empty()) cmd = "printf '%s\\n' '" + input + "' | " + cmd;
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string text;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) text.append(buf, n);
  const int status = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Sets each (party, password) in `data` with `haihe passwd`.
inline void set_passwords(const fs::path& data, const std::vector<std::pair<std::string, std::string>>& accounts);

/// A `haihe serve` child process.
class Server {
 public:
  Server(fs::path data, int port, std::vector<std::string> extra = {})
      : data_(std::move(data)), port_(port), extra_(std::move(extra)) {}
  ~Server() { kill(SIGKILL); }

  /// Starts and waits for "ready". Returns false (with the output) on failure.
  bool start() {
    int pipefd[2];
    if (::pipe(pipefd) != 0) return false;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(pipefd[1], 1);
      ::dup2(pipefd[1], 2);
      ::close(pipefd[0]);
      std::vector<std::string> args = {HAIHE_BINARY, "serve", "--data", data_.string(), "--port",
                                       std::to_string(port_), "--no-schedule", "--open", "--no-admin"};
      args.insert(args.end(), extra_.begin(), extra_.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(pipefd[1]);
    fd_ = pipefd[0];
    reader_ = std::thread([this] {
      char buf[4096];
      for (;;) {
        const auto n = ::read(fd_, buf, sizeof buf);
        if (n <= 0) break;
        std::lock_guard lock(mutex_);
        output_.append(buf, static_cast<std::size_t>(n));
        cv_.notify_all();
      }
    });
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, 20s, [&] {
      return output_.find("haihe serve: ready") != std::string::npos ||
             output_.find("exit") != std::string::npos || exited_locked();
    }) && output_.find("haihe serve: ready") != std::string::npos;
  }

  /// Sends `sig` and waits for the exit; returns the exit status (-1: signal).
  int kill(int sig) {
    if (pid_ <= 0) return -2;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (reader_.joinable()) reader_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string output() {
    std::lock_guard lock(mutex_);
    return output_;
  }
  bool output_has(const std::string& s, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return output_.find(s) != std::string::npos; });
  }
  int port() const { return port_; }
  const fs::path& data() const { return data_; }

 private:
  bool exited_locked() { return false; }
  fs::path data_;
  int port_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string output_;
};

inline void set_passwords(const fs::path& data, const std::vector<std::pair<std::string, std::string>>& accounts) {
  for (const auto& [party, password] : accounts) {
    std::string out;
    const int rc = run({"passwd", "--data", data.string(), "--party", party, "--password-stdin"}, password, &out);
    if (rc != 0) std::fprintf(stderr, "haihe passwd %s failed (%d): %s\n", party.c_str(), rc, out.c_str());
  }
}

/// A test suite's server: passwords set, started on a free port, waited for.
/// nullptr (and the output on stderr) when it does not start.
inline std::unique_ptr<Server> start_server(const fs::path& data,
                                            const std::vector<std::pair<std::string, std::string>>& accounts) {
  set_passwords(data, accounts);
  auto server = std::make_unique<Server>(data, free_port());
  if (!server->start()) {
    std::fprintf(stderr, "haihe serve did not start:\n%s\n", server->output().c_str());
    return nullptr;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the --open command
  return server;
}

/// Stops a suite's server with SIGTERM and removes `dir`: "" when it exited
/// 0, else its output.
inline std::string stop_server(std::unique_ptr<Server>& server, const fs::path& dir) {
  std::string problem;
  if (server && server->kill(SIGTERM) != 0) problem = "haihe serve did not exit 0:\n" + server->output();
  server.reset();
  fs::remove_all(dir);
  return problem;
}

inline std::string get(const FIX::FieldMap& m, int tag) { return m.isSetField(tag) ? m.getField(tag) : std::string(); }
inline std::string type_of(const FIX::Message& m) { return m.getHeader().getField(35); }

/// A participant: one QuickFIX initiator session to the server.
class Client : public FIX::Application {
 public:
  Client(std::string comp_id, std::string username, std::string password, int port, fs::path store,
         fs::path dictionary, bool tls = false)
      : comp_id_(std::move(comp_id)), username_(std::move(username)), password_(std::move(password)) {
    FIX::Dictionary d;
    d.setString("ConnectionType", "initiator");
    d.setString("SocketConnectHost", "127.0.0.1");
    d.setString("SocketConnectPort", std::to_string(port));
    d.setString("HeartBtInt", "30");
    d.setString("ReconnectInterval", "1");
    d.setString("FileStorePath", store.string());
    d.setString("DataDictionary", dictionary.string());
    d.setString("UseDataDictionary", "Y");
    d.setString("StartTime", "00:00:00");
    d.setString("EndTime", "00:00:00");
    d.setString("CheckLatency", "N");
    d.setString("ResetOnLogon", "N");
    if (tls) {
      d.setString("CertificateVerifyLevel", "0");
      d.setString("SSLProtocol", "all -SSLv2 -SSLv3");
    }
    settings_.set(d);
    sid_ = FIX::SessionID("FIX.4.4", comp_id_, "HAIHE");
    settings_.set(sid_, FIX::Dictionary());
    store_ = std::make_unique<FIX::FileStoreFactory>(settings_);
    if (tls) {
      ssl_initiator_ = std::make_unique<FIX::ThreadedSSLSocketInitiator>(*this, *store_, settings_);
    } else {
      initiator_ = std::make_unique<FIX::ThreadedSocketInitiator>(*this, *store_, settings_);
    }
  }
  ~Client() override { stop(); }

  void start() {
    if (initiator_) initiator_->start();
    if (ssl_initiator_) ssl_initiator_->start();
  }
  void stop() {
    if (initiator_) initiator_->stop(true);
    if (ssl_initiator_) ssl_initiator_->stop(true);
  }
  bool wait_logon(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return logged_on_; });
  }
  bool logged_on() {
    std::lock_guard lock(mutex_);
    return logged_on_;
  }
  bool wait_logout(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return !logged_on_; });
  }

  bool send(FIX::Message m) {
    try {
      return FIX::Session::sendToTarget(m, sid_);
    } catch (...) {
      return false;
    }
  }

  /// The first received message (admin or app) matching `pred`, removed from the inbox.
  std::optional<FIX::Message> wait_for(const std::function<bool(const FIX::Message&)>& pred,
                                       std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    std::optional<FIX::Message> found;
    cv_.wait_for(lock, timeout, [&] {
      for (auto it = inbox_.begin(); it != inbox_.end(); ++it) {
        if (pred(*it)) {
          found = *it;
          inbox_.erase(it);
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::size_t count(const std::function<bool(const FIX::Message&)>& pred) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& m : inbox_) {
      if (pred(m)) ++n;
    }
    return n;
  }
  std::vector<FIX::Message> take_all() {
    std::lock_guard lock(mutex_);
    std::vector<FIX::Message> v(inbox_.begin(), inbox_.end());
    inbox_.clear();
    return v;
  }
  std::string logout_text() {
    std::lock_guard lock(mutex_);
    return logout_text_;
  }
  int logons() {
    std::lock_guard lock(mutex_);
    return logons_;
  }
  FIX::Session* session() { return FIX::Session::lookupSession(sid_); }

  // FIX::Application
  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID&) override {
    std::lock_guard lock(mutex_);
    logged_on_ = true;
    ++logons_;
    cv_.notify_all();
  }
  void onLogout(const FIX::SessionID&) override {
    std::lock_guard lock(mutex_);
    logged_on_ = false;
    cv_.notify_all();
  }
  void toAdmin(FIX::Message& m, const FIX::SessionID&) override {
    if (type_of(m) == "A") {
      if (!username_.empty()) m.setField(553, username_);
      if (!password_.empty()) m.setField(554, password_);
    }
  }
  void fromAdmin(const FIX::Message& m, const FIX::SessionID&) override {
    const auto t = type_of(m);
    std::lock_guard lock(mutex_);
    if (t == "5") logout_text_ = get(m, 58);
    if (t == "3" || t == "5") inbox_.push_back(m);
    cv_.notify_all();
  }
  void toApp(FIX::Message&, const FIX::SessionID&) override {}
  void fromApp(const FIX::Message& m, const FIX::SessionID&) override {
    std::lock_guard lock(mutex_);
    inbox_.push_back(m);
    cv_.notify_all();
  }

 private:
  std::string comp_id_, username_, password_;
  FIX::SessionSettings settings_;
  FIX::SessionID sid_;
  std::unique_ptr<FIX::FileStoreFactory> store_;
  std::unique_ptr<FIX::ThreadedSocketInitiator> initiator_;
  std::unique_ptr<FIX::ThreadedSSLSocketInitiator> ssl_initiator_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<FIX::Message> inbox_;
  bool logged_on_ = false;
  int logons_ = 0;
  std::string logout_text_;
};

inline FIX::Message msg(const char* type, const std::vector<std::pair<int, std::string>>& fields) {
  FIX::Message m;
  m.getHeader().setField(35, type);
  for (const auto& [t, v] : fields) m.setField(t, v);
  return m;
}

inline const char* kNow = "20270315-01:30:00.000";

inline FIX::Message new_order(const std::string& cl, const std::string& sym, const char* side, const std::string& qty,
                              const std::string& px, const char* tif = "0") {
  return msg("D", {{11, cl}, {55, sym}, {54, side}, {60, kNow}, {38, qty}, {40, "2"}, {44, px}, {59, tif}});
}

/// An ExecutionReport predicate: ClOrdID and ExecType.
inline std::function<bool(const FIX::Message&)> er(const std::string& cl, const std::string& exec_type) {
  return [=](const FIX::Message& m) { return type_of(m) == "8" && get(m, 11) == cl && get(m, 150) == exec_type; };
}
inline std::function<bool(const FIX::Message&)> of_type(const std::string& t) {
  return [=](const FIX::Message& m) { return type_of(m) == t; };
}

// ---------------------------------------------------------------- raw socket

/// "8=FIX.4.4|9=..|<body>|10=..|" from a body with '|' as the separator.
inline std::string raw_fix(std::string body) {
  for (auto& c : body) {
    if (c == '|') c = '\x01';
  }
  std::string m = "8=FIX.4.4\x01" "9=" + std::to_string(body.size()) + "\x01" + body;
  unsigned sum = 0;
  for (const char c : m) sum += static_cast<unsigned char>(c);
  char cs[8];
  std::snprintf(cs, sizeof cs, "%03u", sum % 256);
  return m + "10=" + cs + "\x01";
}

class RawConn {
 public:
  explicit RawConn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{0, 200000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConn() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& s) { (void)!::write(fd_, s.data(), s.size()); }
  /// Reads whatever arrives within `timeout`; returns the complete messages ('|' separated).
  std::vector<std::string> read(std::chrono::milliseconds timeout = 1500ms) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      char b[8192];
      const auto n = ::recv(fd_, b, sizeof b, 0);
      if (n == 0) {
        closed_ = true;
        break;
      }
      if (n > 0) buf_.append(b, static_cast<std::size_t>(n));
    }
    std::vector<std::string> out;
    for (;;) {
      const auto at = buf_.find("\x01" "10=");
      if (at == std::string::npos || buf_.size() < at + 8) break;
      std::string m = buf_.substr(0, at + 8);
      buf_.erase(0, at + 8);
      for (auto& c : m) {
        if (c == '\x01') c = '|';
      }
      out.push_back(m);
    }
    return out;
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string buf_;
};

}  // namespace haihe::gateway::test
