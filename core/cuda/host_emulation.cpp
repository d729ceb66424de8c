// The launcher of the host emulation (core/cuda/host_emulation.h): a block's
// threads as fibers (ucontext) with barriers for __syncthreads and shuffles.
//
// A worker fiber starts the block's threads in order and runs each to its
// end; when a thread waits at a barrier, its worker stays with it and the
// scheduler starts the next thread on another worker. The last thread to
// arrive at a barrier releases the others (queued in thread order) and goes
// on, so a barrier costs two switches per waiting thread and a kernel without
// barriers none. Workers and their stacks are kept per OS thread across blocks
// and launches.
#include "core/cuda/host_emulation.h"

#include <ucontext.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <exception>
#include <limits>
#include <memory>
#include <vector>

namespace diffuse::cuda_emulation {

namespace {

// Kernels keep a few scalars per thread; 64 KiB leaves room for libm and the checks' error paths.
constexpr size_t kStackBytes = size_t{64} << 10;
constexpr unsigned kWarpSize = 32;
constexpr unsigned kFullWarp = 0xffffffffu;
// No cap below kernel_support.cuh's own until a test sets one.
std::atomic<int64_t> block_cap_value{std::numeric_limits<int64_t>::max()};

enum class Wait { None, Block, Warp };

struct Worker;

// One emulated thread of the block being run.
struct Lane {
  dim3 index;
  Worker* worker = nullptr;
  Wait wait = Wait::None;
  bool finished = false;
  unsigned published = 0;  // shuffles this lane has published a value for
  uint64_t slots[2] = {};  // its values of the last two shuffles (by parity), for its partners to read
};

struct Worker {
  ucontext_t context{};
  std::unique_ptr<char[]> stack;
};

// The block an OS thread is running, and its workers.
struct BlockRun {
  const std::function<void()>* body = nullptr;
  dim3 grid, block, block_index;
  std::vector<Lane> lanes;
  size_t next_unstarted = 0;
  size_t live = 0;  // lanes that have not finished, unstarted ones included
  size_t at_block_barrier = 0;
  std::vector<size_t> warp_live, at_warp_barrier;
  std::deque<Lane*> ready;  // released from a barrier, to be resumed in order
  Lane* current = nullptr;
  Worker* running = nullptr;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Worker*> idle;
  ucontext_t scheduler{};
  std::exception_ptr error;
};

thread_local BlockRun run;

void to_scheduler(Worker& worker) { swapcontext(&worker.context, &run.scheduler); }

void resume(Worker& worker) {
  run.running = &worker;
  swapcontext(&run.scheduler, &worker.context);
}

size_t warp_of(const Lane& lane) { return static_cast<size_t>(&lane - run.lanes.data()) / kWarpSize; }

// Releases the lanes waiting at a barrier of `kind` (within `warp` for Warp), all but `arriving`, which goes on.
void release(Wait kind, size_t warp, Lane* arriving) {
  const size_t first = kind == Wait::Warp ? warp * kWarpSize : 0;
  const size_t last = kind == Wait::Warp ? std::min(first + kWarpSize, run.lanes.size()) : run.lanes.size();
  for (size_t i = first; i < last; ++i) {
    Lane& lane = run.lanes[i];
    if (lane.wait != kind) continue;
    lane.wait = Wait::None;
    if (&lane != arriving) run.ready.push_back(&lane);
  }
  if (kind == Wait::Warp) {
    run.at_warp_barrier[warp] = 0;
  } else {
    run.at_block_barrier = 0;
  }
}

// A barrier is complete when every lane that has not finished waits at it.
void release_complete_barriers(size_t warp, Lane* arriving) {
  if (run.at_block_barrier > 0 && run.at_block_barrier == run.live) release(Wait::Block, 0, arriving);
  if (run.at_warp_barrier[warp] > 0 && run.at_warp_barrier[warp] == run.warp_live[warp])
    release(Wait::Warp, warp, arriving);
}

// Called by the running lane: waits at a barrier of `kind` unless it is the last to arrive.
void wait_at(Wait kind) {
  Lane& lane = *run.current;
  const size_t warp = warp_of(lane);
  lane.wait = kind;
  if (kind == Wait::Warp) {
    ++run.at_warp_barrier[warp];
  } else {
    ++run.at_block_barrier;
  }
  release_complete_barriers(warp, &lane);
  if (lane.wait != Wait::None) to_scheduler(*lane.worker);
  run.current = &lane;
}

void finish(Lane& lane) {
  lane.finished = true;
  --run.live;
  const size_t warp = warp_of(lane);
  --run.warp_live[warp];
  release_complete_barriers(warp, nullptr);
}

// A worker's life: start the block's next threads until none is left, then wait for another block.
void worker_main() {
  Worker& self = *run.running;
  for (;;) {
    while (run.next_unstarted < run.lanes.size() && !run.error) {
      Lane& lane = run.lanes[run.next_unstarted++];
      lane.worker = &self;
      run.current = &lane;
      try {
        (*run.body)();
      } catch (...) {
        if (!run.error) run.error = std::current_exception();
      }
      finish(lane);
    }
    run.idle.push_back(&self);
    to_scheduler(self);
  }
}

Worker& idle_worker() {
  if (!run.idle.empty()) {
    Worker* worker = run.idle.back();
    run.idle.pop_back();
    return *worker;
  }
  auto worker = std::make_unique<Worker>();
  worker->stack = std::make_unique<char[]>(kStackBytes);
  getcontext(&worker->context);
  worker->context.uc_stack.ss_sp = worker->stack.get();
  worker->context.uc_stack.ss_size = kStackBytes;
  worker->context.uc_link = nullptr;
  makecontext(&worker->context, worker_main, 0);
  run.workers.push_back(std::move(worker));
  return *run.workers.back();
}

void run_block(const dim3& index) {
  const size_t threads = static_cast<size_t>(run.block.x) * run.block.y * run.block.z;
  const size_t warps = (threads + kWarpSize - 1) / kWarpSize;
  run.block_index = index;
  run.lanes.assign(threads, Lane{});
  for (size_t i = 0; i < threads; ++i)
    run.lanes[i].index =
        dim3(static_cast<unsigned>(i % run.block.x), static_cast<unsigned>(i / run.block.x % run.block.y),
             static_cast<unsigned>(i / (static_cast<size_t>(run.block.x) * run.block.y)));
  run.next_unstarted = 0;
  run.live = threads;
  run.at_block_barrier = 0;
  run.warp_live.assign(warps, kWarpSize);
  if (threads % kWarpSize != 0) run.warp_live.back() = threads % kWarpSize;
  run.at_warp_barrier.assign(warps, 0);
  run.ready.clear();
  run.error = nullptr;
  while (!run.error && run.live > 0) {
    if (!run.ready.empty()) {
      Lane* lane = run.ready.front();
      run.ready.pop_front();
      run.current = lane;
      resume(*lane->worker);
    } else if (run.next_unstarted < threads) {
      resume(idle_worker());
    } else {
      run.error = std::make_exception_ptr(Error(concat(
          "emulated kernel deadlock in block (", index.x, ", ", index.y, ", ", index.z, "): ", run.live,
          " threads wait at barriers the others never reach (a __syncthreads or shuffle not reached by every thread "
          "of its block or warp)")));
    }
  }
  if (run.error) {
    // Lanes still suspended keep their workers' stacks: drop them (kernels hold only plain values there).
    run.workers.clear();
    run.idle.clear();
    std::rethrow_exception(run.error);
  }
}

void check_launch(const dim3& grid, const dim3& block) {
  const uint64_t threads = static_cast<uint64_t>(block.x) * block.y * block.z;
  DIFFUSE_CHECK(grid.x >= 1 && grid.x <= 0x7fffffffu && grid.y >= 1 && grid.y <= 65535 && grid.z >= 1 &&
                    grid.z <= 65535 && block.x >= 1 && block.y >= 1 && block.z >= 1 && block.z <= 64 && threads <= 1024,
                "emulated CUDA launch: invalid configuration argument (grid ", grid.x, " x ", grid.y, " x ", grid.z,
                ", block ", block.x, " x ", block.y, " x ", block.z,
                "; grid y and z are limited to 65535, a block to 1024 threads)");
}

}  // namespace

const dim3& thread_index() { return run.current->index; }
const dim3& block_index() { return run.block_index; }
const dim3& block_dim() { return run.block; }
const dim3& grid_dim() { return run.grid; }

void sync_threads() { wait_at(Wait::Block); }

void exchange_in_warp(unsigned mask, const void* value, void* received, size_t bytes, int source) {
  DIFFUSE_CHECK(mask == kFullWarp, "emulated shuffle: only whole-warp masks are supported, not ", mask);
  Lane& lane = *run.current;
  const unsigned shuffle = lane.published++;
  std::memcpy(&lane.slots[shuffle & 1], value, bytes);
  wait_at(Wait::Warp);
  const size_t partner = warp_of(lane) * kWarpSize + static_cast<size_t>(source);
  DIFFUSE_CHECK(source >= 0 && source < static_cast<int>(kWarpSize) && partner < run.lanes.size(),
                "emulated shuffle: lane ", source, " is outside the warp");
  const Lane& other = run.lanes[partner];
  DIFFUSE_CHECK(other.published > shuffle, "emulated shuffle: lane ", source,
                " exited or took another path before shuffle ", shuffle, " of its warp");
  std::memcpy(received, &other.slots[shuffle & 1], bytes);
}

void run_grid(dim3 grid, dim3 block, const std::function<void()>& thread_body) {
  check_launch(grid, block);
  const int64_t blocks = static_cast<int64_t>(grid.x) * grid.y * grid.z;
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
#pragma omp parallel
  {
    run.body = &thread_body;
    run.grid = grid;
    run.block = block;
#pragma omp for schedule(dynamic, 16)
    for (int64_t b = 0; b < blocks; ++b) {
      if (failed.load()) continue;
      try {
        run_block(dim3(static_cast<unsigned>(b % grid.x), static_cast<unsigned>(b / grid.x % grid.y),
                       static_cast<unsigned>(b / (static_cast<int64_t>(grid.x) * grid.y))));
      } catch (...) {
#pragma omp critical(diffuse_emulated_launch_error)
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

int64_t block_cap() { return block_cap_value.load(); }

void set_block_cap(int64_t blocks) { block_cap_value.store(blocks); }

}  // namespace diffuse::cuda_emulation
