#include "gateway/sent_marks.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "gateway/gateway.h"

namespace haihe::gateway {

namespace {
constexpr char kMagic[8] = {'H', 'A', 'I', 'H', 'E', 'F', 'S', '1'};
off_t offset(std::size_t party) { return static_cast<off_t>(sizeof kMagic + party * 2 * sizeof(std::uint64_t)); }
}  // namespace

SentMarks::SentMarks(const std::filesystem::path& path, const Sessions& sessions, exchange::Seq last_seq)
    : sessions_(sessions), marks_(sessions.size()), cursors_(sessions.size()) {
  static_assert(sizeof(Mark) == 2 * sizeof(std::uint64_t));
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw GatewayError(path.string() + ": " + std::strerror(errno));
  char magic[8] = {};
  const bool fresh = ::pread(fd_, magic, sizeof magic, 0) != static_cast<ssize_t>(sizeof magic) ||
                     std::memcmp(magic, kMagic, sizeof magic) != 0;
  // A new file (or a party the file does not know yet): nothing pending.
  for (std::size_t p = 0; p < marks_.size(); ++p) {
    Mark m{last_seq + 1, 0};
    if (!fresh) {
      Mark stored;
      if (::pread(fd_, &stored, sizeof stored, offset(p)) == static_cast<ssize_t>(sizeof stored) && stored.seq != 0) {
        m = stored;
      }
    }
    marks_[p] = m;
  }
  if (fresh) {
    if (::pwrite(fd_, kMagic, sizeof kMagic, 0) != static_cast<ssize_t>(sizeof kMagic)) {
      ::close(fd_);
      throw GatewayError(path.string() + ": cannot write");
    }
    for (std::size_t p = 0; p < marks_.size(); ++p) write(p);
  }
}

SentMarks::~SentMarks() {
  if (fd_ >= 0) ::close(fd_);
}

void SentMarks::write(std::size_t p) {
  const auto n = ::pwrite(fd_, &marks_[p], sizeof(Mark), offset(p));
  if (n != static_cast<ssize_t>(sizeof(Mark))) {
    std::fprintf(stderr, "gateway: cannot record fix-sent for party %zu: %s\n", p, std::strerror(errno));
  }
}

std::uint64_t SentMarks::hand_over(exchange::PartyIndex party, exchange::Seq seq) {
  Cursor& c = cursors_[party];
  if (c.seq == seq) {
    ++c.count;
  } else {
    c.seq = seq;
    c.count = 1;
  }
  c.dirty = true;
  return c.count - 1;
}

void SentMarks::flush() {
  for (std::size_t p = 0; p < cursors_.size(); ++p) {
    Cursor& c = cursors_[p];
    if (!c.dirty) continue;
    c.dirty = false;
    marks_[p] = Mark{c.seq, c.count};
    write(p);
  }
}

void SentMarks::mark_all_handed(exchange::Seq last_seq) {
  for (std::size_t p = 0; p < marks_.size(); ++p) {
    if (!sessions_[static_cast<exchange::PartyIndex>(p)].has_session) continue;
    if (marks_[p].seq <= last_seq) {
      marks_[p] = Mark{last_seq + 1, 0};
      write(p);
    }
  }
}

std::uint64_t SentMarks::recover(exchange::Core& core, const std::function<void(const exchange::Event&)>& deliver) {
  const exchange::Seq last = core.last_seq();
  exchange::Seq after = last;
  for (std::size_t p = 0; p < marks_.size(); ++p) {
    if (!sessions_[static_cast<exchange::PartyIndex>(p)].has_session) continue;
    after = std::min<exchange::Seq>(after, marks_[p].seq == 0 ? 0 : marks_[p].seq - 1);
  }
  if (after >= last) return 0;
  std::uint64_t recovered = 0;
  // Per party: count events per seq as the publisher does, and hand over
  // those past the mark.
  std::vector<Cursor> counter(marks_.size());
  core.for_each_stored_event(after, [&](const exchange::Event& e) {
    if (e.audience != exchange::Audience::party || e.party >= marks_.size()) return;
    if (!sessions_[e.party].has_session || e.kind == exchange::EventKind::book_level) return;
    Cursor& n = counter[e.party];
    if (n.seq == e.seq) {
      ++n.count;
    } else {
      n.seq = e.seq;
      n.count = 1;
    }
    const Mark& mark = marks_[e.party];
    const bool handed = e.seq < mark.seq || (e.seq == mark.seq && n.count <= mark.count);
    Cursor& c = cursors_[e.party];
    c.seq = n.seq;
    if (handed) {
      c.count = n.count;
      return;
    }
    // Not handed over before the stop: deliver now (QuickFIX stores it for the next logon).
    c.count = n.count - 1;  // deliver's hand_over counts it again
    deliver(e);
    ++recovered;
  });
  flush();
  // Everything stored is now handed over.
  mark_all_handed(last);
  for (auto& c : cursors_) c = Cursor{};
  ::fdatasync(fd_);
  return recovered;
}

void SentMarks::close(exchange::Seq last_seq) {
  mark_all_handed(last_seq);
  ::fdatasync(fd_);
}

}  // namespace haihe::gateway
