#include "train/evaluate.h"

#include <cmath>

namespace masklm {

EvalResult evaluate_mlm(Ctx& ctx, MlmModel& model, const BatchSource& source, int64_t batches) {
  MASKLM_CHECK(batches > 0, "evaluation needs at least one batch, got {}", batches);
  double loss_sum = 0;
  int64_t correct = 0;
  EvalResult r;
  for (int64_t i = 0; i < batches; ++i) {
    const MlmStats s = model.forward(ctx, source.batch(i, 0), DropoutPlan{});
    loss_sum += s.loss * static_cast<double>(s.predictions);
    correct += s.correct;
    r.predictions += s.predictions;
  }
  r.loss = loss_sum / static_cast<double>(r.predictions);
  r.perplexity = std::exp(r.loss);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(r.predictions);
  return r;
}

}  // namespace masklm
