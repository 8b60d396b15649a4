// Device memory for the CUDA emulation (cuda_runtime.h's cudaMalloc): host memory that host
// code cannot touch. Each allocation is its own mapping, kept PROT_NONE except while a
// DeviceAccess is alive: a kernel launch, a copy or memset, the cuBLASLt, CUB and NCCL
// stand-ins. Host code that dereferences a device pointer (which on a GPU reads garbage or
// crashes) therefore faults here, and a SIGSEGV handler names the allocation before the
// process dies as it would have anyway. Access is process-wide: while one thread runs a
// kernel, another thread's stray dereference goes unnoticed. Allocations of 2 MiB and more
// are aligned to 2 MiB and asked for as transparent huge pages (where the kernel's THP
// setting allows: then protecting a large arena costs microseconds, else milliseconds).
#pragma once

#include <execinfo.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace emulator {

// Whether p points into one of `allocations` (start -> length).
inline bool in_allocation(const std::map<unsigned char*, size_t>& allocations, const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  auto after = allocations.upper_bound(const_cast<unsigned char*>(b));
  if (after == allocations.begin()) return false;
  --after;
  return b < after->first + after->second;
}

class DeviceMemory {
 public:
  // A fresh allocation of `bytes` (at least one page), every byte 0xFF, or null when the
  // system is out of memory.
  void* allocate(size_t bytes) {
    const size_t length = mapping_length(bytes);
    const size_t align = length >= kHugePage ? kHugePage : 0;
    void* raw =
        mmap(nullptr, length + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    auto* p = static_cast<unsigned char*>(raw);
    if (align) {  // keep the 2 MiB-aligned part of the mapping
      auto* aligned = reinterpret_cast<unsigned char*>(
          (reinterpret_cast<uintptr_t>(p) + kHugePage - 1) & ~(uintptr_t{kHugePage} - 1));
      if (aligned > p) munmap(p, static_cast<size_t>(aligned - p));
      const size_t tail = static_cast<size_t>(p + length + align - (aligned + length));
      if (tail) munmap(aligned + length, tail);
      p = aligned;
#ifdef MADV_HUGEPAGE  // Linux
      madvise(p, length, MADV_HUGEPAGE);
#endif
    }
    std::memset(p, 0xFF, length);
    std::lock_guard<std::mutex> lock(mutex_);
    install_fault_handler();
    if (accessors_ == 0) protect(p, length, PROT_NONE);
    allocations_[p] = length;
    return p;
  }
  // Whether p was allocated here (and not freed yet); frees it if so.
  bool release(void* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = allocations_.find(static_cast<unsigned char*>(p));
    if (found == allocations_.end()) return false;
    munmap(found->first, found->second);
    allocations_.erase(found);
    return true;
  }

  // Whether p points into a live allocation.
  bool owns(const void* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    return in_allocation(allocations_, p);
  }

  // While one DeviceAccess lives (on any OS thread), device memory is readable and writable.
  class DeviceAccess {
   public:
    explicit DeviceAccess(DeviceMemory& memory) : memory_(memory) { memory_.open(); }
    ~DeviceAccess() { memory_.close(); }
    DeviceAccess(const DeviceAccess&) = delete;
    DeviceAccess& operator=(const DeviceAccess&) = delete;

   private:
    DeviceMemory& memory_;
  };

  // The SIGSEGV handler's part: whether `address` lies in a device allocation, and where.
  bool describe(const void* address, char* out, size_t out_bytes) const {
    const auto* a = static_cast<const unsigned char*>(address);
    for (const auto& [start, length] : allocations_) {
      if (a < start || a >= start + length) continue;
      std::snprintf(out, out_bytes,
                    "cuda_emulator: host code touched device memory at %p, byte %zu of a %zu-byte "
                    "cudaMalloc allocation (on a GPU: a crash or garbage); backtrace (addr2line "
                    "-Cfpe BINARY OFFSET names a frame):\n",
                    address, static_cast<size_t>(a - start), length);
      return true;
    }
    return false;
  }

 private:
  static constexpr size_t kHugePage = size_t{2} << 20;

  static size_t mapping_length(size_t bytes) {
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t unit = bytes >= kHugePage ? kHugePage : page;
    return bytes == 0 ? page : (bytes + unit - 1) / unit * unit;
  }
  static void protect(void* p, size_t length, int prot) {
    if (mprotect(p, length, prot) != 0) {
      std::perror("cuda_emulator: mprotect of device memory");
      std::abort();
    }
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (accessors_++ == 0)
      for (const auto& [start, length] : allocations_)
        protect(start, length, PROT_READ | PROT_WRITE);
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--accessors_ == 0)
      for (const auto& [start, length] : allocations_) protect(start, length, PROT_NONE);
  }

  // Chains to whatever handled SIGSEGV before (AddressSanitizer's report, or the default
  // action) by restoring it and returning: the faulting access then runs again.
  static void on_fault(int, siginfo_t* info, void*);
  void install_fault_handler() {
    if (handler_installed_) return;
    handler_installed_ = true;
    void* warm_up[1];
    backtrace(warm_up, 1);  // loads libgcc now: the handler must not allocate
    struct sigaction action = {};
    action.sa_sigaction = &on_fault;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_);
  }

  std::mutex mutex_;
  std::map<unsigned char*, size_t> allocations_;  // start -> mapped length
  int accessors_ = 0;                             // live DeviceAccess objects
  bool handler_installed_ = false;
  struct sigaction previous_ = {};
};
inline DeviceMemory device_memory;

inline void DeviceMemory::on_fault(int, siginfo_t* info, void*) {
  char message[512];
  if (device_memory.describe(info->si_addr, message, sizeof message)) {
    (void)!write(STDERR_FILENO, message, std::strlen(message));
    void* frames[32];
    backtrace_symbols_fd(frames, backtrace(frames, 32), STDERR_FILENO);
  }
  sigaction(SIGSEGV, &device_memory.previous_, nullptr);
}

// Device memory is accessible while this lives.
inline DeviceMemory::DeviceAccess device_access() {
  return DeviceMemory::DeviceAccess(device_memory);
}

}  // namespace emulator
