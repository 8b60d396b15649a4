// SQuAD: reading v1.1/v2.0 files, the official answer normalization and EM/F1 by hand, and
// whole-file scores against the official scripts' logic (fixtures/make_score_fixtures.py).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "data_test_support.h"
#include "eval/squad.h"
#include "eval/squad_score.h"
#include "expect_error.h"

namespace masklm {
namespace {

using testing::expect_error;
using SquadFiles = testing::TempDirTest;

const std::filesystem::path kFixtures = MASKLM_FIXTURE_DIR "/score";

TEST(SquadNormalize, FollowsTheOfficialSteps) {
  EXPECT_EQ(normalize_squad_answer("The Eiffel  Tower!"), "eiffel tower");
  EXPECT_EQ(normalize_squad_answer("  an apple, a pear and THE plum. "), "apple pear and plum");
  // Punctuation goes before articles, so "the-end" becomes one word that is not an article.
  EXPECT_EQ(normalize_squad_answer("the-end"), "theend");
  EXPECT_EQ(normalize_squad_answer("A.B"), "ab");
  EXPECT_EQ(normalize_squad_answer("anthem theatre"),
            "anthem theatre");  // articles only as whole words
  EXPECT_EQ(normalize_squad_answer("a"), "");
  EXPECT_EQ(normalize_squad_answer("1,234"), "1234");
  // Non-ASCII: Unicode lowercase and whitespace; only ASCII punctuation is removed.
  EXPECT_EQ(normalize_squad_answer("ZÜRICH\u00a0«Café»"), "zürich «café»");
  // A letter after "the" keeps it a longer word; a combining mark is not a word character.
  EXPECT_EQ(normalize_squad_answer("thé"), "thé");
  EXPECT_EQ(normalize_squad_answer("the\u0301"), "\u0301");
}

TEST(SquadScore, ExactAndF1ByHand) {
  EXPECT_EQ(squad_exact("The Cat", "cat"), 1.0);
  EXPECT_EQ(squad_exact("cat the", "cat"), 1.0);
  EXPECT_EQ(squad_exact("cats", "cat"), 0.0);
  // gold {new, york, city}, prediction {york}: P = 1, R = 1/3, F1 = 2 * 1/3 / (4/3) = 0.5.
  EXPECT_DOUBLE_EQ(squad_f1("New York City", "york", SquadVersion::V1_1), 0.5);
  // Repeated tokens count as a multiset: gold {red, blue, red}, pred {red, red, green}:
  // 2 in common, P = R = 2/3.
  EXPECT_DOUBLE_EQ(squad_f1("red blue red", "red red green", SquadVersion::V2_0), 2.0 / 3.0);
  // Both answers normalize to nothing: v1.1 scores F1 0, v2.0 scores 1.
  EXPECT_EQ(squad_f1("the", "an", SquadVersion::V1_1), 0.0);
  EXPECT_EQ(squad_f1("the", "an", SquadVersion::V2_0), 1.0);
  EXPECT_EQ(squad_f1("", "something", SquadVersion::V2_0), 0.0);
}

constexpr const char* kV2 = R"({"version": "v2.0", "data": [{"title": "T", "paragraphs": [
  {"context": "Paris is the capital of France.", "qas": [
    {"id": "a", "question": "Capital?", "answers": [{"text": "Paris", "answer_start": 0},
                                                    {"text": "Paris, France", "answer_start": 0}],
     "is_impossible": false},
    {"id": "b", "question": "Moon?", "answers": [], "is_impossible": true,
     "plausible_answers": [{"text": "France", "answer_start": 24}]},
    {"id": "c", "question": "Country?", "answers": [{"text": "France", "answer_start": 24}],
     "is_impossible": false}]}]}]})";

TEST_F(SquadFiles, ReadsV2WithImpossibleQuestions) {
  const SquadDataset d = read_squad(write_file("dev.json", kV2));
  EXPECT_EQ(d.version, SquadVersion::V2_0);
  EXPECT_EQ(d.num_questions(), 3);
  const SquadParagraph& p = d.articles.at(0).paragraphs.at(0);
  EXPECT_EQ(p.context, "Paris is the capital of France.");
  EXPECT_EQ(p.questions.at(0).answers.at(1).text, "Paris, France");
  EXPECT_EQ(p.questions.at(2).answers.at(0).answer_start, 24);
  EXPECT_TRUE(p.questions.at(1).is_impossible);
  EXPECT_TRUE(p.questions.at(1).answers.empty());
}

TEST_F(SquadFiles, ScoresV2WithTheHasAnsNoAnsBreakdown) {
  const SquadDataset d = read_squad(write_file("dev.json", kV2));
  // a: exact (max over the two golds). b: empty prediction for an empty gold: 1/1.
  // c: "France Paris" against "France": EM 0, F1 2 * 1/2 * 1 / 1.5 = 2/3.
  const SquadResult r =
      score_squad(d, {{"a", "paris"}, {"b", ""}, {"c", "France Paris"}, {"zzz", "x"}});
  EXPECT_EQ(r.all.total, 3);
  EXPECT_DOUBLE_EQ(r.all.exact, 100.0 * 2 / 3);
  EXPECT_DOUBLE_EQ(r.all.f1, 100.0 * (1 + 1 + 2.0 / 3) / 3);
  EXPECT_EQ(r.has_answer.total, 2);
  EXPECT_DOUBLE_EQ(r.has_answer.exact, 50.0);
  EXPECT_DOUBLE_EQ(r.has_answer.f1, 100.0 * (1 + 2.0 / 3) / 2);
  EXPECT_EQ(r.no_answer.total, 1);
  EXPECT_DOUBLE_EQ(r.no_answer.exact, 100.0);
  EXPECT_EQ(r.unknown_predictions, 1);
  EXPECT_EQ(r.missing_predictions, 0);
  // An answer to an unanswerable question scores 0.
  const SquadResult wrong = score_squad(d, {{"a", "Paris"}, {"b", "France"}, {"c", "France"}});
  EXPECT_DOUBLE_EQ(wrong.no_answer.f1, 0.0);
  EXPECT_DOUBLE_EQ(wrong.has_answer.f1, 100.0);
}

