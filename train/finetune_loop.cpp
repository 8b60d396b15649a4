#include "train/finetune_loop.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>

#include "runtime/error.h"
#include "runtime/log.h"
#include "train/loss_scaler.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"

namespace masklm {

std::vector<EpochLog> run_finetune_epochs(Ctx& ctx, const FineTuneEncoder& model,
                                          size_t num_examples, const FineTuneOptions& o,
                                          const FineTuneStep& step) {
  MASKLM_CHECK(num_examples > 0, "fine-tuning needs training examples");
  const size_t batch_size = static_cast<size_t>(o.batch_size);
  const int64_t steps_per_epoch =
      static_cast<int64_t>((num_examples + batch_size - 1) / batch_size);
  LrSchedule schedule;
  schedule.peak_lr = o.lr;
  schedule.total_steps = o.epochs * steps_per_epoch;
  schedule.warmup_steps =
      std::llround(o.warmup_fraction * static_cast<double>(schedule.total_steps));
  AdamWConfig adam;
  adam.weight_decay = o.weight_decay;
  adam.clip_norm = o.clip_norm;
  AdamW optimizer(model.params(), model.grads(), adam, std::nullopt, model.compute_copy());
  std::optional<LossScaler> scaler;
  if (model.compute_dtype() == DType::F16) scaler.emplace();

  std::vector<size_t> order(num_examples);
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(o.seed);
  std::vector<EpochLog> log;
  int64_t step_index = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    EpochLog& epoch_log = log.emplace_back(EpochLog{epoch + 1});
    double loss_sum = 0, norm_sum = 0;
    int64_t updates = 0;
    for (size_t start = 0; start < num_examples; start += batch_size) {
      const std::span<const size_t> examples(order.data() + start,
                                             std::min(batch_size, num_examples - start));
      const DropoutPlan dropout{RngKey{o.seed, static_cast<uint32_t>(step_index), 0}, true};
      const double loss_scale = scaler ? scaler->scale() : 1.0;
      const double loss = step(examples, dropout, loss_scale);
      const double grad_norm = optimizer.grad_norm(ctx, 1.0 / loss_scale);
      const bool finite = std::isfinite(grad_norm);
      const bool overflow = scaler && scaler->overflowed_at_scale(!finite);
      MASKLM_CHECK(finite || overflow,
                   "fine-tuning step {} (epoch {}): the gradients are not finite (loss {}); the "
                   "run diverged: try a lower lr or clip_norm",
                   step_index + 1, epoch + 1, loss);
      if (finite) {
        optimizer.update(ctx, schedule.at(step_index), 1.0 / loss_scale, grad_norm);
        loss_sum += loss;
        norm_sum += grad_norm;
        ++updates;
      } else {
        ++epoch_log.skipped_steps;
      }
      ++step_index;
    }
    epoch_log.train_loss = loss_sum / static_cast<double>(updates);
    epoch_log.grad_norm = norm_sum / static_cast<double>(updates);
    if (epoch_log.skipped_steps > 0)
      log_warn(
          "fine-tuning epoch {}: {} of {} batches overflowed fp16 at their loss scale and "
          "updated nothing (the scale is now {})",
          epoch_log.epoch, epoch_log.skipped_steps, steps_per_epoch, scaler->scale());
  }
  return log;
}

}  // namespace masklm
