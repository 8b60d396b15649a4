// SQuAD inputs and answers by hand: windows over a long context (an answer cut by a window
// boundary, an answer in the overlap of two windows, a long question cut), the special
// tokens of BERT- and RoBERTa-style tokenizers, answer offsets through non-ASCII text, and
// the n-best post-processing (start after end, too long, outside the context, n-best cut,
// the v2.0 null answer winning and losing, windows aggregated).
#include <gtest/gtest.h>

#include "data_test_support.h"
#include "eval/squad_features.h"
#include "eval/squad_postprocess.h"
#include "expect_error.h"

namespace masklm {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::WordTokenizer;

constexpr int64_t kVocab = 1000;
int32_t word(std::string_view w) { return WordTokenizer::word_id(w, kVocab); }

// Ten one-token words "c0 ... c9"; word k occupies bytes [3k, 3k + 2).
const std::string kTenWords = "c0 c1 c2 c3 c4 c5 c6 c7 c8 c9";

SquadQuestion question(std::string id, std::string text, std::vector<SquadAnswer> answers) {
  SquadQuestion q;
  q.id = std::move(id);
  q.question = std::move(text);
  q.answers = std::move(answers);
  q.is_impossible = q.answers.empty();
  return q;
}

// Question "q0 q1 q2": [CLS] + 3 + [SEP] in front, [SEP] behind, so max_length 11 leaves 5
// context tokens a window; doc_stride 3 starts windows at c0, c3 and c6 (which reaches c9).
SquadFeatureOptions ten_word_options() {
  SquadFeatureOptions o;
  o.max_length = 11;
  o.doc_stride = 3;
  return o;
}

std::vector<SquadFeature> ten_word_windows(const SquadQuestion& q, bool with_targets = true) {
  return make_squad_features(WordTokenizer(kVocab), {{&kTenWords, &q}}, ten_word_options(),
                             with_targets);
}

// Each window's (start, end) targets.
using Targets = std::vector<std::pair<int32_t, int32_t>>;
Targets targets(const std::vector<SquadFeature>& windows) {
  Targets out;
  for (const SquadFeature& w : windows) out.emplace_back(w.start, w.end);
  return out;
}

TEST(SquadFeatures, WindowsOverALongContext) {
  const SquadQuestion q = question("q", "q0 q1 q2", {{"c4 c5", 12}});
  const std::vector<SquadFeature> f = ten_word_windows(q);
  ASSERT_EQ(f.size(), 3u);
  const std::vector<int32_t> head{WordTokenizer::kCls, word("q0"), word("q1"), word("q2"),
                                  WordTokenizer::kSep};
  for (size_t w = 0; w < 3; ++w) {
    std::vector<int32_t> expected = head;
    const int first = static_cast<int>(3 * w), last = std::min(first + 5, 10);
    for (int k = first; k < last; ++k) expected.push_back(word(fmt::format("c{}", k)));
    expected.push_back(WordTokenizer::kSep);
    EXPECT_EQ(f[w].ids, expected) << "window " << w;
    EXPECT_EQ(f[w].example, 0u);
    EXPECT_EQ(f[w].context_begin, 5);
    ASSERT_EQ(f[w].context_offsets.size(), static_cast<size_t>(last - first));
    EXPECT_EQ(f[w].context_offsets.front(),
              (std::pair<size_t, size_t>{3u * first, 3u * first + 2}));
    // Types: 0 for [CLS] question [SEP], 1 for the context and the last [SEP].
    EXPECT_EQ(std::count(f[w].types.begin(), f[w].types.end(), 0), 5);
    EXPECT_EQ(std::count(f[w].types.begin(), f[w].types.end(), 1), last - first + 1);
  }
  // "c4 c5" crosses the end of window 0 (c0..c4): not wholly inside, so [CLS] there, as in
  // window 2 (c6..c9); window 1 (c3..c7) holds it at positions 5 + 1 and 5 + 2.
  EXPECT_EQ(targets(f), (Targets{{0, 0}, {6, 7}, {0, 0}}));
}

TEST(SquadFeatures, AnswerInTheOverlapOfTwoWindowsIsATargetInBoth) {
  const SquadQuestion q = question("q", "q0 q1 q2", {{"c3", 9}});
  // c3 is the 4th context token of window 0 (position 5 + 3) and the 1st of window 1.
  EXPECT_EQ(targets(ten_word_windows(q)), (Targets{{8, 8}, {5, 5}, {0, 0}}));
  // Without targets (dev) every window keeps 0.
  EXPECT_EQ(targets(ten_word_windows(q, false)), (Targets{{0, 0}, {0, 0}, {0, 0}}));
}

TEST(SquadFeatures, LongQuestionsAreCutAndStridesNeverSkipTokens) {
  const WordTokenizer tok(kVocab);
  const SquadQuestion q = question("q", "q0 q1 q2 q3 q4 q5", {});
  SquadFeatureOptions o = ten_word_options();
  o.max_query_length = 2;  // [CLS] q0 q1 [SEP]: 6 context tokens a window
  o.doc_stride = 100;      // larger than a window: windows follow each other without a gap
  const std::vector<SquadFeature> f = make_squad_features(tok, {{&kTenWords, &q}}, o, true);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].ids[1], word("q0"));
  EXPECT_EQ(f[0].ids[2], word("q1"));
  EXPECT_EQ(f[0].ids[3], WordTokenizer::kSep);
  EXPECT_EQ(f[0].context_offsets.size(), 6u);
  EXPECT_EQ(f[1].context_offsets.front().first, 18u);  // c6
  EXPECT_EQ(f[1].context_offsets.size(), 4u);
  // Unanswerable: [CLS] everywhere. No token types for a model without them.
  o.type_vocab_size = 0;
  for (const SquadFeature& w : make_squad_features(tok, {{&kTenWords, &q}}, o, true)) {
    EXPECT_EQ(std::pair(w.start, w.end), std::pair(0, 0));
    EXPECT_TRUE(w.types.empty());
  }
  o.max_length = 5;  // [CLS] q0 q1 [SEP] ... [SEP]: nothing left for the context
  expect_error(
      [&] {
        make_squad_features(tok, {{&kTenWords, &q}}, o, true);
      },
      {"max_length 5", "'q'"});
}

