// GLUE: the task registry, reading each task's TSV layout (header, columns, quirks),
// errors naming file:line, and scoring the fixture dev files against the values
// scikit-learn/scipy give (tests/fixtures/make_score_fixtures.py).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "data/glue_reader.h"
#include "data_test_support.h"
#include "eval/glue_score.h"
#include "eval/glue_tasks.h"
#include "expect_error.h"

namespace masklm {
namespace {

using testing::expect_error;
using GlueReader = testing::TempDirTest;

const std::filesystem::path kFixtures = MASKLM_FIXTURE_DIR "/score";

TEST(GlueTasks, RegistryHasEveryTaskWithItsMetrics) {
  EXPECT_EQ(glue_tasks().size(), 12u);  // GLUE's ten and the two Reuters-21578 tasks
  EXPECT_EQ(glue_task("CoLA").metrics, std::vector<GlueMetric>{GlueMetric::MATTHEWS_CORR});
  EXPECT_EQ(glue_task("SST-2").name, "sst2");
  EXPECT_EQ(glue_task("sts_b").num_labels(), 1);
  EXPECT_TRUE(glue_task("STS-B").is_regression());
  EXPECT_EQ(glue_task("mrpc").metrics,
            (std::vector<GlueMetric>{GlueMetric::F1, GlueMetric::ACCURACY}));
  EXPECT_EQ(glue_task("qqp").metrics.front(), GlueMetric::F1);
  EXPECT_EQ(glue_task("mnli").dev_file, "dev_matched.tsv");
  EXPECT_EQ(glue_task("MNLI-m").name, "mnli");
  EXPECT_EQ(glue_task("mnli-mm").file(GlueSplit::TEST), "test_mismatched.tsv");
  EXPECT_EQ(glue_task("mnli-mm").directory, "MNLI");
  EXPECT_EQ(glue_task("mnli").num_labels(), 3);
  EXPECT_EQ(glue_task("rte").label_names,
            (std::vector<std::string>{"entailment", "not_entailment"}));
  for (const char* name : {"sst2", "qnli", "rte", "wnli"})
    EXPECT_EQ(glue_task(name).metrics, std::vector<GlueMetric>{GlueMetric::ACCURACY}) << name;
  EXPECT_EQ(glue_metric_name(GlueMetric::MATTHEWS_CORR), "matthews_corr");
  expect_error([] { glue_task("squad"); },
               {"unknown task 'squad'", "cola", "mnli-mm", "reuters-grain", "reuters-corn"});
}

TEST(GlueTasks, ReutersTasksAreBinaryWithPositiveClassF1First) {
  EXPECT_EQ(glue_task("Reuters_Grain").name, "reuters-grain");
  EXPECT_EQ(glue_task("reuterscorn").name, "reuters-corn");
  for (const char* name : {"reuters-grain", "reuters-corn"}) {
    const GlueTask& task = glue_task(name);
    EXPECT_EQ(task.label_names, (std::vector<std::string>{"0", "1"})) << name;
    EXPECT_EQ(task.metrics, (std::vector<GlueMetric>{GlueMetric::F1, GlueMetric::ACCURACY}))
        << name;
    EXPECT_EQ(task.file(GlueSplit::TRAIN), "train.tsv") << name;
    EXPECT_EQ(task.file(GlueSplit::DEV), "dev.tsv") << name;
    EXPECT_EQ(task.file(GlueSplit::TEST), "") << name;
  }
  EXPECT_EQ(glue_task("reuters-grain").directory, "grain");
  EXPECT_EQ(glue_task("reuters-corn").directory, "corn");
}

TEST_F(GlueReader, ReadsEveryTaskLayout) {
  struct Case {
    const char* task;
    std::string text;  // a labelled file with one example
    std::string a, b, label;
  };
  const std::vector<Case> cases = {
      {"cola", "gj04\t1\t\tThe \"cat\" sat.\n", "The \"cat\" sat.", "", "1"},
      {"sst2", "sentence\tlabel\nit 's a charming journey \t1\n", "it 's a charming journey ", "",
       "1"},
      {"mrpc", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1\t2\tfirst\tsecond\n", "first",
       "second", "0"},
      {"qqp", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n7\t1\t2\tq one?\tq two?\t1\n",
       "q one?", "q two?", "1"},
      {"mnli",
       "h\n0\t1\t2\tg\tbp1\tbp2\tp1\tp2\tpremise\thypothesis\tneutral\tneutral\tneutral\tneutral\tn"
       "eutral\tneutral\n",
       "premise", "hypothesis", "neutral"},
      {"mnli-mm", "h\n0\t1\t2\tg\tbp1\tbp2\tp1\tp2\tpremise\thypothesis\tneutral\tcontradiction\n",
       "premise", "hypothesis", "contradiction"},
      {"qnli", "index\tquestion\tsentence\tlabel\n0\tWhy?\tBecause.\tnot_entailment\n", "Why?",
       "Because.", "not_entailment"},
      {"rte", "index\tsentence1\tsentence2\tlabel\n0\tA\tB\tentailment\n", "A", "B", "entailment"},
      {"wnli", "index\tsentence1\tsentence2\tlabel\n0\tA\tB\t1\n", "A", "B", "1"},
  };
  for (const Case& c : cases) {
    const GlueTask& task = glue_task(c.task);
    const GlueFile file =
        read_glue_tsv(write_file(std::string(c.task) + ".tsv", c.text), task.labelled);
    ASSERT_EQ(file.examples.size(), 1u) << c.task;
    const GlueExample& e = file.examples[0];
    EXPECT_EQ(e.text_a, c.a) << c.task;
    EXPECT_EQ(e.text_b, c.b) << c.task;
    EXPECT_EQ(task.label_names.at(e.label), c.label) << c.task;
    EXPECT_EQ(e.line, task.labelled.header ? 2 : 1) << c.task;
  }
  const GlueFile stsb = read_glue_tsv(
      write_file(
          "stsb.tsv",
          "h\n0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA man.\tA woman.\t1.250\n"),
      glue_task("stsb").labelled);
  EXPECT_EQ(stsb.examples.at(0).score, 1.25);
  EXPECT_EQ(stsb.examples[0].label, -1);
  EXPECT_EQ(stsb.examples[0].text_b, "A woman.");
}

TEST_F(GlueReader, ReadsTestFilesWithoutLabels) {
  const GlueFile cola =
      read_glue_tsv(write_file("cola_test.tsv", "index\tsentence\n0\tBill left.\n1\tLeft Bill.\n"),
                    glue_task("cola").test);
  ASSERT_EQ(cola.examples.size(), 2u);
  EXPECT_EQ(cola.examples[1].text_a, "Left Bill.");
  EXPECT_EQ(cola.examples[1].label, -1);
  const GlueFile qqp =
      read_glue_tsv(write_file("qqp_test.tsv", "id\tquestion1\tquestion2\n0\tHow?\tWhy?\n"),
                    glue_task("qqp").test);
  EXPECT_EQ(qqp.examples.at(0).text_b, "Why?");
}

TEST_F(GlueReader, QuotesAreLiteralAndLineEndsAreForgiven) {
  // GLUE's files are read with quoting off: a quote is text, even an unbalanced one.
  const GlueFile file =
      read_glue_tsv(write_file("sst2.tsv", "sentence\tlabel\r\n\"unbalanced\t0\r\n\r\nok \"\"\t1"),
                    glue_task("sst2").labelled);
  ASSERT_EQ(file.examples.size(), 2u);
  EXPECT_EQ(file.examples[0].text_a, "\"unbalanced");
  EXPECT_EQ(file.examples[1].text_a, "ok \"\"");
  EXPECT_EQ(file.examples[1].line, 4);
}

TEST_F(GlueReader, MalformedRowsNameFileAndLine) {
  const GlueTsvLayout& qqp = glue_task("qqp").labelled;
  const std::string header = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n";
  const auto missing =
      write_file("missing.tsv", header + "1\t1\t2\tq?\tq?\t0\n2\t3\t4\tonly one question\n");
  expect_error([&] { read_glue_tsv(missing, qqp); },
               {"missing.tsv:3", "4 columns, the task needs at least 6", "--skip-malformed"});
  const auto bad_label = write_file("label.tsv", header + "1\t1\t2\tq?\tq?\tyes\n");
  expect_error([&] { read_glue_tsv(bad_label, qqp); },
               {"label.tsv:2", "label 'yes' in column 6 is not one of 0, 1"});
  const auto bad_score = write_file("score.tsv", "h\n0\tg\tf\ty\t0\tn\tn\tA\tB\tfive\n");
  expect_error([&] { read_glue_tsv(bad_score, glue_task("stsb").labelled); },
               {"score.tsv:2", "score 'five' in column 10 is not a finite number"});
  // MNLI's label is the last column; it must not be one of the sentences.
  const auto short_mnli =
      write_file("mnli.tsv", "h\n0\t1\t2\tg\tbp1\tbp2\tp1\tp2\tpremise\thypothesis\n");
  expect_error([&] { read_glue_tsv(short_mnli, glue_task("mnli").labelled); },
               {"mnli.tsv:2", "10 columns, the task needs at least 11"});
  expect_error([&] { read_glue_tsv(write_file("empty.tsv", header), qqp); },
               "no examples in GLUE file");
  expect_error([&] { read_glue_tsv(dir_ / "absent.tsv", qqp); }, "cannot open GLUE file");
}

TEST_F(GlueReader, SkipsAndCountsMalformedRowsWhenAsked) {
  const std::string text =
      "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t1\t2\tq?\tq?\t0\n2\t3\t4\tq\n"
      "3\t5\t6\tq?\tq?\t1\n4\t7\t8\t\t\t\n";
  const GlueFile file = read_glue_tsv(write_file("qqp.tsv", text), glue_task("qqp").labelled,
                                      {.skip_malformed = true});
  ASSERT_EQ(file.examples.size(), 2u);
  EXPECT_EQ(file.examples[1].line, 4);
  EXPECT_EQ(file.skipped, 2);
  EXPECT_NE(file.first_skip.find("qqp.tsv:3"), std::string::npos) << file.first_skip;
}

TEST_F(GlueReader, PredictionsByNameOrIndex) {
  const GlueTask& mnli = glue_task("mnli");
  const GluePredictions p =
      read_glue_predictions(write_file("p.txt", "neutral\n0\n\n 2 \nentailment\n"), mnli);
  EXPECT_EQ(p.labels, (std::vector<int32_t>{2, 0, 2, 1}));
  expect_error([&] { read_glue_predictions(write_file("bad.txt", "neutral\nmaybe\n"), mnli); },
               {"bad.txt:2", "'maybe' is not a MNLI-m label", "contradiction, entailment, neutral",
                "index 0 to 2"});
  expect_error([&] { read_glue_predictions(write_file("three.txt", "3\n"), mnli); }, "three.txt:1");
  const GluePredictions s =
      read_glue_predictions(write_file("s.txt", "1.5\n-0.25\n"), glue_task("stsb"));
  EXPECT_EQ(s.scores, (std::vector<double>{1.5, -0.25}));
  expect_error([&] { read_glue_predictions(write_file("nan.txt", "nan\n"), glue_task("stsb")); },
               {"nan.txt:1", "not a number", "regression"});
}

TEST_F(GlueReader, ScoreNeedsOnePredictionPerExample) {
  const GlueTask& sst2 = glue_task("sst2");
  const GlueFile gold =
      read_glue_tsv(write_file("dev.tsv", "sentence\tlabel\na\t1\nb\t0\n"), sst2.labelled);
  expect_error(
      [&] {
        score_glue(sst2, gold.examples, read_glue_predictions(write_file("p.txt", "1\n"), sst2));
      },
      "1 predictions for 2 gold SST-2 examples");
  const auto scores =
      score_glue(sst2, gold.examples, read_glue_predictions(write_file("q.txt", "1\n1\n"), sst2));
  ASSERT_EQ(scores.size(), 1u);
  EXPECT_EQ(scores[0].first, GlueMetric::ACCURACY);
  EXPECT_DOUBLE_EQ(scores[0].second, 0.5);
}

// tests/fixtures/reuters/sample.tsv is what scripts/arff_to_tsv.py must make of sample.arff
// (tests/scripts/test_arff_to_tsv.py): the converter's output reads as the Reuters layout.
TEST(GlueScore, ReutersFixtureReadsAndScoresF1OfThePositiveClass) {
  const GlueTask& grain = glue_task("reuters-grain");
  const GlueFile gold = read_glue_tsv(MASKLM_FIXTURE_DIR "/reuters/sample.tsv", grain.labelled);
  ASSERT_EQ(gold.examples.size(), 4u);
  EXPECT_EQ(gold.examples[1].text_a,
            "<ACME CORP> SAYS Q1 NET UP shr 10 cts vs 8 cts. It's a \\record\\. Reuter");
  EXPECT_EQ(gold.examples[3].text_a, "oneword");
  EXPECT_EQ(gold.examples[3].line, 5);
  std::vector<int32_t> labels;
  for (const GlueExample& e : gold.examples) labels.push_back(e.label);
  EXPECT_EQ(labels, (std::vector<int32_t>{1, 0, 1, 0}));
  // Gold 1 0 1 0, predicted 1 0 0 0: one true positive, one false negative, no false positive:
  // precision 1, recall 1/2, F1 2/3; three of four right.
  GluePredictions predicted;
  predicted.labels = {1, 0, 0, 0};
  const auto scores = score_glue(grain, gold.examples, predicted);
  ASSERT_EQ(scores.size(), 2u);
  EXPECT_EQ(scores[0].first, GlueMetric::F1);
  EXPECT_DOUBLE_EQ(scores[0].second, 2.0 / 3.0);
  EXPECT_EQ(scores[1].first, GlueMetric::ACCURACY);
  EXPECT_DOUBLE_EQ(scores[1].second, 0.75);
}

TEST(GlueScore, FixturesMatchScikitLearnAndScipy) {
  std::ifstream in(kFixtures / "expected.json");
  const nlohmann::json expected = nlohmann::json::parse(in)["glue"];
  struct Fixture {
    const char *task, *gold, *pred;
  };
  for (const Fixture& f : {Fixture{"cola", "cola_dev.tsv", "cola_pred.txt"},
                           Fixture{"mrpc", "mrpc_dev.tsv", "mrpc_pred.txt"},
                           Fixture{"stsb", "stsb_dev.tsv", "stsb_pred.txt"},
                           Fixture{"mnli", "mnli_dev_matched.tsv", "mnli_pred.txt"}}) {
    const GlueTask& task = glue_task(f.task);
    const GlueFile gold = read_glue_tsv(kFixtures / f.gold, task.labelled);
    const auto scores =
        score_glue(task, gold.examples, read_glue_predictions(kFixtures / f.pred, task));
    ASSERT_EQ(scores.size(), expected[f.task].size()) << f.task;
    for (const auto& [metric, value] : scores)
      EXPECT_NEAR(value, expected[f.task][std::string(glue_metric_name(metric))].get<double>(),
                  1e-13)
          << f.task << " " << glue_metric_name(metric);
  }
}

}  // namespace
}  // namespace masklm
