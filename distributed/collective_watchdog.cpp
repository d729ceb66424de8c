// CollectiveWatchdog: announcements to rank 0, the verdict back to every rank.
#include "distributed/collective_watchdog.h"

#include <algorithm>
#include <thread>

#include "core/error.h"
#include "distributed/checks_mpi.h"

namespace diffuse {

namespace {

constexpr int kArrivalTag = 1;
constexpr int kVerdictTag = 2;
// How often check() does real work; waiting loops call it much more often.
constexpr auto kCheckInterval = std::chrono::milliseconds(1);
// How long rank 0 lets its verdict messages drain before it throws.
constexpr auto kVerdictDrain = std::chrono::seconds(2);

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string format_seconds(double seconds) {
  std::string text = concat(seconds);
  return text + " s";
}

}  // namespace

CollectiveWatchdog::CollectiveWatchdog(MPI_Comm comm, double timeout_seconds) : timeout_seconds_(timeout_seconds) {
  DIFFUSE_CHECK(timeout_seconds > 0, "the collective timeout must be positive, got ", timeout_seconds);
  MPI_CHECK(MPI_Comm_dup(comm, &comm_));
  MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(comm_, &size_));
  if (rank_ == 0) last_arrived_.assign(static_cast<size_t>(size_), -1);
}

// MPI calls here go unchecked: a destructor must not throw.
CollectiveWatchdog::~CollectiveWatchdog() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  // Announcements still in flight are tiny eager messages; nobody waits for them.
  for (auto& announcement : sent_)
    if (announcement->request != MPI_REQUEST_NULL) MPI_Request_free(&announcement->request);
  if (rank_ == 0) {
    try {
      drain_announcements();
    } catch (const Error&) {
      // A destructor must not throw; the communicator is going away anyway.
    }
  }
  MPI_Comm_free(&comm_);
}

CollectiveWatchdog::Collective CollectiveWatchdog::arrive(std::string description) {
  Collective collective{next_sequence_++, std::move(description), std::chrono::steady_clock::now()};
  if (rank_ == 0) {
    last_arrived_[0] = collective.sequence;
    drain_announcements();
  } else {
    reap_sent();
    auto announcement = std::make_unique<Announcement>();
    announcement->sequence = collective.sequence;
    MPI_CHECK(MPI_Isend(&announcement->sequence, 1, MPI_INT64_T, 0, kArrivalTag, comm_, &announcement->request));
    sent_.push_back(std::move(announcement));
  }
  return collective;
}

void CollectiveWatchdog::reap_sent() {
  while (!sent_.empty()) {
    int done = 0;
    MPI_CHECK(MPI_Test(&sent_.front()->request, &done, MPI_STATUS_IGNORE));
    if (!done) return;
    sent_.pop_front();
  }
}

void CollectiveWatchdog::drain_announcements() {
  for (;;) {
    int waiting = 0;
    MPI_Status status;
    MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, kArrivalTag, comm_, &waiting, &status));
    if (!waiting) return;
    int64_t sequence = 0;
    MPI_CHECK(MPI_Recv(&sequence, 1, MPI_INT64_T, status.MPI_SOURCE, kArrivalTag, comm_, MPI_STATUS_IGNORE));
    int64_t& last = last_arrived_[static_cast<size_t>(status.MPI_SOURCE)];
    last = std::max(last, sequence);
  }
}

void CollectiveWatchdog::check(const Collective& collective) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_check_ < kCheckInterval) return;
  last_check_ = now;
  const double waited = seconds_since(collective.started);
  if (rank_ == 0) {
    drain_announcements();
    if (waited > timeout_seconds_) fail_as_root(collective);
    return;
  }
  throw_verdict_if_any();
  DIFFUSE_CHECK(waited <= 2 * timeout_seconds_, "collective #", collective.sequence, " (", collective.description,
                ") did not complete within twice runtime.collective_timeout_s = ", format_seconds(2 * timeout_seconds_),
                " and rank 0 never reported: rank 0 did not arrive");
}

void CollectiveWatchdog::throw_verdict_if_any() {
  int waiting = 0;
  MPI_Status status;
  MPI_CHECK(MPI_Iprobe(0, kVerdictTag, comm_, &waiting, &status));
  if (!waiting) return;
  int length = 0;
  MPI_CHECK(MPI_Get_count(&status, MPI_CHAR, &length));
  std::string verdict(static_cast<size_t>(length), '\0');
  MPI_CHECK(MPI_Recv(verdict.data(), length, MPI_CHAR, 0, kVerdictTag, comm_, MPI_STATUS_IGNORE));
  DIFFUSE_CHECK(false, verdict);
}

void CollectiveWatchdog::fail_as_root(const Collective& collective) {
  std::vector<int> missing;
  for (int rank = 0; rank < size_; ++rank)
    if (last_arrived_[static_cast<size_t>(rank)] < collective.sequence) missing.push_back(rank);
  std::string who;
  if (missing.empty()) {
    who = "every rank arrived, but it did not complete (an MPI or network failure)";
  } else {
    std::string ranks, last_seen;
    for (size_t i = 0; i < missing.size(); ++i) {
      const int64_t last = last_arrived_[static_cast<size_t>(missing[i])];
      ranks += concat(i == 0 ? "" : ", ", missing[i]);
      last_seen += concat(i == 0 ? "" : ", ", last < 0 ? std::string("none") : concat("#", last));
    }
    who = concat(missing.size() == 1 ? "rank " : "ranks ", ranks, " did not arrive (last seen at collective ",
                 last_seen, ")");
  }
  verdict_ =
      concat("collective #", collective.sequence, " (", collective.description,
             ") did not complete within runtime.collective_timeout_s = ", format_seconds(timeout_seconds_), ": ", who);
  // Tell every other rank, and give the messages a moment to leave before the job ends
  // (verdict_ outlives the sends: MPI may still read it after the requests are freed).
  std::vector<MPI_Request> requests;
  for (int rank = 1; rank < size_; ++rank) {
    requests.push_back(MPI_REQUEST_NULL);
    MPI_CHECK(MPI_Isend(verdict_.data(), static_cast<int>(verdict_.size()), MPI_CHAR, rank, kVerdictTag, comm_,
                        &requests.back()));
  }
  const auto drain_until = std::chrono::steady_clock::now() + kVerdictDrain;
  int all_sent = 0;
  while (!all_sent && std::chrono::steady_clock::now() < drain_until) {
    MPI_CHECK(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &all_sent, MPI_STATUSES_IGNORE));
    if (!all_sent) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (MPI_Request& request : requests)  // unchecked: the verdict is the error to report
    if (request != MPI_REQUEST_NULL) MPI_Request_free(&request);
  DIFFUSE_CHECK(false, verdict_);
}

}  // namespace diffuse
