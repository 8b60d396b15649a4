// The uniform masking kernel (masking/gpu_masker.h): one thread per sequence runs the CPU
// Masker's steps for one-token units (masking/masker.cpp) in the same order, with the same
// draws and the same double arithmetic, so the results match bit for bit.
#include <algorithm>
#include <utility>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "masking/gpu_masker.h"
#include "masking/sequence_rng.h"
#include "runtime/device.h"

namespace masklm {

namespace {

using cuda::CEIL_DIV;

struct MaskArgs {
  const int32_t* ids;
  const int32_t* cu_seqlens;
  int64_t sequences, tokens;
  int32_t *input, *predicted, *corruption;
  int32_t* order;  // (N) scratch: each sequence's eligible positions, then their priority order
  const int32_t* is_special;
  int32_t vocab_size, mask_id;
  const int32_t* replacement_ids;
  const double* replacement_cdf;
  int64_t replacements;
  double predict_rate, corrupt_rate, random_share;
  RngKey key;
  uint64_t first_sequence;
  int* error_flag;
};

constexpr int32_t kNone = static_cast<int32_t>(Corruption::NONE);
constexpr int32_t kMask = static_cast<int32_t>(Corruption::MASK);
constexpr int32_t kRandom = static_cast<int32_t>(Corruption::RANDOM);

// ReplacementSampler::draw: the id of the first cumulative probability above u (the table
// ends at exactly 1 > u).
__device__ int32_t draw_replacement(const MaskArgs& a, double u) {
  int64_t lo = 0, hi = a.replacements;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (a.replacement_cdf[mid] <= u)
      lo = mid + 1;
    else
      hi = mid;
  }
  return a.replacement_ids[lo];
}

// One sequence per thread; Masker::mask step by step.
__global__ void uniform_mask_kernel(const MaskArgs a) {
  const int64_t b = cuda::global_thread_index();
  if (b >= a.sequences) return;
  const int32_t begin = a.cu_seqlens[b], end = a.cu_seqlens[b + 1];
  if (begin < 0 || end < begin || end > a.tokens) {
    cuda::raise_device_error(a.error_flag, DeviceError::BAD_CU_SEQLENS);
    return;
  }
  // Units in position order: the non-special tokens.
  int32_t* order = a.order + begin;
  uint32_t n = 0;
  for (int32_t t = begin; t < end; ++t) {
    const int32_t id = a.ids[t];
    a.input[t] = id;
    a.predicted[t] = 0;
    a.corruption[t] = kNone;
    if (id < 0 || id >= a.vocab_size) {
      cuda::raise_device_error(a.error_flag, DeviceError::INDEX_OUT_OF_RANGE);
      continue;
    }
    if (!a.is_special[id]) order[n++] = t;
  }
  SequenceDraws rng{a.key, (a.first_sequence + static_cast<uint64_t>(b)) << kSequenceDrawBits};

  // Priority order over units (Fisher-Yates).
  for (uint32_t i = n; i > 1; --i) {
    const uint32_t j = rng.next_below(i);
    const int32_t swapped = order[i - 1];
    order[i - 1] = order[j];
    order[j] = swapped;
  }
  const double predict_target = static_cast<double>(n) * a.predict_rate;
  const double corrupt_target = static_cast<double>(n) * a.corrupt_rate;
  const double cut = rng.next_uniform();
  constexpr double kUnitLength = 1;  // the CPU divides by the unit's length
  int64_t before = 0;
  for (uint32_t k = 0; k < n; ++k, ++before) {
    if (before >= predict_target && before >= corrupt_target) break;
    const int32_t t = order[k];
    a.predicted[t] = cut < (predict_target - static_cast<double>(before)) / kUnitLength;
    if (cut < (corrupt_target - static_cast<double>(before)) / kUnitLength) a.corruption[t] = kMask;
  }

  // Replacements in position order.
  for (int32_t t = begin; t < end; ++t) {
    if (a.corruption[t] == kNone) continue;
    if (rng.next_uniform() < a.random_share) {
      a.corruption[t] = kRandom;
      a.input[t] = draw_replacement(a, rng.next_uniform());
    } else {
      a.input[t] = a.mask_id;
    }
  }
}

// 128 threads: a batch has tens to hundreds of sequences, so this is one or two blocks.
constexpr int kThreads = 128;

void launch_uniform_mask(const MaskArgs& a, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>(CEIL_DIV(a.sequences, kThreads));
  uniform_mask_kernel<<<blocks, kThreads, 0, stream>>>(a);
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
