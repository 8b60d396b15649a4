// Fibers for the CUDA emulation (cuda_emulator.h): a block's CUDA threads run as fibers on
// the launching OS thread, each on its own stack, switched round-robin whenever one waits at
// a barrier. A switch costs tens of nanoseconds (x86-64: the callee-saved registers swapped
// by the few instructions below; elsewhere ucontext's swapcontext, a system call), where
// handing a barrier over between OS threads costs microseconds; kernels that shuffle per
// element (a warp-wide sum per key in the reference attention) pass thousands of barriers
// per block. The order is deterministic: fibers resume in index order, or in reverse. A
// pass in which no fiber can resume is a deadlock (a barrier some threads never reach) and
// stops the run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#if defined(__x86_64__)
// masklm_emulator_switch(&from_sp, to_sp): pushes the System V callee-saved registers, MXCSR
// and the x87 control word, saves the stack pointer in *from_sp, loads to_sp and pops the
// same from there. A weak symbol in a COMDAT group, so every translation unit may define it.
extern "C" void masklm_emulator_switch(void** from_sp, void* to_sp);
asm(R"(
  .pushsection .text.masklm_emulator_switch,"axG",@progbits,masklm_emulator_switch,comdat
  .weak masklm_emulator_switch
  .type masklm_emulator_switch,@function
masklm_emulator_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size masklm_emulator_switch, .-masklm_emulator_switch
  .popsection
)");
#endif

namespace emulator {

// A saved execution context: where a fiber, or the scheduler, resumes.
struct Context {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
};

class FiberPool {
 public:
  // Runs fn(0), ..., fn(n - 1) as n fibers, resuming them in turn (in index order, or from
  // n - 1 down when `reverse`) until all have returned. Before each resume, on_resume(i)
  // restores what the fiber sees as its own (threadIdx).
  void run(int n, bool reverse, const std::function<void(int)>& fn,
           const std::function<void(int)>& on_resume) {
    while (static_cast<int>(fibers_.size()) < n) add_fiber();
    task_ = &fn;
    remaining_ = n;
    for (int i = 0; i < n; ++i) fibers_[static_cast<size_t>(i)]->done = false;
    while (remaining_ > 0) {
      bool resumed = false;
      for (int turn = 0; turn < n; ++turn) {
        const int i = reverse ? n - 1 - turn : turn;
        Fiber& f = *fibers_[static_cast<size_t>(i)];
        if (f.done || (f.parked_on && *f.parked_on == f.parked_at)) continue;
        f.parked_on = nullptr;
        on_resume(i);
        resume(i);
        resumed = true;
      }
      if (!resumed) {
        std::fprintf(stderr,
                     "cuda_emulator: deadlock, threads wait at a barrier others never reach\n");
        std::abort();
      }
    }
  }

  // From inside a fiber: back to the scheduler, which resumes the fiber once *phase differs
  // from `seen` (a barrier's phase has completed), or at its next task when phase is null.
  void park(const uint64_t* phase, uint64_t seen) {
    Fiber& f = *fibers_[static_cast<size_t>(current_)];
    f.parked_on = phase;
    f.parked_at = seen;
    switch_context(f.context, scheduler_, scheduler_stack_, scheduler_stack_bytes_);
  }

 private:
  static constexpr size_t kStackBytes = size_t{256} << 10;

  struct Fiber {
    std::unique_ptr<unsigned char[]> stack{new unsigned char[kStackBytes]};
    Context context;
    bool done = true;
    const uint64_t* parked_on = nullptr;  // the barrier phase it waits to change
    uint64_t parked_at = 0;
  };