TEST(SquadFeatures, RobertaStyleTokenizersUseTwoSeparatorsAndOneTokenType) {
  const auto tok = Tokenizer::load(fs::path(MASKLM_FIXTURE_DIR) / "tokenizer_bpe.json");
  ASSERT_EQ(tok->id_to_token(tok->special_tokens().cls), "<s>");
  const std::string context = "the cat sat on the mat";
  const SquadQuestion q = question("q", "where", {{"the mat", 15}});
  SquadFeatureOptions o;
  o.type_vocab_size = 1;
  const std::vector<SquadFeature> f = make_squad_features(*tok, {{&context, &q}}, o, true);
  ASSERT_EQ(f.size(), 1u);
  const std::vector<int32_t> qids = tok->encode("where", false).ids,
                             cids = tok->encode(context, false).ids;
  const int32_t s = tok->special_tokens().sep;
  std::vector<int32_t> expected{tok->special_tokens().cls};
  expected.insert(expected.end(), qids.begin(), qids.end());
  expected.insert(expected.end(), {s, s});
  expected.insert(expected.end(), cids.begin(), cids.end());
  expected.push_back(s);
  EXPECT_EQ(f[0].ids, expected);
  EXPECT_EQ(f[0].types, std::vector<int32_t>(expected.size(), 0));
  // The answer's tokens read back as exactly "the mat".
  const auto& off = f[0].context_offsets;
  const size_t first = static_cast<size_t>(f[0].start - f[0].context_begin);
  const size_t last = static_cast<size_t>(f[0].end - f[0].context_begin);
  EXPECT_EQ(context.substr(off[first].first, off[last].second - off[first].first), "the mat");
}

TEST(SquadFeatures, AnswerStartCountsCharactersNotBytes) {
  const std::string context = "Das Café liegt in Zürich.";
  // "é" is two bytes: character 18 is byte 19; "Zürich" is 6 characters, 7 bytes.
  EXPECT_EQ(answer_byte_range(context, {"Zürich", 18}, "q1"), (std::pair<size_t, size_t>{19, 26}));
  expect_error(
      [&] {
        answer_byte_range(context, {"Zürich", 19}, "q1");
      },
      {"question 'q1'", "answer_start 19", "'ürich.'", "'Zürich'"});
  expect_error(
      [&] {
        answer_byte_range(context, {"x", 40}, "q2");
      },
      {"question 'q2'", "answer_start 40"});
}

// Post-processing. One window: [CLS] q [SEP] aa bb cc dd [SEP], the context "aa bb cc dd".
const std::string kContext = "aa bb cc dd";

SquadFeature four_word_window(size_t example = 0) {
  SquadFeature f;
  f.example = example;
  f.ids = {2, 10, 3, 11, 12, 13, 14, 3};
  f.context_begin = 3;
  f.context_offsets = {{0, 2}, {3, 5}, {6, 8}, {9, 11}};
  return f;
}

SpanLogits logits(std::vector<double> start, std::vector<double> end) {
  return {std::move(start), std::move(end)};
}

std::string answer(const SpanLogits& l, const SquadPostprocessOptions& o = {},
                   SquadVersion version = SquadVersion::V1_1) {
  static const SquadQuestion q = question("id", "q", {});
  return postprocess_squad({{&kContext, &q}}, {four_word_window()}, {l}, version, o).at("id");
}

