// Reading GLUE-style TSV files: one example per line, tab-separated columns, an optional
// header line. Which columns hold what is the caller's GlueTsvLayout (eval/glue_tasks.h
// has the layout of every GLUE task and split). The files are read as GLUE's own tools
// read them (csv with quotechar=None): no quoting, so a '"' is an ordinary character and
// a field can never span lines. A row that cannot be an example (too few columns, a label
// outside the task's labels, a score that is not a number) is an error naming file:line,
// or, with skip_malformed, counted and skipped (QQP's train file has such rows, and
// Hugging Face's reader skips them).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace masklm {

struct GlueTsvLayout {
  bool header = true;         // the first line names the columns
  int text_a = 0;             // column of the first (or only) sentence
  std::optional<int> text_b;  // column of the second sentence of a pair task
  // Column of the gold label; negative counts from the end (-1: last), for MNLI, whose
  // train and dev files differ in width but both end with the gold label. Absent: the
  // file is unlabelled (test splits).
  std::optional<int> label;
  std::vector<std::string> label_names;  // the label column's values; empty: a float score
};

struct GlueExample {
  std::string text_a, text_b;  // text_b empty for single-sentence tasks
  int32_t label = -1;          // index into label_names; -1 for regression or unlabelled
  double score = 0;            // the regression target (STS-B)
  int64_t line = 0;            // 1-based line in the file, for messages
};

struct GlueReadOptions {
  bool skip_malformed = false;  // count and skip bad rows instead of failing
};

struct GlueFile {
  std::vector<GlueExample> examples;
  int64_t skipped = 0;     // malformed rows skipped (only with skip_malformed)
  std::string first_skip;  // the first skipped row's problem, with file:line
};

GlueFile read_glue_tsv(const std::filesystem::path& path, const GlueTsvLayout& layout,
                       const GlueReadOptions& options = {});

}  // namespace masklm
