// FastStore: see fast_store.h for the file format and the guarantees.
#include "gateway/fast_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

namespace haihe::gateway {

namespace {

constexpr std::array<char, 8> kSeqMagic = {'H', 'H', 'F', 'S', 'E', 'Q', '1', '\0'};
constexpr off_t kSeqNumsOffset = 16;

std::uint32_t fnv1a32(const char* data, std::size_t len) {
  std::uint32_t h = 2166136261u;
  for (std::size_t i = 0; i < len; ++i) {
    h ^= static_cast<std::uint8_t>(data[i]);
    h *= 16777619u;
  }
  return h;
}

void put_u32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}
void put_u64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}
std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, int err) {
  throw FIX::IOException("FastStore: " + what + " " + path.string() + ": " + std::strerror(err));
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// write()/pwrite() all of [data, data+len), retrying short writes and EINTR.
void write_all(int fd, const char* data, std::size_t len, off_t offset, bool positional,
               const std::filesystem::path& path) {
  while (len > 0) {
    const ssize_t n = positional ? ::pwrite(fd, data, len, offset) : ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", path, errno);
    }
    assert(n > 0);
    data += n;
    len -= static_cast<std::size_t>(n);
    offset += n;
  }
}

// pread() exactly len bytes; false at end of file.
bool read_exact(int fd, char* data, std::size_t len, off_t offset, const std::filesystem::path& path) {
  while (len > 0) {
    const ssize_t n = ::pread(fd, data, len, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read", path, errno);
    }
    if (n == 0) return false;
    data += n;
    len -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

}  // namespace

std::string FastStore::file_prefix(const FIX::SessionID& sid) {
  std::string p = sid.getBeginString().getString() + "-" + sid.getSenderCompID().getString() + "-" +
                  sid.getTargetCompID().getString();
  if (!sid.getSessionQualifier().empty()) p += "-" + sid.getSessionQualifier();
  return p;
}

FastStore::FastStore(const std::filesystem::path& dir, const FIX::SessionID& sid) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw FIX::IOException("FastStore: cannot create " + dir.string() + ": " + ec.message());
  const std::string prefix = file_prefix(sid);
  msg_path_ = dir / (prefix + ".fmsg");
  seq_path_ = dir / (prefix + ".fseq");
  open_files();
  load();
}

FastStore::~FastStore() { close_files(); }

