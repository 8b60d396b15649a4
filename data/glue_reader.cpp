#include "data/glue_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <string_view>

#include "runtime/error.h"

namespace masklm {

namespace {

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> fields;
  for (size_t begin = 0;;) {
    const size_t tab = line.find('\t', begin);
    fields.push_back(
        line.substr(begin, tab == std::string_view::npos ? std::string_view::npos : tab - begin));
    if (tab == std::string_view::npos) return fields;
    begin = tab + 1;
  }
}

// The example in `fields`, or the reason it is not one.
std::string parse_row(const std::vector<std::string_view>& fields, const GlueTsvLayout& layout,
                      GlueExample& out) {
  const int columns = static_cast<int>(fields.size());
  int needed = std::max(layout.text_a, layout.text_b.value_or(0)) + 1;
  int label_column = -1;
  if (layout.label) {
    label_column = *layout.label >= 0 ? *layout.label : columns + *layout.label;
    // A label counted from the end must still lie after the text columns.
    needed = *layout.label >= 0 ? std::max(needed, *layout.label + 1) : needed - *layout.label;
  }
  if (columns < needed)
    return fmt::format("{} columns, the task needs at least {}", columns, needed);
  out.text_a = fields[layout.text_a];
  out.text_b = layout.text_b ? std::string(fields[*layout.text_b]) : std::string();
  if (!layout.label) return {};
  const std::string_view label = fields[label_column];
  if (layout.label_names.empty()) {
    const char* end = label.data() + label.size();
    const auto [ptr, ec] = std::from_chars(label.data(), end, out.score);
    if (ec != std::errc() || ptr != end || !std::isfinite(out.score))
      return fmt::format("score '{}' in column {} is not a finite number", label, label_column + 1);
    return {};
  }
  for (size_t k = 0; k < layout.label_names.size(); ++k)
    if (label == layout.label_names[k]) {
      out.label = static_cast<int32_t>(k);
      return {};
    }
  return fmt::format("label '{}' in column {} is not one of {}", label, label_column + 1,
                     fmt::join(layout.label_names, ", "));
}

}  // namespace

GlueFile read_glue_tsv(const std::filesystem::path& path, const GlueTsvLayout& layout,
                       const GlueReadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  MASKLM_CHECK(in.good(), "cannot open GLUE file '{}'", path.string());
  GlueFile file;
  std::string line;
  for (int64_t line_number = 1; std::getline(in, line); ++line_number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // files edited on Windows
    if (line_number == 1 && layout.header) continue;
    if (line.empty()) continue;
    GlueExample example;
    example.line = line_number;
    const std::string problem = parse_row(split_tabs(line), layout, example);
    if (problem.empty()) {
      file.examples.push_back(std::move(example));
      continue;
    }
    const std::string message = fmt::format("{}:{}: {}", path.string(), line_number, problem);
    MASKLM_CHECK(options.skip_malformed,
                 "{} (skip such rows with skip_malformed / --skip-malformed)", message);
    if (file.skipped++ == 0) file.first_skip = message;
  }
  MASKLM_CHECK(!file.examples.empty(), "no examples in GLUE file '{}'{}", path.string(),
               file.skipped ? fmt::format(" ({} malformed rows skipped, the first: {})",
                                          file.skipped, file.first_skip)
                            : "");
  return file;
}

}  // namespace masklm
