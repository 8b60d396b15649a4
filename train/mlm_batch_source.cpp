#include "train/mlm_batch_source.h"

#include <vector>

#include "runtime/error.h"

namespace masklm {

MlmBatchSource::MlmBatchSource(std::shared_ptr<const PackedDataset> data, std::shared_ptr<const Masker> masker,
                               MlmSourceOptions options)
    : data_(std::move(data)),
      masker_(std::move(masker)),
      options_(options),
      order_(data_->num_sequences(), options.seed) {
  MASKLM_CHECK(options.micro_batch_size > 0 && options.micro_steps > 0,
               "micro-batch size {} and micro-steps {} must be positive", options.micro_batch_size,
               options.micro_steps);
  MASKLM_CHECK(options.fixed_rates || options.total_steps > 0,
               "the masking-rate schedule needs the total step count, got {}", options.total_steps);
}

double MlmBatchSource::steps_per_epoch() const {
  return static_cast<double>(order_.epoch_length()) /
         static_cast<double>(options_.micro_batch_size * options_.micro_steps);
}

Batch MlmBatchSource::batch(int64_t step, int64_t micro) const {
  MASKLM_CHECK(step >= 0 && micro >= 0 && micro < options_.micro_steps, "step {} micro-batch {} out of range (0..{})",
               step, micro, options_.micro_steps - 1);
  const MaskRates rates = options_.fixed_rates ? *options_.fixed_rates : masker_->rates_at(step, options_.total_steps);
  const RngKey key{options_.seed, static_cast<uint32_t>(step), 0, RngStream::MASKING, 0};
  const int64_t per_step = options_.micro_batch_size * options_.micro_steps;
  Batch out;
  std::vector<int32_t> ids;
  for (int64_t b = 0; b < options_.micro_batch_size; ++b) {
    const int64_t j = micro * options_.micro_batch_size + b;  // index within the step
    data_->sequence(order_.at(step * per_step + j), ids);
    masker_->mask_sequence(ids, rates, key, static_cast<uint64_t>(j), out);
  }
  return out;
}

}  // namespace masklm
