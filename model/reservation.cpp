#include "model/reservation.h"

#include "runtime/error.h"

namespace masklm {

std::vector<std::vector<int32_t>> filler_sequences(std::span<const int64_t> lengths,
                                                   int64_t vocab_size) {
  MASKLM_CHECK(vocab_size > 0, "filler_sequences: no ids in a vocabulary of {}", vocab_size);
  std::vector<std::vector<int32_t>> out;
  int64_t next = 0;
  for (const int64_t length : lengths) {
    MASKLM_CHECK(length > 0, "filler_sequences: a sequence of {} tokens", length);
    std::vector<int32_t>& ids = out.emplace_back(static_cast<size_t>(length));
    for (int32_t& id : ids) id = static_cast<int32_t>(next++ % vocab_size);
  }
  return out;
}

void run_reservation_step(Ctx& ctx, size_t upload_bytes, const Tensor& grads,
                          const std::function<void(const DropoutPlan&)>& step) {
  if (ctx.device == Device::CPU) return;
  reserve_upload(ctx, upload_bytes);
  const DropoutPlan dropout{RngKey{}, true};  // the training step's kernels
  step(dropout);
  sum_squares(ctx, grads);  // the gradient norm's partial sums
  fill_zero(ctx, grads);
  synchronize(ctx);
}

}  // namespace masklm
