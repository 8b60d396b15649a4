#include "eval/glue_tasks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>

#include "runtime/error.h"

namespace masklm {

namespace {

using Labels = std::vector<std::string>;
const Labels kBinary = {"0", "1"};
const Labels kEntailment = {"entailment", "not_entailment"};
// Hugging Face's order, so label ids agree with models fine-tuned there.
const Labels kNli = {"contradiction", "entailment", "neutral"};

struct Columns {
  int text_a;
  std::optional<int> text_b;
};

// Every GLUE task's labelled files (train, dev) share one layout; its test file has the
// same texts without the label, at the columns `test` names.
GlueTask make_task(std::string name, std::string display_name, std::string directory, Labels labels,
                   std::vector<GlueMetric> metrics, bool header, Columns labelled, int label_column,
                   Columns test, std::string dev_file = "dev.tsv",
                   std::string test_file = "test.tsv") {
  GlueTask t;
  t.name = std::move(name);
  t.display_name = std::move(display_name);
  t.directory = std::move(directory);
  t.label_names = std::move(labels);
  t.metrics = std::move(metrics);
  t.train_file = "train.tsv";
  t.dev_file = std::move(dev_file);
  t.test_file = std::move(test_file);
  t.labelled = GlueTsvLayout{header, labelled.text_a, labelled.text_b, label_column, t.label_names};
  // Test files have a header even where the labelled ones (CoLA's) have none.
  t.test = GlueTsvLayout{true, test.text_a, test.text_b, std::nullopt, {}};
  return t;
}

std::vector<GlueTask> make_tasks() {
  using enum GlueMetric;
  return {
      make_task("cola", "CoLA", "CoLA", kBinary, {MATTHEWS_CORR}, false, {3, {}}, 1, {1, {}}),
      make_task("sst2", "SST-2", "SST-2", kBinary, {ACCURACY}, true, {0, {}}, 1, {1, {}}),
      make_task("mrpc", "MRPC", "MRPC", kBinary, {F1, ACCURACY}, true, {3, 4}, 0, {3, 4}),
      make_task("stsb", "STS-B", "STS-B", {}, {PEARSON, SPEARMAN}, true, {7, 8}, -1, {7, 8}),
      make_task("qqp", "QQP", "QQP", kBinary, {F1, ACCURACY}, true, {3, 4}, 5, {1, 2}),
      make_task("mnli", "MNLI-m", "MNLI", kNli, {ACCURACY}, true, {8, 9}, -1, {8, 9},
                "dev_matched.tsv", "test_matched.tsv"),
      make_task("mnli-mm", "MNLI-mm", "MNLI", kNli, {ACCURACY}, true, {8, 9}, -1, {8, 9},
                "dev_mismatched.tsv", "test_mismatched.tsv"),
      make_task("qnli", "QNLI", "QNLI", kEntailment, {ACCURACY}, true, {1, 2}, -1, {1, 2}),
      make_task("rte", "RTE", "RTE", kEntailment, {ACCURACY}, true, {1, 2}, -1, {1, 2}),
      make_task("wnli", "WNLI", "WNLI", kBinary, {ACCURACY}, true, {1, 2}, -1, {1, 2}),
      // Not GLUE: the demo's Reuters-21578 topic tasks (a news story is about grain, or corn,
      // or not), in SST-2's layout under scripts/corpus's .cache/reuters/. ~7% (grain) and ~3%
      // (corn) of the stories are positive, so F1 of class 1 leads. Their test split is the dev
      // file; there is no unlabelled test file.
      make_task("reuters-grain", "Reuters-21578 Grain", "grain", kBinary, {F1, ACCURACY}, true,
                {0, {}}, 1, {0, {}}, "dev.tsv", ""),
      make_task("reuters-corn", "Reuters-21578 Corn", "corn", kBinary, {F1, ACCURACY}, true,
                {0, {}}, 1, {0, {}}, "dev.tsv", ""),
  };
}

std::string name_key(std::string_view name) {
  std::string key;
  for (char c : name)
    if (c != '-' && c != '_') key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key == "mnlim" ? "mnli" : key;
}

}  // namespace

std::string_view glue_metric_name(GlueMetric metric) {
  switch (metric) {
    case GlueMetric::ACCURACY: return "accuracy";
    case GlueMetric::F1: return "f1";
    case GlueMetric::MATTHEWS_CORR: return "matthews_corr";
    case GlueMetric::PEARSON: return "pearson";
    case GlueMetric::SPEARMAN: return "spearman";
  }
  MASKLM_FAIL("unknown GLUE metric {}", static_cast<int>(metric));
}

const std::string& GlueTask::file(GlueSplit split) const {
  switch (split) {
    case GlueSplit::TRAIN: return train_file;
    case GlueSplit::DEV: return dev_file;
    case GlueSplit::TEST: return test_file;
  }
  MASKLM_FAIL("unknown GLUE split {}", static_cast<int>(split));
}

const std::vector<GlueTask>& glue_tasks() {
  static const std::vector<GlueTask> tasks = make_tasks();
  return tasks;
}

const GlueTask& glue_task(std::string_view name) {
  const std::string key = name_key(name);
  std::vector<std::string> known;
  for (const GlueTask& task : glue_tasks()) {
    if (name_key(task.name) == key) return task;
    known.push_back(task.name);
  }
  MASKLM_FAIL("unknown task '{}' (known: {})", name, fmt::join(known, ", "));
}

}  // namespace masklm
