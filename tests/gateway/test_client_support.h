// Support for the FIX tools' end-to-end tests: a real `haihe serve` child
// process (temp data directory, free port, admin socket on) and running
// `haihe ...` commands to completion with their output and exit code.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace haihe::fixtools::test {

namespace fs = std::filesystem;

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

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "haihe-fixtools-XXXXXX").string();
    if (::mkdtemp(t.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct Result {
  int code = -1;
  std::string out;  // stdout and stderr together
};

inline std::string quote(const std::string& s) {
  std::string q(1, '\'');
  for (const char c : s) {
    if (c == '\'') {
      q.append("'\\''");
    } else {
      q.push_back(c);
    }
  }
  q.push_back('\'');
  return q;
}

/// Runs `haihe ARGS...` (stdin: `input` + newline when not empty).
inline Result run_haihe(const std::vector<std::string>& args, const std::string& input = {}) {
  // Built by appending only (GCC 12 warns falsely on operator+ chains).
  std::string cmd;
  if (input.empty()) {
    cmd.append("</dev/null ");
  } else {
    cmd.append("printf '%s\\n' ").append(quote(input)).append(" | ");
  }
  cmd.append(quote(HAIHE_BINARY));
  for (const auto& a : args) cmd.append(" ").append(quote(a));
  cmd.append(" 2>&1");
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {};
  Result r;
  char buf[4096];
  while (const std::size_t n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// A `haihe serve` child: default market unless `extra` says otherwise,
/// --no-schedule (states change only by admin), admin socket in the data dir.
class Serve {
 public:
  Serve(fs::path data, std::vector<std::string> extra = {}) : data_(std::move(data)), port_(free_port()) {
    log_ = data_.parent_path() / (data_.filename().string() + ".log");
    std::vector<std::string> args = {HAIHE_BINARY, "serve", "--data", data_.string(), "--port", std::to_string(port_),
                                     "--sync", "none", "--no-schedule"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::FILE* f = std::fopen(log_.c_str(), "w");
      if (f != nullptr) {
        ::dup2(::fileno(f), 1);
        ::dup2(::fileno(f), 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Serve() { stop(); }
  Serve(const Serve&) = delete;
  Serve& operator=(const Serve&) = delete;

  /// Waits for "ready"; false when the server exited or did not get ready.
  bool ready(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (log().find("haihe serve: ready") != std::string::npos) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  /// SIGTERM and wait; the exit code (-1: killed by a signal or not running).
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string log() const {
    std::FILE* f = std::fopen(log_.c_str(), "r");
    if (f == nullptr) return {};
    std::string s;
    char buf[4096];
    while (const std::size_t n = std::fread(buf, 1, sizeof buf, f)) s.append(buf, n);
    std::fclose(f);
    return s;
  }
  int port() const { return port_; }
  const fs::path& data() const { return data_; }

 private:
  fs::path data_;
  fs::path log_;
  int port_;
  pid_t pid_ = -1;
};

}  // namespace haihe::fixtools::test
