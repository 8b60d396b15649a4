// `masklm report`: a sweep directory (eval/sweep_results.h) summarized for a person:
// DIR/report.md with tables (mean ± sample std over seeds, per model size x masking rate),
// and SVG plots in DIR/plots/ that report.md shows: loss curves per model size, each
// downstream metric against the masking rate (one line per model size), and the
// m_corr x m_pred heatmaps when the sweep has decoupled cells.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace masklm {

struct ReportFiles {
  std::filesystem::path markdown;
  std::vector<std::filesystem::path> plots;
  int64_t cells = 0, cells_without_metrics = 0;
};

ReportFiles write_report(const std::filesystem::path& sweep_dir);

}  // namespace masklm
