// Masks sequences for MLM training (DESIGN.md §5, docs/masking.md).
//
// Per sequence: cut the non-special tokens into units (UnitSegmenter), shuffle the units
// into a random priority order, and with n eligible tokens select the first n·m_pred
// tokens' worth of units for prediction and the first n·m_corr for corruption. The two
// sets are prefixes of the same order, so one contains the other. Units are never split:
// the unit that straddles a cut at n·m is taken whole with probability (n·m − c)/len
// (c = tokens before it in the order), so the expected count is exactly n·m at any
// length; for single-token units this is probabilistic rounding floor(n·m + u). Both cuts
// use the same u, which keeps them nested when they fall in the same unit.
// A corrupted token becomes [MASK] or, with probability random_share, a random token;
// a predicted token that is not corrupted is kept as is.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "masking/masking_config.h"
#include "masking/pmi_vocabulary.h"
#include "masking/replacement_sampler.h"
#include "masking/unit_segmenter.h"
#include "masking/vocab_info.h"
#include "model/batch.h"
#include "runtime/philox.h"

namespace masklm {

enum class Corruption : uint8_t { NONE, MASK, RANDOM };

// How one sequence was masked, position by position.
struct SequenceMasking {
  std::vector<int32_t> input;          // (T) the model's input after corruption
  std::vector<uint8_t> predicted;      // (T) 1 where the original token is a target
  std::vector<Corruption> corruption;  // (T)
  int64_t eligible = 0;                // n: non-special tokens
  int64_t selected_units = 0;          // units predicted or corrupted
};

class Masker {
 public:
  // `pmi` is required for strategy pmi (e.g. PmiVocabulary::load(config.pmi_vocab)).
  Masker(MaskingConfig config, VocabInfo vocab, PmiVocabulary pmi = {});
  Masker(const Masker&) = delete;  // segmenter_ refers to vocab_ and pmi_
  Masker& operator=(const Masker&) = delete;

  const MaskingConfig& config() const { return config_; }
  const VocabInfo& vocab() const { return vocab_; }
  // Null when corrupted tokens never become random ones (random_share 0).
  const ReplacementSampler* replacement() const { return replacement_ ? &*replacement_ : nullptr; }
  MaskRates rates_at(int64_t step, int64_t total_steps) const {
    return masklm::rates_at(config_, step, total_steps);
  }

  // Masks `ids`. Every draw comes from `key` = (seed, step, rank, RngStream::MASKING,
  // substream, e.g. the micro-step) and `sequence`, the sequence's index under that key.
  SequenceMasking mask(std::span<const int32_t> ids, const MaskRates& rates, const RngKey& key,
                       uint64_t sequence) const;
  // mask(), then appends the sequence to `out`: its corrupted input with positions from 0,
  // its corruption flags, and one prediction (flat index, original id) per predicted token.
  // `out` must hold flags for all its earlier tokens (as batches built by masking do).
  void mask_sequence(std::span<const int32_t> ids, const MaskRates& rates, const RngKey& key,
                     uint64_t sequence, Batch& out) const;

 private:
  MaskingConfig config_;
  VocabInfo vocab_;
  PmiVocabulary pmi_;
  UnitSegmenter segmenter_;
  std::optional<ReplacementSampler> replacement_;  // only when random_share > 0
};

}  // namespace masklm