TEST_F(SquadFiles, VersionFromTheFileOrItsQuestions) {
  const std::string body = R"("data": [{"paragraphs": [{"context": "c", "qas": [
      {"id": "q", "answers": [{"text": "c", "answer_start": 0}]}]}]}])";
  EXPECT_EQ(read_squad(write_file("v1.json", "{\"version\": \"1.1\", " + body + "}")).version,
            SquadVersion::V1_1);
  EXPECT_EQ(read_squad(write_file("none.json", "{" + body + "}")).version, SquadVersion::V1_1);
  const std::string v2_body = R"({"data": [{"paragraphs": [{"context": "c", "qas": [
      {"id": "q", "answers": [], "is_impossible": true}]}]}]})";
  EXPECT_EQ(read_squad(write_file("v2.json", v2_body)).version, SquadVersion::V2_0);
  expect_error([&] { read_squad(write_file("v3.json", "{\"version\": \"3\", " + body + "}")); },
               {"v3.json", "unknown SQuAD version '3'"});
}

TEST_F(SquadFiles, MalformedFilesNameTheJsonPath) {
  expect_error([&] { read_squad(write_file("bad.json", "{\"data\": [")); },
               {"bad.json", "not valid JSON"});
  expect_error([&] { read_squad(write_file("nodata.json", "{\"version\": \"1.1\"}")); },
               {"nodata.json", "'data'"});
  expect_error(
      [&] {
        read_squad(write_file("noid.json", R"({"data": [{"paragraphs": [{"context": "c", "qas": [
                    {"id": "q", "answers": [{"text": "c"}]}, {"answers": []}]}]}]})"));
      },
      {"noid.json", "data[0].paragraphs[0].qas[1].id"});
  expect_error(
      [&] {
        read_squad(
            write_file("noanswer.json", R"({"data": [{"paragraphs": [{"context": "c", "qas": [
                    {"id": "q", "answers": []}]}]}]})"));
      },
      {"noanswer.json", "question 'q'", "not marked is_impossible"});
  expect_error([&] { read_squad_predictions(write_file("p.json", R"({"q": 3})")); },
               {"p.json", "'q' must be a string"});
  expect_error([&] { read_squad_predictions(write_file("l.json", R"(["x"])")); },
               {"l.json", "one JSON object"});
}

void expect_matches_official(const std::string& name) {
  std::ifstream in(kFixtures / "expected.json");
  const nlohmann::json expected = nlohmann::json::parse(in)[name];
  const SquadDataset gold = read_squad(kFixtures / (name + ".json"));
  const SquadPredictions predicted = read_squad_predictions(kFixtures / (name + "_pred.json"));
  // Per question first, so a difference points at the answer pair that causes it.
  for (const SquadArticle& article : gold.articles)
    for (const SquadParagraph& paragraph : article.paragraphs)
      for (const SquadQuestion& q : paragraph.questions) {
        if (!expected["questions"].contains(q.id)) continue;  // no prediction
        SquadDataset one{gold.version, {{article.title, {{paragraph.context, {q}}}}}};
        const SquadResult r = score_squad(one, predicted);
        EXPECT_NEAR(r.all.exact, 100 * expected["questions"][q.id]["exact"].get<double>(), 1e-12)
            << q.id;
        EXPECT_NEAR(r.all.f1, 100 * expected["questions"][q.id]["f1"].get<double>(), 1e-12)
            << q.id << ": '" << predicted.at(q.id) << "' against '" << q.answers.at(0).text << "'";
      }
  const SquadResult r = score_squad(gold, predicted);
  EXPECT_EQ(r.unknown_predictions, 1);
  if (gold.version == SquadVersion::V1_1) {
    EXPECT_NEAR(r.all.exact, expected["exact_match"].get<double>(), 1e-12);
    EXPECT_NEAR(r.all.f1, expected["f1"].get<double>(), 1e-12);
    EXPECT_EQ(r.all.total, expected["total"].get<int64_t>());
    EXPECT_EQ(r.missing_predictions, 1);
    return;
  }
  const std::pair<const char*, const SquadScore*> parts[] = {
      {"", &r.all}, {"HasAns_", &r.has_answer}, {"NoAns_", &r.no_answer}};
  for (const auto& [prefix, score] : parts) {
    EXPECT_NEAR(score->exact, expected[std::string(prefix) + "exact"].get<double>(), 1e-12)
        << prefix;
    EXPECT_NEAR(score->f1, expected[std::string(prefix) + "f1"].get<double>(), 1e-12) << prefix;
    EXPECT_EQ(score->total, expected[std::string(prefix) + "total"].get<int64_t>()) << prefix;
  }
}

TEST(SquadScore, V1MatchesTheOfficialScript) { expect_matches_official("squad_v1"); }
TEST(SquadScore, V2MatchesTheOfficialScript) { expect_matches_official("squad_v2"); }

}  // namespace
}  // namespace masklm
