#include "train/flops.h"

namespace masklm {

double mlm_training_flops(const ModelConfig& model, int64_t tokens, int64_t predictions,
                          int64_t seq_len) {
  const double C = static_cast<double>(model.hidden_size);
  const double F = static_cast<double>(model.intermediate_size);
  const double V = static_cast<double>(model.vocab_size);
  const double L = static_cast<double>(model.num_layers);
  const double T = static_cast<double>(seq_len);
  const double encoder_per_token = L * (8 * C * C + 4 * C * F + 4 * T * C);
  const double head_per_prediction = 2 * C * C + 2 * C * V;
  constexpr double kForwardAndBackward = 3;
  return kForwardAndBackward * (encoder_per_token * static_cast<double>(tokens) +
                                head_per_prediction * static_cast<double>(predictions));
}

}  // namespace masklm
