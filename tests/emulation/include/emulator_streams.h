// Streams and events for the CUDA emulation (cuda_runtime.h), with CUDA's ordering and no
// more: a stream runs its work in order, but when is up to the emulation, which picks the
// order most likely to expose a missing dependency. Work on a stream made with
// cudaStreamCreate (a compute stream) is deferred until something needs it: a
// synchronization of the stream, the device or an event recorded on it, another stream's
// cudaStreamWaitEvent reached in that stream's turn, a blocking call of the legacy default
// stream (cudaMemcpy, cudaMemset, a launch on stream 0), or cudaFree, which synchronizes the
// device. Work on a cudaStreamNonBlocking stream (NCCL's) runs as soon as the events it
// waits for allow (work queued behind asynchronous work still in flight, when something
// next polls or waits for the stream), so if it forgot to wait for the compute stream it reads the
// buffers before the compute stream wrote them, as a GPU may; under the reversed schedule
// (cuda_emulator.h) it is deferred too, so a host that forgot to wait for it reads what
// it has not written yet. Copies between host (pageable) and
// device memory complete before the call returns, as CUDA's do, after the stream's earlier
// work. Asynchronous work (enqueue_async: the NCCL stand-in's collectives, which wait for
// other processes) starts in the stream's turn and holds up the stream's later work until
// it completes; a query (cudaEventQuery) polls it and answers "not ready" meanwhile, so a
// host that waits with a deadline can still give up, as on a GPU.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "cuda_emulator.h"

struct CUevent_st;

namespace emulator {
// Runs a stream item: null when it has completed, or how to ask whether it has (true: yes).
using StreamWork = std::function<std::function<bool()>()>;
}  // namespace emulator

struct CUstream_st {
  bool blocking = true;  // synchronizes with the legacy default stream
  bool eager = false;    // runs work when it can, not when it must
  std::deque<emulator::StreamWork> pending;
  uint64_t issued = 0, done = 0;    // items enqueued and started so far
  std::function<bool()> in_flight;  // the poll of item done - 1 while it has not completed
};
using cudaStream_t = CUstream_st*;

struct CUevent_st {
  cudaStream_t stream = nullptr;  // the stream it was last recorded on (null: complete)
  uint64_t position = 0;          // that stream's items before the record
};
using cudaEvent_t = CUevent_st*;

namespace emulator {

class Streams {
 public:
  cudaStream_t create(bool non_blocking) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    auto* s = new CUstream_st;
    s->blocking = !non_blocking;
    s->eager = non_blocking && !schedule.defer_non_blocking_streams;
    streams_.push_back(s);
    return s;
  }
  // False for a stream that is not alive (null, or destroyed already).
  bool destroy(cudaStream_t s) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (!alive(s)) return false;
    run_until(s, s->issued, kBlock);  // CUDA finishes a destroyed stream's work
    streams_.erase(std::find(streams_.begin(), streams_.end(), s));
    delete s;
    return true;
  }

  // Runs `work` on stream s: deferred there, or now on the legacy default stream (null),
  // after the work of every blocking stream.
  void enqueue(cudaStream_t s, std::function<void()> work) {
    enqueue_async(s, [work = std::move(work)]() -> std::function<bool()> {
      work();
      return nullptr;
    });
  }
  // As enqueue(), for work that may complete later: `start` returns null when it has
  // completed, else the poll that says when it has (called again until it says true).
  void enqueue_async(cudaStream_t s, StreamWork start) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (!s) {
      synchronize_blocking();
      finish(start());
      return;
    }
    s->pending.push_back(std::move(start));
    ++s->issued;
    if (s->eager) run_until(s, s->issued, kPoll);
  }
  // s waits until `event`'s stream has run what preceded the record.
  void wait(cudaStream_t s, cudaEvent_t event) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    const cudaStream_t source = event->stream;
    const uint64_t position = event->position;
    if (!source) return;
    // Asynchronous itself: the source may have work in flight, which a query must not block on.
    auto reached = [this, source, position] {
      return !alive(source) || run_until(source, position, kPoll);  // a destroyed one is done
    };
    enqueue_async(s, [reached]() -> std::function<bool()> {
      if (reached()) return nullptr;
      return reached;
    });
  }
  void record(cudaEvent_t event, cudaStream_t s) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (!s) synchronize_blocking();
    event->stream = s;
    event->position = s ? s->issued : 0;
  }
  void synchronize(cudaEvent_t event) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (alive(event->stream)) run_until(event->stream, event->position, kBlock);
  }
  // Runs what `event` waits for as far as it can without blocking; true when all of it
  // has completed.
  bool query(cudaEvent_t event) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return !alive(event->stream) || run_until(event->stream, event->position, kPoll);
  }
  void synchronize(cudaStream_t s) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (s)
      run_until(s, s->issued, kBlock);
    else
      synchronize_blocking();
  }
  void synchronize_device() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    for (cudaStream_t s : streams_) run_until(s, s->issued, kBlock);
  }

 private:
  static constexpr bool kBlock = true, kPoll = false;

  // Runs s's work up to `position` (at most what was issued: a destroyed stream's address
  // may have been reused by the time an old event is waited for). With kPoll it stops at
  // asynchronous work that has not completed yet and returns false.
  bool run_until(cudaStream_t s, uint64_t position, bool block) {
    const uint64_t target = std::min(position, s->issued);
    for (;;) {
      if (s->in_flight && s->done <= target) {  // the item in flight comes before `target`
        if (!s->in_flight()) {
          if (!block) return false;
          std::this_thread::yield();
          continue;
        }
        s->in_flight = nullptr;
      }
      if (s->done >= target) return true;
      StreamWork work = std::move(s->pending.front());
      s->pending.pop_front();
      ++s->done;  // before it runs: a wait inside it that reaches back here must skip it
      s->in_flight = work();
    }
  }
  // Waits for work started outside any stream (the legacy default stream's).
  static void finish(const std::function<bool()>& poll) {
    while (poll && !poll()) std::this_thread::yield();
  }
  bool alive(cudaStream_t s) const {
    return std::find(streams_.begin(), streams_.end(), s) != streams_.end();
  }
  void synchronize_blocking() {
    for (cudaStream_t s : streams_)
      if (s->blocking) run_until(s, s->issued, kBlock);
  }

  std::recursive_mutex mutex_;         // work may wait for another stream, which runs it in turn
  std::vector<cudaStream_t> streams_;  // in creation order, so runs are reproducible
};
inline Streams streams;

}  // namespace emulator
