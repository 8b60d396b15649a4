#include "train/flops.h"

#include "runtime/error.h"

namespace masklm {

double mlm_training_flops(const ModelConfig& model, const TokenCounts& counts, int64_t seq_len) {
  MASKLM_CHECK(0 <= counts.corrupted && counts.corrupted <= counts.tokens,
               "{} corrupted tokens out of {}", counts.corrupted, counts.tokens);
  const double C = static_cast<double>(model.hidden_size);
  const double F = static_cast<double>(model.intermediate_size);
  const double V = static_cast<double>(model.vocab_size);
  const double T = static_cast<double>(seq_len);
  const double N = static_cast<double>(counts.tokens);
  // Forward FLOPs of one block per token, attending over sequences of `length` tokens.
  const auto layer_per_token = [&](double length) { return 8 * C * C + 4 * C * F + 4 * length * C; };
  double forward;
  if (model.skip_corrupted) {
    const double kept = N - static_cast<double>(counts.corrupted);
    const double kept_length = N > 0 ? T * kept / N : 0;
    forward = static_cast<double>(model.num_layers) * layer_per_token(kept_length) * kept +
              static_cast<double>(model.decoder_layers) * layer_per_token(T) * N;
  } else {
    forward = static_cast<double>(model.num_layers) * layer_per_token(T) * N;
  }
  forward += (2 * C * C + 2 * C * V) * static_cast<double>(counts.predictions);
  constexpr double kForwardAndBackward = 3;
  return kForwardAndBackward * forward;
}

}  // namespace masklm
