// The configuration of one pretraining run, read from a recipe (configs/*.yaml, after
// --set overrides) section by section with strict readers:
//   model     preset and/or explicit shape, pre_layernorm, dropouts (ModelConfig fields)
//   train     steps, batch sizes, sequence length, lr schedule, AdamW, evaluation, checkpoints
//   data      where batches come from; read by the data source (train/training_data.h)
//   masking   passed through untouched to the masking module
// docs/config.md is the reference for every key.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>

#include "model/config.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"

namespace masklm {

struct TrainConfig {
  int64_t steps = 1000;
  int64_t batch_size = 32;        // sequences per optimizer step over all ranks (the global batch)
  int64_t micro_batch_size = 32;  // sequences per forward/backward on one rank; divides batch_size
  int64_t seq_len = 128;
  uint64_t seed = 0;                      // init, dropout and data order
  LrSchedule lr;                          // warmup_steps resolved from warmup_fraction when given
  std::optional<double> warmup_fraction;  // as the recipe gave it, so overriding steps rescales it
  AdamWConfig optimizer;
  int64_t log_every = 10;        // steps per progress line and metrics record
  int64_t eval_every = 0;        // 0: evaluate only after the last step
  int64_t eval_batches = 4;      // validation micro-batches per evaluation
  double eval_mask_rate = 0.15;  // fixed evaluation masking, the same for every run
  uint64_t eval_seed = 1234;
  int64_t checkpoint_every = 0;  // 0: checkpoint only after the last step
  int64_t keep_last = 2;         // checkpoints kept; older ones are deleted
  int64_t max_bad_steps = 5;     // non-finite steps in a row before the run stops
  int64_t zero = 0;              // ZeRO stage: 0, or 1 to shard AdamW's state across ranks
  bool overlap_comm = true;      // all-reduce gradient buckets during the backward pass
  double bucket_mib = 25;        // gradient bucket size for the all-reduce (PyTorch DDP's)
  // The compute dtype: F32, or BF16/F16 mixed precision (fp32 master weights, optimizer
  // state and statistics; F16 adds dynamic loss scaling). Spelled fp32, bf16, fp16.
  DType precision = DType::F32;
  // The attention kernel (kernels/ops.h's AttentionKernel): auto, fused, cudnn or reference.
  AttentionKernel attention = AttentionKernel::AUTO;

  // Micro-batches per step over all ranks; each of W ranks runs accumulation_steps() / W.
  int64_t accumulation_steps() const { return batch_size / micro_batch_size; }
};

struct RunConfig {
  ModelConfig model;  // vocab_size 0 until the data source provides it
  TrainConfig train;
  nlohmann::json data;     // the data section, read by open_training_data
  nlohmann::json masking;  // the masking section, untouched
};

// Throws masklm::Error naming the key for unknown keys, wrong types and impossible values
// (batch_size not a multiple of micro_batch_size, seq_len above max_position_embeddings...).
RunConfig parse_run_config(const nlohmann::json& root);
// The resolved configuration (presets expanded, every default written),
// which parse_run_config reads back to the same RunConfig.
nlohmann::json run_config_to_json(const RunConfig& config);

// "fp32", "bf16", "fp16" and back; an unknown name is an error listing the known ones.
DType precision_from_name(std::string_view name);
std::string_view precision_name(DType precision);
// "auto", "fused", "cudnn", "reference" and back.
AttentionKernel attention_kernel_from_name(std::string_view name);
std::string_view attention_kernel_name(AttentionKernel kernel);
// Whether the kernel runs only 16-bit tensors on a GPU (fused, cudnn).
bool attention_needs_16bit_gpu(AttentionKernel kernel);

// Sets model.vocab_size from the data source; a vocab_size given in the recipe must agree.
// For the skip-corrupted model it also takes the [MASK] id from the data (mask_token_id,
// -1 when the data has none) unless model.mask_token_id is set.
void resolve_vocab_size(RunConfig& config, int64_t data_vocab_size, int64_t mask_token_id = -1);

}  // namespace masklm
