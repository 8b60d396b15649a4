// The GLUE tasks: for each, its labels (or a regression score), the metrics the GLUE
// benchmark reports for it, its directory and file names in the standard GLUE download,
// and the column layout of each split's TSV (the one Hugging Face's GLUE processors read).
// MNLI is two tasks here, matched and mismatched: they share training data but are scored
// on different dev/test files. The registry also holds two text-classification tasks outside
// GLUE that are read, fine-tuned and scored the same way: the demo's Reuters-21578 Grain and
// Corn tasks ("reuters-grain", "reuters-corn"), which scripts/corpus converts from Debian's
// weka package.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "data/glue_reader.h"

namespace masklm {

enum class GlueMetric { ACCURACY, F1, MATTHEWS_CORR, PEARSON, SPEARMAN };

std::string_view glue_metric_name(GlueMetric metric);  // "accuracy", "f1", "matthews_corr", ...

enum class GlueSplit { TRAIN, DEV, TEST };

struct GlueTask {
  std::string name;                      // canonical: "cola", "mnli-mm", "reuters-grain", ...
  std::string display_name;              // as the GLUE paper writes it: "CoLA", "SST-2", "MNLI-mm"
  std::string directory;                 // GLUE download: "CoLA", "SST-2", ...; Reuters: "grain"
  std::vector<std::string> label_names;  // empty: regression (STS-B)
  std::vector<GlueMetric> metrics;       // the first is the task's headline metric
  std::string train_file, dev_file, test_file;  // test_file empty: no unlabelled test split
  GlueTsvLayout labelled;                       // train and dev
  GlueTsvLayout test;                           // no label column

  bool is_regression() const { return label_names.empty(); }
  int num_labels() const { return is_regression() ? 1 : static_cast<int>(label_names.size()); }
  const std::string& file(GlueSplit split) const;
  const GlueTsvLayout& layout(GlueSplit split) const {
    return split == GlueSplit::TEST ? test : labelled;
  }
};

const std::vector<GlueTask>& glue_tasks();
// By name, ignoring case, '-' and '_' ("SST-2", "sst2", "STS_B", "reuters_grain"; "mnli" is
// matched). The error lists the known names.
const GlueTask& glue_task(std::string_view name);

}  // namespace masklm
