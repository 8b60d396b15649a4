#include "train/synthetic_pretrain.h"

#include <chrono>

#include "model/mlm_model.h"

namespace masklm {

std::vector<double> run_synthetic_pretraining(const SyntheticRun& run,
                                              const std::function<void(const StepReport&)>& on_step) {
  MASKLM_CHECK(run.steps > 0, "steps must be positive, got {}", run.steps);
  MASKLM_CHECK(run.model.vocab_size == run.task.vocab_size, "model vocab {} differs from task vocab {}",
               run.model.vocab_size, run.task.vocab_size);
  MASKLM_CHECK(run.model.max_position_embeddings >= run.task.seq_len,
               "sequence length {} exceeds max_position_embeddings {}", run.task.seq_len,
               run.model.max_position_embeddings);
  const int64_t max_tokens = run.task.sequences * run.task.seq_len;
  MlmModel model(run.model, {max_tokens, max_tokens});
  model.init_weights(run.seed);
  AdamW optimizer(model.params(), model.grads(), run.optimizer);
  Ctx ctx;

  std::vector<double> losses;
  for (int64_t step = 0; step < run.steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    const Batch batch = run.task.batch(step);
    const DropoutPlan dropout{RngKey{run.seed, static_cast<uint32_t>(step), 0, RngStream::HIDDEN_DROPOUT, 0}, true};
    model.zero_grads(ctx);
    const MlmStats stats = model.forward(ctx, batch, dropout);
    model.backward(ctx, dropout);
    const double lr = run.lr.at(step);
    const double grad_norm = optimizer.step(ctx, lr);
    losses.push_back(stats.loss);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (on_step)
      on_step({step, stats.loss, static_cast<double>(stats.correct) / static_cast<double>(stats.predictions), lr,
               grad_norm, static_cast<double>(batch.num_tokens()) / seconds});
  }
  return losses;
}

}  // namespace masklm