void FastStore::open_files() {
  assert(msg_fd_ < 0 && seq_fd_ < 0);
  msg_fd_ = ::open(msg_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (msg_fd_ < 0) fail("cannot open", msg_path_, errno);
  seq_fd_ = ::open(seq_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (seq_fd_ < 0) {
    const int err = errno;
    ::close(msg_fd_);
    msg_fd_ = -1;
    fail("cannot open", seq_path_, err);
  }
}

void FastStore::close_files() {
  if (msg_fd_ >= 0) ::close(msg_fd_);
  if (seq_fd_ >= 0) ::close(seq_fd_);
  msg_fd_ = -1;
  seq_fd_ = -1;
}

void FastStore::load() {
  assert(msg_fd_ >= 0 && seq_fd_ >= 0);
  // Sequence numbers and creation time.
  std::array<char, kSeqFileBytes> seq{};
  if (read_exact(seq_fd_, seq.data(), seq.size(), 0, seq_path_) &&
      std::memcmp(seq.data(), kSeqMagic.data(), kSeqMagic.size()) == 0) {
    creation_us_ = static_cast<std::int64_t>(get_u64(seq.data() + 8));
    const std::uint32_t sender = get_u32(seq.data() + 16);
    const std::uint32_t target = get_u32(seq.data() + 20);
    seq_mark_ = get_u64(seq.data() + 24);
    if (sender < 1 || target < 1 || sender > 0x7FFFFFFFu || target > 0x7FFFFFFFu) {
      throw FIX::IOException("FastStore: corrupt sequence numbers in " + seq_path_.string());
    }
    next_sender_ = static_cast<int>(sender);
    next_target_ = static_cast<int>(target);
  } else {
    // New (or never completely written) session.
    next_sender_ = 1;
    next_target_ = 1;
    msg_end_ = 0;  // mark 0: every record in .fmsg counts
    creation_us_ = now_us();
    write_seq_file_whole();
  }

  // Messages: scan the records, index them, cut a torn tail.
  index_.clear();
  struct stat st {};
  if (::fstat(msg_fd_, &st) != 0) fail("cannot stat", msg_path_, errno);
  const auto file_bytes = static_cast<std::uint64_t>(st.st_size);
  std::uint64_t pos = 0;
  std::array<char, kRecordHeaderBytes> header{};
  std::vector<char> body;
  while (pos + kRecordHeaderBytes <= file_bytes) {
    if (!read_exact(msg_fd_, header.data(), header.size(), static_cast<off_t>(pos), msg_path_)) break;
    const std::uint32_t magic = get_u32(header.data());
    const std::uint32_t len = get_u32(header.data() + 4);
    const std::uint64_t seq_num = get_u64(header.data() + 8);
    const std::uint32_t check = get_u32(header.data() + 16);
    const std::uint32_t zero = get_u32(header.data() + 20);
    if (magic != kRecordMagic || len > kMaxMessageBytes || zero != 0 || seq_num < 1 ||
        seq_num > 0x7FFFFFFFu || pos + kRecordHeaderBytes + len > file_bytes) {
      break;
    }
    body.resize(len);
    if (!read_exact(msg_fd_, body.data(), len, static_cast<off_t>(pos + kRecordHeaderBytes), msg_path_)) break;
    if (fnv1a32(body.data(), len) != check) break;
    index_[static_cast<int>(seq_num)] = Location{pos + kRecordHeaderBytes, len};
    // Stored after the numbers were last written: its incr was implied.
    if (pos >= seq_mark_) next_sender_ = std::max(next_sender_, static_cast<int>(seq_num) + 1);
    pos += kRecordHeaderBytes + len;
  }
  if (pos != file_bytes) {
    // A torn or corrupt tail: keep the whole records before it.
    if (::ftruncate(msg_fd_, static_cast<off_t>(pos)) != 0) fail("cannot truncate", msg_path_, errno);
  }
  msg_end_ = pos;
  implied_sender_ = next_sender_;
  // A mark past the end (a crash inside reset(): log cut, numbers not yet
  // written) would hide the records written from here on: move it.
  if (seq_mark_ > msg_end_) write_seqnums();
  assert(seq_mark_ <= msg_end_);
}

void FastStore::write_seq_file_whole() {
  std::array<char, kSeqFileBytes> seq{};
  std::memcpy(seq.data(), kSeqMagic.data(), kSeqMagic.size());
  put_u64(seq.data() + 8, static_cast<std::uint64_t>(creation_us_));
  put_u32(seq.data() + 16, static_cast<std::uint32_t>(next_sender_));
  put_u32(seq.data() + 20, static_cast<std::uint32_t>(next_target_));
  put_u64(seq.data() + 24, msg_end_);
  write_all(seq_fd_, seq.data(), seq.size(), 0, true, seq_path_);
  seq_mark_ = msg_end_;
  implied_sender_ = next_sender_;
}

void FastStore::write_seqnums() {
  assert(next_sender_ >= 1 && next_target_ >= 1);
  std::array<char, 16> nums{};
  put_u32(nums.data(), static_cast<std::uint32_t>(next_sender_));
  put_u32(nums.data() + 4, static_cast<std::uint32_t>(next_target_));
  put_u64(nums.data() + 8, msg_end_);
  write_all(seq_fd_, nums.data(), nums.size(), kSeqNumsOffset, true, seq_path_);
  seq_mark_ = msg_end_;
  implied_sender_ = next_sender_;
}

bool FastStore::set(int seq, const std::string& message) {
  if (seq < 1) throw FIX::IOException("FastStore: MsgSeqNum " + std::to_string(seq) + " < 1");
  if (message.size() > kMaxMessageBytes) {
    throw FIX::IOException("FastStore: message of " + std::to_string(message.size()) + " bytes too large");
  }
  const auto len = static_cast<std::uint32_t>(message.size());
  record_.resize(kRecordHeaderBytes + len);
  put_u32(record_.data(), kRecordMagic);
  put_u32(record_.data() + 4, len);
  put_u64(record_.data() + 8, static_cast<std::uint64_t>(seq));
  put_u32(record_.data() + 16, fnv1a32(message.data(), len));
  put_u32(record_.data() + 20, 0);
  if (len > 0) std::memcpy(record_.data() + kRecordHeaderBytes, message.data(), len);
  // ONE pwrite at the tracked end (a short write is retried, so a crash can
  // only leave a torn tail, cut at the next open).
  // On an error, whatever part was written lies past msg_end_: the next
  // record overwrites it, or the next open cuts it.
  write_all(msg_fd_, record_.data(), record_.size(), static_cast<off_t>(msg_end_), true, msg_path_);
  index_[seq] = Location{msg_end_ + kRecordHeaderBytes, len};
  msg_end_ += record_.size();
  implied_sender_ = std::max(implied_sender_, seq + 1);
  return true;
}

void FastStore::get(int begin, int end, std::vector<std::string>& out) const {
  out.clear();
  if (begin > end) return;
  for (auto it = index_.lower_bound(begin); it != index_.end() && it->first <= end; ++it) {
    std::string msg(it->second.len, '\0');
    if (!read_exact(msg_fd_, msg.data(), msg.size(), static_cast<off_t>(it->second.offset), msg_path_)) {
      throw FIX::IOException("FastStore: " + msg_path_.string() + " shorter than its index");
    }
    out.push_back(std::move(msg));
  }
}

void FastStore::setNextSenderMsgSeqNum(int value) {
  if (value < 1) throw FIX::IOException("FastStore: next sender MsgSeqNum < 1");
  next_sender_ = value;
  write_seqnums();
}

void FastStore::setNextTargetMsgSeqNum(int value) {
  if (value < 1) throw FIX::IOException("FastStore: next target MsgSeqNum < 1");
  next_target_ = value;
  write_seqnums();
}

void FastStore::incrNextSenderMsgSeqNum() {
  assert(next_sender_ < 0x7FFFFFFF);
  ++next_sender_;
  // After set(n) the log already says "next is n + 1": no write needed.
  if (next_sender_ != implied_sender_) write_seqnums();
}

void FastStore::incrNextTargetMsgSeqNum() {
  assert(next_target_ < 0x7FFFFFFF);
  ++next_target_;
  write_seqnums();
}

FIX::UtcTimeStamp FastStore::getCreationTime() const {
  const std::int64_t secs = creation_us_ >= 0 ? creation_us_ / 1'000'000 : (creation_us_ - 999'999) / 1'000'000;
  const auto micros = static_cast<int>(creation_us_ - secs * 1'000'000);
  return FIX::UtcTimeStamp(static_cast<time_t>(secs), micros, 6);
}

void FastStore::reset() {
  // Messages first: a crash after this and before the seqnum write leaves an
  // empty log with the old numbers (as FileStore's reset order does).
  if (::ftruncate(msg_fd_, 0) != 0) fail("cannot truncate", msg_path_, errno);
  index_.clear();
  msg_end_ = 0;
  next_sender_ = 1;
  next_target_ = 1;
  creation_us_ = now_us();
  write_seq_file_whole();
}

void FastStore::refresh() {
  close_files();
  open_files();
  load();
}

FastStoreFactory::FastStoreFactory(std::filesystem::path dir) : dir_(std::move(dir)) {}

FIX::MessageStore* FastStoreFactory::create(const FIX::SessionID& sid) { return new FastStore(dir_, sid); }

void FastStoreFactory::destroy(FIX::MessageStore* store) { delete store; }

}  // namespace haihe::gateway