  void add_fiber() {
    auto f = std::make_unique<Fiber>();
#if defined(__x86_64__)
    // The first switch to it "returns" into entry() with the stack aligned as after a call;
    // the registers start at 0, MXCSR and the x87 control word at their defaults.
    auto top = reinterpret_cast<uintptr_t>(f->stack.get() + kStackBytes) & ~uintptr_t{15};
    auto* slot = reinterpret_cast<uint64_t*>(top);
    *--slot = 0;  // entry()'s return address: it never returns
    *--slot = reinterpret_cast<uint64_t>(&entry);
    for (int r = 0; r < 6; ++r) *--slot = 0;
    *--slot = (uint64_t{0x037F} << 32) | 0x1F80;
    f->context.sp = slot;
#else
    getcontext(&f->context.uc);
    f->context.uc.uc_stack.ss_sp = f->stack.get();
    f->context.uc.uc_stack.ss_size = kStackBytes;
    f->context.uc.uc_link = nullptr;
    makecontext(&f->context.uc, &entry, 0);
#endif
    fibers_.push_back(std::move(f));
  }

  void resume(int i) {
    current_ = i;
    Fiber& f = *fibers_[static_cast<size_t>(i)];
    switch_context(scheduler_, f.context, f.stack.get(), kStackBytes);
    current_ = -1;
  }

  // Saves the running context in `from` and continues `to`, whose stack is [stack, +bytes);
  // returns when something switches back to `from`. AddressSanitizer is told of every stack
  // change, and learns the scheduler's stack on the first switch into a fiber.
  void switch_context(Context& from, Context& to, const void* stack, size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, stack, bytes);
    jump(from, to);
    finish_switch(fake_stack);
#else
    (void)stack, (void)bytes;
    jump(from, to);
#endif
  }
  static void jump(Context& from, Context& to) {
#if defined(__x86_64__)
    masklm_emulator_switch(&from.sp, to.sp);
#else
    swapcontext(&from.uc, &to.uc);
#endif
  }
#if defined(__SANITIZE_ADDRESS__)
  void finish_switch(void* fake_stack) {
    const void* old_stack = nullptr;
    size_t old_bytes = 0;
    __sanitizer_finish_switch_fiber(fake_stack, &old_stack, &old_bytes);
    if (current_ >= 0 && !scheduler_stack_)
      scheduler_stack_ = old_stack, scheduler_stack_bytes_ = old_bytes;
  }
#endif

  // Every fiber runs this: the task for its index, then back to the scheduler, forever.
  [[noreturn]] static void entry();

  std::vector<std::unique_ptr<Fiber>> fibers_;
  Context scheduler_;
  const void* scheduler_stack_ = nullptr;  // for AddressSanitizer
  size_t scheduler_stack_bytes_ = 0;
  const std::function<void(int)>* task_ = nullptr;
  int remaining_ = 0;
  int current_ = -1;
};
inline FiberPool fiber_pool;

inline void FiberPool::entry() {
  FiberPool& pool = fiber_pool;
#if defined(__SANITIZE_ADDRESS__)
  pool.finish_switch(nullptr);
#endif
  for (;;) {
    const int index = pool.current_;
    (*pool.task_)(index);
    pool.fibers_[static_cast<size_t>(index)]->done = true;
    --pool.remaining_;
    pool.park(nullptr, 0);
  }
}

// std::barrier for fibers: arrive_and_wait parks until the phase completes, which runs the
// completion; arrive_and_drop arrives and leaves the barrier for the phases after.
struct NoCompletion {
  void operator()() const {}
};
template <typename Completion = NoCompletion> class FiberBarrier {
 public:
  explicit FiberBarrier(int expected, Completion completion = {})
      : expected_(expected), pending_(expected), completion_(completion) {}
  void arrive_and_wait() {
    const uint64_t phase = phase_;
    arrive();
    if (phase_ == phase) fiber_pool.park(&phase_, phase);
  }
  void arrive_and_drop() {
    --expected_;
    arrive();
  }

 private:
  void arrive() {
    if (--pending_ > 0) return;
    completion_();
    pending_ = expected_;
    ++phase_;
  }
  int expected_, pending_;
  uint64_t phase_ = 0;
  Completion completion_;
};

}  // namespace emulator
