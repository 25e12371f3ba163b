#include "ledger/wal.h"

#include "ledger/format.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace haihe::ledger::wal {

namespace {

template <typename T>
void put(std::byte*& p, T v) {
  std::memcpy(p, &v, sizeof v);
  p += sizeof v;
}
template <typename T>
T get(const std::byte*& p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  p += sizeof v;
  return v;
}

std::uint64_t round_up(std::uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

[[noreturn]] void io_fail(const std::string& what, const std::filesystem::path& path) {
  const int e = errno;
  throw LedgerError(what + " " + path.string() + ": " + std::strerror(e) +
                    (e == ENOSPC ? " (the disk is full: free space, then start again)" : ""));
}

}  // namespace

std::vector<std::byte> encode(const Parts& p) {
  const std::uint64_t body = kHeader + p.journal.size() + p.trades.size() + p.movements.size() +
                             p.snapshot.size() + p.image.size();
  std::vector<std::byte> out(round_up(body), std::byte{0});
  std::byte* w = out.data();
  put<std::uint32_t>(w, kMagic);
  put<std::uint32_t>(w, 0);
  put<std::uint64_t>(w, p.seq);
  put<std::uint32_t>(w, static_cast<std::uint32_t>(p.journal.size()));
  put<std::uint32_t>(w, static_cast<std::uint32_t>(p.trades.size()));
  put<std::uint32_t>(w, static_cast<std::uint32_t>(p.movements.size()));
  put<std::uint32_t>(w, 0);
  put<std::uint64_t>(w, p.snapshot.size());
  put<std::uint64_t>(w, p.image.size());
  std::memcpy(w, p.head.data(), p.head.size());
  w += p.head.size();
  for (const auto part : {p.journal, p.trades, p.movements, p.snapshot, p.image}) {
    if (!part.empty()) std::memcpy(w, part.data(), part.size());
    w += part.size();
  }
  return out;
}

bool decode(std::span<const std::byte> rec, Parts& out) {
  if (rec.size() < kHeader) return false;
  const std::byte* r = rec.data();
  if (get<std::uint32_t>(r) != kMagic) return false;
  get<std::uint32_t>(r);
  out.seq = get<std::uint64_t>(r);
  const std::uint64_t journal = get<std::uint32_t>(r), trades = get<std::uint32_t>(r),
                      movements = get<std::uint32_t>(r);
  get<std::uint32_t>(r);
  const std::uint64_t snapshot = get<std::uint64_t>(r), image = get<std::uint64_t>(r);
  std::memcpy(out.head.data(), r, out.head.size());
  r += out.head.size();
  const std::uint64_t room = rec.size() - kHeader;
  if (journal > room || trades > room || movements > room || snapshot > room || image > room ||
      journal + trades + movements + snapshot + image > room) {
    return false;
  }
  auto take = [&](std::uint64_t n) {
    const std::span<const std::byte> s{r, static_cast<std::size_t>(n)};
    r += n;
    return s;
  };
  out.journal = take(journal);
  out.trades = take(trades);
  out.movements = take(movements);
  out.snapshot = take(snapshot);
  out.image = take(image);
  return true;
}

namespace {

/// Every intact header at a kAlign boundary of the file with seq > after,
/// ordered by seq.
std::vector<Ring::Found> scan_fd(int fd, const std::filesystem::path& path, std::uint64_t capacity, Seq after) {
  std::vector<Ring::Found> out;
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0) io_fail("cannot read the write-ahead log", path);
  std::byte header[kHeader];
  for (std::uint64_t at = 0; at + kHeader <= static_cast<std::uint64_t>(size); at += kAlign) {
    if (::pread(fd, header, kHeader, static_cast<off_t>(at)) != static_cast<ssize_t>(kHeader)) {
      io_fail("cannot read the write-ahead log", path);
    }
    const std::byte* r = header;
    if (get<std::uint32_t>(r) != kMagic) continue;
    get<std::uint32_t>(r);
    const Seq seq = get<std::uint64_t>(r);
    std::uint64_t body = kHeader;
    body += get<std::uint32_t>(r);
    body += get<std::uint32_t>(r);
    body += get<std::uint32_t>(r);
    get<std::uint32_t>(r);
    const std::uint64_t snapshot = get<std::uint64_t>(r), image = get<std::uint64_t>(r);
    if (seq <= after || snapshot > capacity || image > capacity) continue;
    body += snapshot + image;
    if (at + body > static_cast<std::uint64_t>(size)) continue;  // torn at the end of the file
    out.push_back(Ring::Found{seq, at, round_up(body)});
  }
  std::stable_sort(out.begin(), out.end(), [](const Ring::Found& a, const Ring::Found& b) { return a.seq < b.seq; });
  return out;
}

std::vector<std::byte> read_fd(int fd, const std::filesystem::path& path, const Ring::Found& f) {
  const off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < 0) io_fail("cannot read the write-ahead log", path);
  const std::uint64_t n = std::min<std::uint64_t>(f.bytes, static_cast<std::uint64_t>(size) - f.offset);
  std::vector<std::byte> out(n);
  std::uint64_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, out.data() + done, n - done, static_cast<off_t>(f.offset + done));
    if (r <= 0) io_fail("cannot read the write-ahead log", path);
    done += static_cast<std::uint64_t>(r);
  }
  return out;
}

}  // namespace

