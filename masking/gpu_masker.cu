// GpuMasker (masking/gpu_masker.h): argument checks, the tables on the GPU, and the launch
// of the uniform masking kernel (masking/gpu_masker_kernels.cuh).
#include <algorithm>
#include <utility>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "masking/gpu_masker.h"
#include "masking/gpu_masker_kernels.cuh"
#include "masking/sequence_rng.h"
#include "runtime/device.h"

namespace masklm {

namespace {

using cuda::CEIL_DIV;

void launch_uniform_mask(const MaskArgs& a, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>(CEIL_DIV(a.sequences, kThreads));
  cuda::launch_kernel(uniform_mask_kernel, blocks, kThreads, 0, stream, a);
  CUDA_CHECK_LAUNCH();
}

// A device copy of `host` in `arena`.
template <typename T> Tensor upload(Arena& arena, std::vector<T> host) {
  const Tensor t = arena.alloc({static_cast<int64_t>(host.size())}, dtype_of<T>());
  copy_tensor(t, host_tensor(host));
  return t;
}

}  // namespace

GpuMasker::GpuMasker(const Masker& masker)
    : vocab_size_(masker.vocab().size),
      mask_id_(masker.vocab().mask_id),
      random_share_(masker.config().random_share) {
  MASKLM_CHECK(masker.config().strategy == MaskingStrategy::UNIFORM,
               "masking on the GPU supports masking.strategy uniform only, not {}",
               masking_strategy_name(masker.config().strategy));
  std::vector<int32_t> is_special(masker.vocab().is_special.begin(),
                                  masker.vocab().is_special.end());
  const ReplacementSampler* r = masker.replacement();
  const size_t replacements = r ? r->ids().size() : 0;
  tables_ = Arena(3 * kArenaAlignment + is_special.size() * sizeof(int32_t) +
                      replacements * (sizeof(int32_t) + sizeof(double)),
                  Device::CUDA);
  is_special_ = upload(tables_, std::move(is_special));
  if (r) {
    replacement_ids_ = upload(tables_, r->ids());
    replacement_cdf_ = upload(tables_, r->cdf());
  }
}

void GpuMasker::mask(Ctx& ctx, const Tensor& input, const Tensor& predicted,
                     const Tensor& corruption, const Tensor& ids, const Tensor& cu_seqlens,
                     const MaskRates& rates, const RngKey& key, uint64_t first_sequence) const {
  MASKLM_CHECK(ctx.device == Device::CUDA && ctx.cuda != nullptr, "GpuMasker needs a CUDA Ctx");
  MASKLM_CHECK(0 <= rates.corrupt && rates.corrupt <= 1 && 0 <= rates.predict && rates.predict <= 1,
               "masking rates must be in [0, 1], got corrupt {} and predict {}", rates.corrupt,
               rates.predict);
  MASKLM_CHECK(cu_seqlens.shape.ndim == 1 && cu_seqlens.numel() >= 1,
               "cu_seqlens must be (B + 1), got {}", cu_seqlens.shape.str());
  const int64_t N = ids.numel(), B = cu_seqlens.numel() - 1;
  for (const auto& [t, name] : {std::pair{&input, "input"}, std::pair{&predicted, "predicted"},
                                std::pair{&corruption, "corruption"}, std::pair{&ids, "ids"}}) {
    check_shape(*t, Shape{N}, name);
    check_dtype(*t, DType::I32, name);
    MASKLM_CHECK(t->device == Device::CUDA, "GpuMasker: {} must be on the GPU", name);
  }
  check_dtype(cu_seqlens, DType::I32, "cu_seqlens");
  MASKLM_CHECK(cu_seqlens.device == Device::CUDA, "GpuMasker: cu_seqlens must be on the GPU");
  // Validates the key and the last sequence's index exactly as the CPU does.
  (void)sequence_draws(key, first_sequence + static_cast<uint64_t>(std::max<int64_t>(B - 1, 0)));
  if (B == 0) return;

  MaskArgs a{};
  a.ids = ids.ptr<int32_t>();
  a.cu_seqlens = cu_seqlens.ptr<int32_t>();
  a.sequences = B;
  a.tokens = N;
  a.input = input.ptr<int32_t>();
  a.predicted = predicted.ptr<int32_t>();
  a.corruption = corruption.ptr<int32_t>();
  a.order = static_cast<int32_t*>(
      ctx.cuda->scratch(static_cast<size_t>(std::max<int64_t>(N, 1)) * sizeof(int32_t)));
  a.is_special = is_special_.ptr<int32_t>();
  a.vocab_size = vocab_size_;
  a.mask_id = mask_id_;
  a.replacements = replacement_ids_.empty() ? 0 : replacement_ids_.numel();
  a.replacement_ids = a.replacements ? replacement_ids_.ptr<int32_t>() : nullptr;
  a.replacement_cdf = a.replacements ? replacement_cdf_.ptr<double>() : nullptr;
  a.predict_rate = rates.predict;
  a.corrupt_rate = rates.corrupt;
  a.random_share = random_share_;
  a.key = key;
  a.first_sequence = first_sequence;
  a.error_flag = ctx.cuda->error_flag();
  launch_uniform_mask(a, ctx.cuda->stream());
}

}  // namespace masklm
