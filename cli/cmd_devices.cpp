// `masklm devices`: what this build can run on.
#include <fmt/format.h>

#include "cli/commands.h"
#include "runtime/device.h"
#include "runtime/threads.h"

namespace masklm::cli {

void register_devices(CLI::App& app) {
  auto* cmd = app.add_subcommand("devices", "List the CPU and CUDA devices masklm can use");
  cmd->callback([] {
    fmt::print("cpu: {} threads\n", num_threads());
    if (!cuda_compiled()) {
      fmt::print("cuda: not compiled in (configure with -DMASKLM_CUDA=ON)\n");
      return;
    }
    const auto devices = cuda_devices();
    if (devices.empty()) {
      fmt::print("cuda: compiled in, no GPU found\n");
      return;
    }
    fmt::print("cuda: runtime {}\n", cuda_runtime_version());
    for (const auto& d : devices)
      fmt::print("cuda:{} {} (sm_{}{}, {} SMs, {:.1f} GiB{})\n", d.index, d.name, d.sm_major,
                 d.sm_minor, d.multiprocessors, d.memory_bytes / double(1 << 30),
                 d.bf16 ? ", bf16" : "");
  });
}

}  // namespace masklm::cli