Hash chain_next(Sha256& sha, const Hash& prev, const Parts& p, std::uint8_t flags) {
  sha.reset();
  sha.update(prev.data(), prev.size());
  sha.update(p.journal);
  sha.update(p.trades);
  sha.update(p.movements);
  if (flags & format::kFlagSnapshot) {
    const std::uint64_t n = p.snapshot.size();
    sha.update(&n, 8);
    sha.update(p.snapshot);
  }
  if (flags & format::kFlagReservations) {
    const std::uint64_t n = p.image.size();
    sha.update(&n, 8);
    sha.update(p.image);
  }
  return sha.finish();
}

namespace {

Ring::Followed follow_fd(int fd, const std::filesystem::path& path, std::uint64_t capacity, Seq head,
                         const Hash& head_hash) {
  Ring::Followed out;
  const auto found = scan_fd(fd, path, capacity, head);
  Sha256 sha;
  Hash prev = head_hash;
  Seq expect = head + 1;
  for (std::size_t k = 0; k < found.size() && found[k].seq == expect;) {
    bool took = false;
    for (; k < found.size() && found[k].seq == expect; ++k) {
      if (took) continue;
      auto bytes = read_fd(fd, path, found[k]);
      Parts p;
      format::JournalView j;
      if (!decode(bytes, p) || p.seq != expect || !format::parse_journal(p.journal, j) || j.header.seq != expect ||
          chain_next(sha, prev, p, j.header.flags) != p.head) {
        continue;  // torn, or of an earlier lap
      }
      prev = p.head;
      out.records.push_back(std::move(bytes));
      took = true;
    }
    if (!took) break;
    ++expect;
  }
  for (const Ring::Found& f : found) {
    if (f.seq >= expect) out.leftovers.push_back(f);
  }
  return out;
}

}  // namespace

std::uint64_t waiting(const std::filesystem::path& file, Seq head, const Hash& head_hash) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::uint64_t count = 0;
  try {
    const off_t size = ::lseek(fd, 0, SEEK_END);
    count = follow_fd(fd, file, static_cast<std::uint64_t>(std::max<off_t>(size, 0)), head, head_hash).records.size();
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return count;
}

Ring::Followed Ring::follow(Seq head, const Hash& head_hash) const {
  return follow_fd(fd_, path_, capacity_, head, head_hash);
}

