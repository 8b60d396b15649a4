#include "eval/squad.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/config_reader.h"
#include "runtime/error.h"

namespace masklm {

namespace {

using nlohmann::json;

const json& require_array(ConfigReader& r, const std::string& key) {
  MASKLM_CHECK(r.has(key), "key '{}' is required", r.key_path(key));
  const json& node = r.section(key);
  MASKLM_CHECK(node.is_array(), "key '{}' must be a list", r.key_path(key));
  return node;
}

SquadQuestion read_question(const json& node, const std::string& path, bool& saw_impossible) {
  ConfigReader r(node, path);
  SquadQuestion q;
  q.id = r.require<std::string>("id");
  q.question = r.get<std::string>("question", "");
  saw_impossible = saw_impossible || r.has("is_impossible");
  q.is_impossible = r.get("is_impossible", false);
  const json& answers = require_array(r, "answers");
  for (size_t i = 0; i < answers.size(); ++i) {
    ConfigReader a(answers[i], fmt::format("{}.answers[{}]", path, i));
    q.answers.push_back(
        SquadAnswer{a.require<std::string>("text"), a.get<int64_t>("answer_start", 0)});
  }
  MASKLM_CHECK(q.is_impossible || !q.answers.empty(),
               "question '{}' ({}) has no answers and is not marked is_impossible", q.id, path);
  return q;
}

SquadDataset parse_squad(const json& root) {
  ConfigReader r(root, "");
  SquadDataset dataset;
  bool saw_impossible = false;
  const json& data = require_array(r, "data");
  for (size_t i = 0; i < data.size(); ++i) {
    const std::string article_path = fmt::format("data[{}]", i);
    ConfigReader article_reader(data[i], article_path);
    SquadArticle& article = dataset.articles.emplace_back();
    article.title = article_reader.get<std::string>("title", "");
    const json& paragraphs = require_array(article_reader, "paragraphs");
    for (size_t j = 0; j < paragraphs.size(); ++j) {
      const std::string paragraph_path = fmt::format("{}.paragraphs[{}]", article_path, j);
      ConfigReader paragraph_reader(paragraphs[j], paragraph_path);
      SquadParagraph& paragraph = article.paragraphs.emplace_back();
      paragraph.context = paragraph_reader.require<std::string>("context");
      const json& questions = require_array(paragraph_reader, "qas");
      for (size_t k = 0; k < questions.size(); ++k)
        paragraph.questions.push_back(read_question(
            questions[k], fmt::format("{}.qas[{}]", paragraph_path, k), saw_impossible));
    }
  }
  const std::string version = r.get<std::string>("version", "");
  if (version == "1.1" || version == "v1.1")
    dataset.version = SquadVersion::V1_1;
  else if (version == "2.0" || version == "v2.0")
    dataset.version = SquadVersion::V2_0;
  else
    MASKLM_CHECK(version.empty(), "unknown SQuAD version '{}' (known: 1.1, v2.0)", version);
  if (version.empty()) dataset.version = saw_impossible ? SquadVersion::V2_0 : SquadVersion::V1_1;
  return dataset;
}

}  // namespace

int64_t SquadDataset::num_questions() const {
  int64_t n = 0;
  for (const SquadArticle& a : articles)
    for (const SquadParagraph& p : a.paragraphs) n += static_cast<int64_t>(p.questions.size());
  return n;
}

SquadDataset read_squad(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  MASKLM_CHECK(in.good(), "cannot open SQuAD file '{}'", path.string());
  try {
    return parse_squad(json::parse(in));
  } catch (const json::exception& e) {
    MASKLM_FAIL("SQuAD file '{}' is not valid JSON: {}", path.string(), e.what());
  } catch (const Error& e) {
    MASKLM_FAIL("SQuAD file '{}': {}", path.string(), e.what());
  }
}

}  // namespace masklm
