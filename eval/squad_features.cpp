#include "eval/squad_features.h"

#include <algorithm>
#include <optional>

#include "runtime/error.h"

namespace masklm {

namespace {

// The byte offset of code point `index` of UTF-8 `text`; text.size() one past the last.
size_t code_point_byte(const std::string& text, int64_t index) {
  int64_t seen = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;  // a continuation byte
    if (seen++ == index) return i;
  }
  MASKLM_CHECK(seen == index, "character {} is past the end of a {}-character context", index,
               seen);
  return text.size();
}

// What every window of a question shares: [CLS] question [SEP] (RoBERTa: <s> question
// </s></s>) in front of the context, all of token type 0, and the separator that ends it.
struct PairLayout {
  std::vector<int32_t> head;
  int32_t sep = -1;
};

PairLayout pair_layout(const Tokenizer& tokenizer, const std::string& question,
                       int64_t max_query_length) {
  const SpecialTokens& special = tokenizer.special_tokens();
  MASKLM_CHECK(special.cls >= 0 && special.sep >= 0,
               "the tokenizer has no [CLS]/[SEP] (or <s>/</s>) tokens to build question-answering "
               "inputs from");
  std::vector<int32_t> q = tokenizer.encode(question, false).ids;
  if (static_cast<int64_t>(q.size()) > max_query_length)
    q.resize(static_cast<size_t>(max_query_length));
  PairLayout l;
  l.sep = special.sep;
  l.head.push_back(special.cls);
  l.head.insert(l.head.end(), q.begin(), q.end());
  l.head.push_back(special.sep);
  // RoBERTa separates a pair with two </s>; BERT with one [SEP].
  if (tokenizer.id_to_token(special.cls) == "<s>") l.head.push_back(special.sep);
  return l;
}

// The window's model input: head, context tokens [begin, end), separator.
void fill_input(SquadFeature& f, const PairLayout& l, const Encoding& context, size_t begin,
                size_t end, int64_t type_vocab_size) {
  f.ids = l.head;
  f.ids.insert(f.ids.end(), context.ids.begin() + static_cast<long>(begin),
               context.ids.begin() + static_cast<long>(end));
  f.ids.push_back(l.sep);
  f.context_begin = static_cast<int64_t>(l.head.size());
  f.context_offsets.assign(context.offsets.begin() + static_cast<long>(begin),
                           context.offsets.begin() + static_cast<long>(end));
  if (type_vocab_size > 0) {
    f.types.assign(f.ids.size(), type_vocab_size == 1 ? 0 : 1);
    std::fill(f.types.begin(), f.types.begin() + static_cast<long>(l.head.size()), 0);
  }
}

// Hugging Face's run_qa.py rule: the answer's first and last tokens when the window holds
// all of [begin, end), else 0.
void set_targets(SquadFeature& f, std::pair<size_t, size_t> answer) {
  const auto& offsets = f.context_offsets;
  const auto [begin, end] = answer;
  if (offsets.empty() || offsets.front().first > begin || offsets.back().second < end) return;
  size_t first = 0, last = offsets.size() - 1;
  while (first + 1 < offsets.size() && offsets[first + 1].first <= begin) ++first;
  while (last > 0 && offsets[last - 1].second >= end) --last;
  f.start = static_cast<int32_t>(f.context_begin + static_cast<int64_t>(first));
  f.end = static_cast<int32_t>(f.context_begin + static_cast<int64_t>(last));
}

}  // namespace

std::vector<SquadExample> squad_examples(const SquadDataset& dataset) {
  std::vector<SquadExample> out;
  for (const SquadArticle& a : dataset.articles)
    for (const SquadParagraph& p : a.paragraphs)
      for (const SquadQuestion& q : p.questions) out.push_back({&p.context, &q});
  return out;
}

std::pair<size_t, size_t> answer_byte_range(const std::string& context, const SquadAnswer& answer,
                                            const std::string& question_id) {
  MASKLM_CHECK(answer.answer_start >= 0, "question '{}': answer_start {} is negative", question_id,
               answer.answer_start);
  size_t begin = 0;
  try {
    begin = code_point_byte(context, answer.answer_start);
  } catch (const Error& e) {
    MASKLM_FAIL("question '{}': answer_start {}: {}", question_id, answer.answer_start, e.what());
  }
  MASKLM_CHECK(context.compare(begin, answer.text.size(), answer.text) == 0,
               "question '{}': the context at answer_start {} reads '{}', not the answer '{}'",
               question_id, answer.answer_start, context.substr(begin, answer.text.size()),
               answer.text);
  return {begin, begin + answer.text.size()};
}

std::vector<SquadFeature> make_squad_features(const Tokenizer& tokenizer,
                                              const std::vector<SquadExample>& examples,
                                              const SquadFeatureOptions& o, bool with_targets) {
  MASKLM_CHECK(o.doc_stride > 0 && o.max_query_length > 0,
               "doc_stride and max_query_length must be positive");
  std::vector<SquadFeature> out;
  const std::string* encoded_context = nullptr;  // questions of one paragraph share its encoding
  Encoding context;
  for (size_t e = 0; e < examples.size(); ++e) {
    const SquadExample& example = examples[e];
    if (example.context != encoded_context) {
      context = tokenizer.encode(*example.context, false);
      encoded_context = example.context;
    }
    const SquadQuestion& question = *example.question;
    const PairLayout layout = pair_layout(tokenizer, question.question, o.max_query_length);
    const int64_t room = o.max_length - static_cast<int64_t>(layout.head.size()) - 1;
    MASKLM_CHECK(room > 0,
                 "max_length {} leaves no room for the context after question '{}' ({} tokens with "
                 "specials)",
                 o.max_length, question.id, layout.head.size() + 1);
    std::optional<std::pair<size_t, size_t>> answer;
    if (with_targets && !question.is_impossible && !question.answers.empty())
      answer = answer_byte_range(*example.context, question.answers.front(), question.id);

    // BERT's windows: one every doc_stride tokens (at most a window apart) until one
    // reaches the end; one window, with no context tokens, for an empty context.
    const size_t n = context.ids.size(), window = static_cast<size_t>(room);
    const size_t stride = std::min(window, static_cast<size_t>(o.doc_stride));
    for (size_t begin = 0;; begin += stride) {
      const size_t end = std::min(n, begin + window);
      SquadFeature& f = out.emplace_back();
      f.example = e;
      fill_input(f, layout, context, begin, end, o.type_vocab_size);
      if (answer) set_targets(f, *answer);
      if (end == n) break;
    }
  }
  return out;
}

}  // namespace masklm
