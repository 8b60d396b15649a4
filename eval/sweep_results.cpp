#include "eval/sweep_results.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/config_reader.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/log.h"
#include "train/finetune_scores.h"

namespace masklm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

CellParams read_cell_params(const fs::path& path) {
  const json root = read_json_file(path);
  try {
    ConfigReader r(root, "");
    CellParams p;
    p.model = r.require<std::string>("model");
    p.seed = r.require<int64_t>("seed");
    p.variant = r.get<std::string>("variant", "");
    if (r.has("mask_rate")) p.mask_rate = r.require<double>("mask_rate");
    MASKLM_CHECK(r.has("m_corr") == r.has("m_pred"), "m_corr and m_pred come together");
    if (r.has("m_corr")) {
      p.m_corr = r.require<double>("m_corr");
      p.m_pred = r.require<double>("m_pred");
    }
    MASKLM_CHECK(p.mask_rate || p.m_corr, "a cell needs mask_rate or m_corr and m_pred");
    r.finish();
    return p;
  } catch (const Error& e) {
    MASKLM_FAIL("{}: {}", path.string(), e.what());
  }
}

std::optional<double> finite_number(const json& record, const char* key) {
  if (!record.contains(key) || !record[key].is_number())
    return std::nullopt;  // NaN is written as null
  return record[key].get<double>();
}

void read_metrics(const fs::path& path, SweepCell& cell) {
  std::ifstream in(path, std::ios::binary);
  MASKLM_CHECK(in.good(), "cannot open '{}'", path.string());
  cell.has_metrics = true;
  std::string line;
  for (int64_t line_number = 1; std::getline(in, line); ++line_number) {
    if (line.empty()) continue;
    json record;
    try {
      record = json::parse(line);
    } catch (const json::exception& e) {
      // A run killed mid-write leaves a torn last line without its newline.
      if (in.eof()) {
        log_warn("{}:{}: skipping an incomplete last line", path.string(), line_number);
        return;
      }
      MASKLM_FAIL("{}:{}: not a JSON object: {}", path.string(), line_number, e.what());
    }
    MASKLM_CHECK(
        record.is_object() && record.contains("step") && record["step"].is_number_integer(),
        "{}:{}: a metrics record needs an integer \"step\"", path.string(), line_number);
    const std::string kind = record.value("kind", "");
    const int64_t step = record["step"].get<int64_t>();
    const std::optional<double> loss = finite_number(record, "loss");
    if (kind == "train" && loss) cell.train_loss.push_back({step, *loss});
    if (kind == "eval") {
      if (loss) cell.val_loss.push_back({step, *loss});
      cell.val_accuracy = finite_number(record, "accuracy");
    }
  }
}

}  // namespace

void write_cell_params(const fs::path& path, const CellParams& p) {
  json root = {{"model", p.model}, {"seed", p.seed}};
  if (!p.variant.empty()) root["variant"] = p.variant;
  if (p.mask_rate) root["mask_rate"] = *p.mask_rate;
  if (p.m_corr) {
    root["m_corr"] = *p.m_corr;
    root["m_pred"] = p.m_pred.value();
  }
  write_file_atomic(path, root.dump(2) + "\n");
}

std::vector<SweepCell> read_sweep(const fs::path& dir) {
  MASKLM_CHECK(fs::is_directory(dir), "sweep directory '{}' does not exist", dir.string());
  std::vector<SweepCell> cells;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    if (!entry.is_directory() || !fs::exists(entry.path() / "cell.json")) continue;
    SweepCell cell;
    cell.name = entry.path().filename().string();
    cell.params = read_cell_params(entry.path() / "cell.json");
    if (fs::exists(entry.path() / "metrics.jsonl"))
      read_metrics(entry.path() / "metrics.jsonl", cell);
    cell.downstream = read_scores(entry.path() / "finetune.json");
    cells.push_back(std::move(cell));
  }
  std::sort(cells.begin(), cells.end(),
            [](const SweepCell& a, const SweepCell& b) { return a.name < b.name; });
  return cells;
}

}  // namespace masklm