Ring::Ring(const std::filesystem::path& file, std::uint64_t capacity, bool sync)
    : path_(file), capacity_(std::max<std::uint64_t>(round_up(capacity), 16 * kAlign)), sync_(sync) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) io_fail("cannot open the write-ahead log", path_);
  const off_t size = ::lseek(fd_, 0, SEEK_END);
  if (size < 0) io_fail("cannot read the write-ahead log", path_);
  if (sync_ && static_cast<std::uint64_t>(size) < capacity_) {
    // Written once, now (only when flushing: without, growing costs nothing
    // extra): a flush after overwriting blocks the file already
    // has moves the data only; one after writing past the end (or into
    // fallocate's unwritten extents) also commits the file system's journal
    // (measured here: 0.20 ms against 0.33 ms median for 8 KiB). Direct
    // I/O keeps the zeros out of the page cache.
    void* zeros = nullptr;
    constexpr std::size_t kChunk = std::size_t{1} << 20;
    if (::posix_memalign(&zeros, kAlign, kChunk) != 0) throw std::bad_alloc();
    std::memset(zeros, 0, kChunk);
    const int dfd = ::open(path_.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    const int wfd = dfd >= 0 ? dfd : fd_;  // some file systems refuse O_DIRECT
    for (std::uint64_t at = static_cast<std::uint64_t>(size) / kAlign * kAlign; at < capacity_;) {
      const ssize_t w = ::pwrite(wfd, zeros, std::min<std::uint64_t>(kChunk, capacity_ - at), static_cast<off_t>(at));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        std::free(zeros);
        if (dfd >= 0) ::close(dfd);
        io_fail("cannot write the write-ahead log", path_);
      }
      at += static_cast<std::uint64_t>(w);
    }
    std::free(zeros);
    if (dfd >= 0) ::close(dfd);
    if (::fsync(fd_) != 0) io_fail("cannot flush the write-ahead log", path_);
  }
  if (sync_) direct_fd_ = ::open(path_.c_str(), O_WRONLY | O_DIRECT | O_DSYNC | O_CLOEXEC);  // -1: buffered + fdatasync
}

Ring::~Ring() {
  if (fd_ >= 0) ::close(fd_);
  if (direct_fd_ >= 0) ::close(direct_fd_);
  std::free(aligned_);
}


std::vector<Ring::Found> Ring::scan(Seq after) const { return scan_fd(fd_, path_, capacity_, after); }

void Ring::clear() {
  for (const Found& f : scan(0)) erase(f);
  next_ = 0;
  live_.clear();
}

void Ring::erase(const Found& f) {
  const std::vector<std::byte> zeros(kHeader, std::byte{0});
  if (::pwrite(fd_, zeros.data(), zeros.size(), static_cast<off_t>(f.offset)) != static_cast<ssize_t>(zeros.size()) ||
      (sync_ && ::fdatasync(fd_) != 0)) {
    io_fail("cannot write the write-ahead log", path_);
  }
}

std::uint64_t Ring::place(std::uint64_t bytes) const { return next_ + bytes <= capacity_ ? next_ : 0; }

std::optional<Seq> Ring::blocked_by(std::uint64_t bytes) const {
  const std::uint64_t at = place(bytes);
  for (const Found& l : live_) {
    if (l.offset < at + bytes && at < l.offset + l.bytes) return l.seq;
  }
  return std::nullopt;
}

void Ring::append(Seq seq, std::span<const std::byte> rec) {
  if (rec.size() > capacity_ || rec.size() % kAlign != 0) throw LedgerError("internal error: write-ahead record size");
  if (blocked_by(rec.size())) throw LedgerError("internal error: write-ahead record over one not checkpointed");
  const std::uint64_t at = place(rec.size());
  const std::byte* data = rec.data();
  int fd = fd_;
  if (sync_ && direct_fd_ >= 0) {
    // O_DIRECT | O_DSYNC: one write that returns when the record is on the
    // disk, without passing through (and flushing) the page cache.
    if (aligned_bytes_ < rec.size()) {
      std::free(aligned_);
      aligned_ = nullptr;
      aligned_bytes_ = 0;
      void* p = nullptr;
      if (::posix_memalign(&p, kAlign, rec.size()) != 0) throw std::bad_alloc();
      aligned_ = p;
      aligned_bytes_ = rec.size();
    }
    std::memcpy(aligned_, rec.data(), rec.size());
    data = static_cast<const std::byte*>(aligned_);
    fd = direct_fd_;
  }
  for (std::uint64_t done = 0; done < rec.size();) {
    const ssize_t w = ::pwrite(fd, data + done, rec.size() - done, static_cast<off_t>(at + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) io_fail("cannot write the write-ahead log", path_);
    done += static_cast<std::uint64_t>(w);
  }
  if (sync_ && fd == fd_ && ::fdatasync(fd_) != 0) io_fail("cannot flush the write-ahead log", path_);
  live_.push_back(Found{seq, at, rec.size()});
  next_ = at + rec.size();
}

void Ring::checkpointed(Seq seq) {
  while (!live_.empty() && live_.front().seq <= seq) live_.pop_front();
}

}  // namespace haihe::ledger::wal
