// Uses the installed headers and library: an arena-backed tensor, a model preset, the
// error type and the generated version header. Exits non-zero if anything is off.
#include <cstdio>
#include <exception>

#include "masklm/version.h"
#include "model/config.h"
#include "runtime/arena.h"
#include "runtime/error.h"
#include "runtime/tensor.h"

int main() {
  try {
    masklm::Arena arena(4096, masklm::Device::CPU);
    masklm::Tensor t = arena.alloc({4, 8}, masklm::DType::F32);
    float* p = t.ptr<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(i);
    float sum = 0;
    for (int64_t i = 0; i < t.numel(); ++i) sum += p[i];

    const masklm::ModelConfig cfg = masklm::model_preset("tiny", 100);
    cfg.validate();

    bool rejected = false;  // a bad config must throw masklm::Error, not abort
    try {
      masklm::ModelConfig bad = cfg;
      bad.num_heads = 3 * cfg.hidden_size + 1;
      bad.validate();
    } catch (const masklm::Error&) {
      rejected = true;
    }

    std::printf("masklm %s: tensor %s sum %.0f, tiny preset L=%lld C=%lld, bad config %s\n",
                MASKLM_VERSION, t.shape.str().c_str(), static_cast<double>(sum),
                static_cast<long long>(cfg.num_layers), static_cast<long long>(cfg.hidden_size),
                rejected ? "rejected" : "ACCEPTED");
    return (sum == 496.0f && rejected) ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