TEST(SquadPostprocess, BestValidSpanWins) {
  EXPECT_EQ(answer(logits({0, 0, 0, 5, 1, 0, 0, 0}, {0, 0, 0, 0, 4, 1, 0, 0})), "aa bb");  // 5 + 4
  // The highest pair (cc, bb) = 12 has its start after its end; the best valid one is
  // (aa, bb) = 1 + 6 = 7, above (cc, cc) = 6.5.
  const SpanLogits crossed = logits({0, 0, 0, 1, 0, 6, 0, 0}, {0, 0, 0, 0, 6, 0.5, 0, 0});
  EXPECT_EQ(answer(crossed), "aa bb");
  // n_best 1 pairs only (cc, bb): no valid candidate, no answer. n_best 2 adds aa and cc.
  SquadPostprocessOptions o;
  o.n_best = 1;
  EXPECT_EQ(answer(crossed, o), "");
  o.n_best = 2;
  EXPECT_EQ(answer(crossed, o), "aa bb");
  // [CLS], question and [SEP] tokens are never ends of a span, however high.
  EXPECT_EQ(answer(logits({9, 9, 9, 0, 1, 0, 0, 9}, {9, 9, 9, 0, 0, 0, 1, 9})), "bb cc dd");
}

TEST(SquadPostprocess, MaxAnswerLengthCountsTokens) {
  const SpanLogits l = logits({0, 0, 0, 3, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 1, 2, 0});
  SquadPostprocessOptions o;
  EXPECT_EQ(answer(l, o), "aa bb cc dd");  // 4 tokens: 3 + 2
  o.max_answer_length = 3;
  EXPECT_EQ(answer(l, o), "aa bb cc");  // 3 + 1
  o.max_answer_length = 1;
  EXPECT_EQ(answer(l, o), "aa");  // 3 + 0
}

TEST(SquadPostprocess, NullAnswerAgainstTheBestSpanInV2) {
  // Best span (aa, bb) = 5 + 4 = 9; the null score is start[0] + end[0].
  auto with_null = [](double null_start, double null_end) {
    return logits({null_start, 0, 0, 5, 1, 0, 0, 0}, {null_end, 0, 0, 0, 4, 1, 0, 0});
  };
  SquadPostprocessOptions o;
  EXPECT_EQ(answer(with_null(5, 4.5), o, SquadVersion::V2_0), "");       // 9.5 - 9 > 0
  EXPECT_EQ(answer(with_null(5, 3.5), o, SquadVersion::V2_0), "aa bb");  // 8.5 - 9 < 0
  EXPECT_EQ(answer(with_null(5, 4.5), o, SquadVersion::V1_1), "aa bb");  // v1.1 has no null answer
  o.null_threshold = 1.0;
  EXPECT_EQ(answer(with_null(5, 4.5), o, SquadVersion::V2_0), "aa bb");  // 0.5 is not above 1
}

TEST(SquadPostprocess, WindowsOfAQuestionAreAggregated) {
  const SquadQuestion q = question("id", "q", {});
  SquadFeature second = four_word_window();
  second.context_offsets = {
      {3, 5}, {6, 8}, {9, 11}, {9, 11}};  // a window further on (its last token repeated)
  const std::vector<SquadFeature> features{four_word_window(), second};
  // Window 1 scores 2 + 2 for "aa", window 2 scores 3 + 3 for its first token, "bb".
  const std::vector<SpanLogits> l{logits({4, 0, 0, 2, 0, 0, 0, 0}, {4, 0, 0, 2, 0, 0, 0, 0}),
                                  logits({1, 0, 0, 3, 0, 0, 0, 0}, {1, 0, 0, 3, 0, 0, 0, 0})};
  const SquadPostprocessOptions o;
  EXPECT_EQ(postprocess_squad({{&kContext, &q}}, features, l, SquadVersion::V1_1, o).at("id"),
            "bb");
  // v2.0: the null score is the smaller one over the windows, 1 + 1 = 2 < 6.
  EXPECT_EQ(postprocess_squad({{&kContext, &q}}, features, l, SquadVersion::V2_0, o).at("id"),
            "bb");
}

TEST(SquadPostprocess, NonAsciiAnswersReadBackExactly) {
  const auto tok = Tokenizer::load(fs::path(MASKLM_FIXTURE_DIR) / "tokenizer_wordpiece.json");
  const std::string context = "Das Café liegt in Zürich.";
  const SquadQuestion q = question("q", "wo", {{"Zürich", 18}});
  const std::vector<SquadFeature> f =
      make_squad_features(*tok, {{&context, &q}}, SquadFeatureOptions{}, true);
  ASSERT_EQ(f.size(), 1u);
  ASSERT_GT(f[0].start, 0);
  // The targets' tokens cover exactly the answer's bytes.
  EXPECT_EQ(f[0].context_offsets[static_cast<size_t>(f[0].start - f[0].context_begin)].first, 19u);
  EXPECT_EQ(f[0].context_offsets[static_cast<size_t>(f[0].end - f[0].context_begin)].second, 26u);
  // Logits that point at the targets give back the original text, accent and case kept
  // (the tokenizer lowercases; offsets point into the original).
  SpanLogits l{std::vector<double>(f[0].ids.size(), 0.0),
               std::vector<double>(f[0].ids.size(), 0.0)};
  l.start[static_cast<size_t>(f[0].start)] = 5;
  l.end[static_cast<size_t>(f[0].end)] = 5;
  EXPECT_EQ(postprocess_squad({{&context, &q}}, f, {l}, SquadVersion::V1_1, {}).at("q"), "Zürich");
}

}  // namespace
}  // namespace masklm
