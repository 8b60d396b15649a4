// SQuAD questions as span-extraction inputs ("features"). Each question is paired with its
// paragraph's context using the tokenizer's special tokens, [CLS] question [SEP] context
// [SEP] or <s> question </s></s> context </s> (token types 0 up to the first separator, 1
// after, when the model has two), the question cut to max_query_length tokens. A context
// longer than what max_length leaves is cut into windows that start every doc_stride
// context tokens (BERT's run_squad.py; Hugging Face's run_qa.py passes its doc_stride as
// the windows' overlap instead); every window becomes one feature.
//
// For training, a window's targets are the first answer's first and last tokens when the
// answer lies wholly inside the window, else position 0 ([CLS] / <s>), as in Hugging
// Face's run_qa.py; an unanswerable v2.0 question targets position 0 in every window.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/tokenizer.h"
#include "eval/squad.h"

namespace masklm {

// A question with its context, in dataset order; pointers into the SquadDataset, which
// must outlive them.
struct SquadExample {
  const std::string* context = nullptr;
  const SquadQuestion* question = nullptr;
};
std::vector<SquadExample> squad_examples(const SquadDataset& dataset);

struct SquadFeatureOptions {
  int64_t max_length = 384;       // tokens per feature, special tokens included
  int64_t doc_stride = 128;       // context tokens between the starts of consecutive windows
  int64_t max_query_length = 64;  // question tokens kept
  int64_t type_vocab_size = 2;    // the model's: 0 no token types, 1 all zero, 2 and more 0/1
};

// One window of one question's context.
struct SquadFeature {
  size_t example = 0;               // index into the examples it was made from
  std::vector<int32_t> ids, types;  // the model input; types empty when the model has none
  int64_t context_begin = 0;        // position in ids of the window's first context token
  // Byte range [begin, end) in the context of each of the window's context tokens, in order.
  std::vector<std::pair<size_t, size_t>> context_offsets;
  int32_t start = 0, end = 0;  // training targets, positions in ids

  int64_t context_end() const {
    return context_begin + static_cast<int64_t>(context_offsets.size());
  }
};

// The byte range [begin, end) of an answer in its context. answer_start counts characters
// (Unicode code points, as Python does); errors name the question when the context there
// is not the answer's text.
std::pair<size_t, size_t> answer_byte_range(const std::string& context, const SquadAnswer& answer,
                                            const std::string& question_id);

// Every window of every example, in example order. with_targets: each window's start and
// end from its question's first answer (checked against the context); otherwise both 0.
std::vector<SquadFeature> make_squad_features(const Tokenizer& tokenizer,
                                              const std::vector<SquadExample>& examples,
                                              const SquadFeatureOptions& options,
                                              bool with_targets);

}  // namespace masklm
