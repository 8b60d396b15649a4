#include "eval/squad_score.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "data/unicode.h"
#include "runtime/error.h"

namespace masklm {

namespace {

bool is_python_space(char32_t c) {
  // Python's str.split() also splits at the ASCII separators U+001C..U+001F, which are
  // not White_Space in the Unicode tables.
  return unicode::has(c, unicode::FLAG_WHITESPACE) || (c >= 0x1C && c <= 0x1F);
}

// \w of Python's re on str patterns: alphanumeric (isalnum) or '_'.
bool is_python_word(char32_t c) {
  return c == U'_' || unicode::has(c, unicode::FLAG_REGEX_LETTER) ||
         unicode::has(c, unicode::FLAG_REGEX_NUMBER);
}

bool is_ascii_punctuation(char32_t c) {  // string.punctuation
  return c < 0x80 &&
         std::string_view(R"(!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~)").find(static_cast<char>(c)) !=
             std::string_view::npos;
}

std::u32string lower_without_punctuation(std::string_view text) {
  const std::string valid = unicode::to_valid_utf8(text);
  std::u32string out, lowered;
  for (size_t pos = 0, length = 0; pos < valid.size(); pos += length) {
    const char32_t c = unicode::decode_utf8(valid, pos, length);
    lowered.clear();
    if (!unicode::lowercase(c, lowered)) lowered = c;
    for (char32_t l : lowered)
      if (!is_ascii_punctuation(l)) out += l;
  }
  return out;
}

std::vector<std::string> answer_tokens(std::string_view text) {
  const std::string normalized = normalize_squad_answer(text);
  std::vector<std::string> tokens;
  for (size_t begin = 0; begin < normalized.size();) {
    size_t end = normalized.find(' ', begin);
    if (end == std::string::npos) end = normalized.size();
    tokens.emplace_back(normalized, begin, end - begin);
    begin = end + 1;
  }
  return tokens;
}

// The scripts' gold answers for one question: v2.0 keeps those that normalize to
// something, or the empty answer when none does.
std::vector<std::string> gold_answers(const SquadQuestion& q, SquadVersion version) {
  std::vector<std::string> gold;
  for (const SquadAnswer& a : q.answers)
    if (version == SquadVersion::V1_1 || !normalize_squad_answer(a.text).empty())
      gold.push_back(a.text);
  if (version == SquadVersion::V2_0 && gold.empty()) gold.emplace_back();
  return gold;
}

void add(SquadScore& score, double exact, double f1) {
  score.exact += exact;
  score.f1 += f1;
  ++score.total;
}

void to_percent(SquadScore& score) {
  if (score.total == 0) return;
  score.exact *= 100.0 / static_cast<double>(score.total);
  score.f1 *= 100.0 / static_cast<double>(score.total);
}

}  // namespace

std::string normalize_squad_answer(std::string_view text) {
  // The scripts' order: lower, remove punctuation, remove articles, fix whitespace.
  const std::u32string s = lower_without_punctuation(text);
  std::string out;
  bool pending_space = false;
  auto emit = [&](std::u32string_view word) {
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    for (char32_t c : word) unicode::append_utf8(out, c);
  };
  for (size_t i = 0; i < s.size();) {
    if (is_python_space(s[i])) {
      pending_space = true;
      ++i;
      continue;
    }
    // A maximal run of \w is a word for \b(a|an|the)\b; an article becomes a space.
    size_t end = i;
    while (end < s.size() && is_python_word(s[end])) ++end;
    if (end == i) {  // a non-space, non-word character stands alone
      emit(std::u32string_view(s).substr(i, 1));
      ++i;
      continue;
    }
    const std::u32string_view word = std::u32string_view(s).substr(i, end - i);
    if (word == U"a" || word == U"an" || word == U"the")
      pending_space = true;
    else
      emit(word);
    i = end;
  }
  return out;
}

double squad_exact(std::string_view gold, std::string_view predicted) {
  return normalize_squad_answer(gold) == normalize_squad_answer(predicted) ? 1.0 : 0.0;
}

double squad_f1(std::string_view gold, std::string_view predicted, SquadVersion version) {
  const std::vector<std::string> gold_tokens = answer_tokens(gold),
                                 pred_tokens = answer_tokens(predicted);
  if (version == SquadVersion::V2_0 && (gold_tokens.empty() || pred_tokens.empty()))
    return gold_tokens == pred_tokens ? 1.0 : 0.0;
  // Size of the multiset intersection (Counter(a) & Counter(b)).
  std::vector<std::string> a = gold_tokens, b = pred_tokens, common;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(common));
  if (common.empty()) return 0.0;
  const double same = static_cast<double>(common.size());
  const double precision = same / static_cast<double>(pred_tokens.size());
  const double recall = same / static_cast<double>(gold_tokens.size());
  return 2 * precision * recall / (precision + recall);
}

SquadPredictions read_squad_predictions(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  MASKLM_CHECK(in.good(), "cannot open SQuAD predictions '{}'", path.string());
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    MASKLM_FAIL("SQuAD predictions '{}' are not valid JSON: {}", path.string(), e.what());
  }
  MASKLM_CHECK(root.is_object(),
               "SQuAD predictions '{}' must be one JSON object {{question id: answer text}}",
               path.string());
  SquadPredictions predictions;
  for (const auto& [id, answer] : root.items()) {
    MASKLM_CHECK(answer.is_string(),
                 "SQuAD predictions '{}': the answer for '{}' must be a string, got {}",
                 path.string(), id, answer.dump());
    predictions.emplace(id, answer.get<std::string>());
  }
  return predictions;
}

SquadResult score_squad(const SquadDataset& gold, const SquadPredictions& predicted) {
  SquadResult result;
  std::set<std::string_view> gold_ids;
  for (const SquadArticle& article : gold.articles)
    for (const SquadParagraph& paragraph : article.paragraphs)
      for (const SquadQuestion& q : paragraph.questions) {
        gold_ids.insert(q.id);
        double exact = 0, f1 = 0;
        const auto it = predicted.find(q.id);
        if (it == predicted.end()) {
          ++result.missing_predictions;
        } else {
          for (const std::string& answer : gold_answers(q, gold.version)) {
            exact = std::max(exact, squad_exact(answer, it->second));
            f1 = std::max(f1, squad_f1(answer, it->second, gold.version));
          }
        }
        add(result.all, exact, f1);
        // evaluate-v2.0.py splits by whether the gold answer list is empty.
        if (gold.version == SquadVersion::V2_0)
          add(q.answers.empty() ? result.no_answer : result.has_answer, exact, f1);
      }
  for (const auto& entry : predicted) result.unknown_predictions += !gold_ids.contains(entry.first);
  to_percent(result.all);
  to_percent(result.has_answer);
  to_percent(result.no_answer);
  return result;
}

}  // namespace masklm
