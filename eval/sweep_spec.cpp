#include "eval/sweep_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "masking/masking_config.h"
#include "runtime/config_reader.h"
#include "runtime/error.h"
#include "train/config_file.h"
#include "train/run_config.h"
#include "train/synthetic_task.h"

namespace masklm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kVariantAxis = "variant";
// Axes that cell.json records in fields of their own; every other axis names the variant,
// so `masklm report` never averages two different trainings as seeds of one.
const std::set<std::string> kCellFieldAxes = {"model.preset",         "train.seed",
                                              "masking.mask_rate",    "masking.corrupt_rate",
                                              "masking.predict_rate", "data.mask_rate"};

// A `set:` mapping of dotted keys to values. Its keys come sorted, so a section is set before
// keys inside it.
std::vector<std::pair<std::string, json>> read_settings(const json& node,
                                                        const std::string& where) {
  MASKLM_CHECK(node.is_null() || node.is_object(),
               "'{}' must be a mapping of keys to values, got {}", where, node.dump());
  std::vector<std::pair<std::string, json>> settings;
  if (node.is_object())
    for (const auto& [key, value] : node.items()) settings.emplace_back(key, value);
  return settings;
}

GridAxis read_variant_axis(const json& node) {
  MASKLM_CHECK(node.is_array() && !node.empty(),
               "axis 'variant' must be a list of {{name: ..., set: {{key: value, ...}}}}, got {}",
               node.dump());
  std::vector<GridChoice> choices;
  for (size_t i = 0; i < node.size(); ++i) {
    ConfigReader r(node[i], fmt::format("variant[{}]", i));
    const std::string name = r.require<std::string>("name");
    choices.push_back({name, read_settings(r.section("set"), r.key_path("set"))});
    r.finish();
  }
  return named_axis(kVariantAxis, std::move(choices));
}

// One entry of a list of axes: a single key with its list of values.
GridAxis read_axis(const json& entry, const std::string& where) {
  MASKLM_CHECK(entry.is_object() && entry.size() == 1,
               "each entry of '{}' must be one key with its values (- masking.mask_rate: [0.15, "
               "0.4]), got {}",
               where, entry.dump());
  const auto item = entry.items().begin();
  if (item.key() == kVariantAxis) return read_variant_axis(item.value());
  return value_axis(item.key(), item.value());
}

std::vector<GridAxis> read_axes(const json& node, const std::string& where) {
  MASKLM_CHECK(node.is_null() || node.is_array(), "'{}' must be a list of axes, got {}", where,
               node.dump());
  std::vector<GridAxis> axes;
  if (node.is_array())
    for (const json& entry : node) axes.push_back(read_axis(entry, where));
  return axes;
}

SweepFineTune read_finetune(const json& node, size_t index) {
  ConfigReader r(node, fmt::format("finetune[{}]", index));
  SweepFineTune f;
  f.task = r.require<std::string>("task");
  const FineTuneTarget target = finetune_target({{}, f.task, {}, {}});
  f.data = r.require<std::string>("data");
  f.tokenizer = r.get<std::string>("tokenizer", "");
  const json& settings = r.section("set");
  MASKLM_CHECK(settings.is_null() || settings.is_object(), "'{}' must be a mapping, got {}",
               r.key_path("set"), settings.dump());
  if (settings.is_object()) f.grid.settings = settings;
  f.grid.axes = read_axes(r.section("grid"), r.key_path("grid"));
  r.finish();
  if (f.grid.axes.empty())
    target.resolve(f.grid.settings);
  else
    grid_point_settings(f.grid, expand_grid(f.grid.axes), target);
  return f;
}

// cell.json from the cell's recipe: the preset (else the shape), the seed, the rates it trains
// at (at step 0 for a scheduled rate) and the labels of the axes those fields do not cover.
CellParams cell_params(const json& tree, const RunConfig& config, const std::vector<GridAxis>& axes,
                       const GridPoint& point) {
  CellParams p;
  const json preset = tree.contains("model") && tree["model"].is_object()
                          ? tree["model"].value("preset", json())
                          : json();
  p.model = preset.is_string()
                ? preset.get<std::string>()
                : fmt::format("L{}-H{}", config.model.num_layers, config.model.hidden_size);
  p.seed = static_cast<int64_t>(config.train.seed);
  if (config.data.value("source", "") == "synthetic") {
    MASKLM_CHECK(
        config.masking.is_null(),
        "the synthetic source masks by itself: vary 'data.mask_rate', not the masking section");
    p.mask_rate = ConfigReader(config.data, "data").get("mask_rate", SyntheticTask{}.mask_rate);
  } else {
    const MaskingConfig m = masking_config_from_json(config.masking, "masking");
    const bool decoupled = config.masking.is_object() && (config.masking.contains("corrupt_rate") ||
                                                          config.masking.contains("predict_rate"));
    if (decoupled) {
      p.m_corr = m.corrupt_rate.at(0, config.train.steps);
      p.m_pred = m.predict_rate.at(0, config.train.steps);
    } else {
      p.mask_rate = m.predict_rate.at(0, config.train.steps);
    }
  }
  for (size_t a = 0; a < axes.size(); ++a)
    if (!kCellFieldAxes.count(axes[a].name))
      p.variant += (p.variant.empty() ? "" : "_") + axes[a].choices[point.choices[a]].label;
  return p;
}

SweepCellPlan plan_cell(const json& base, const std::vector<std::pair<std::string, json>>& set,
                        const std::vector<GridAxis>& axes, const GridPoint& point) {
  SweepCellPlan cell;
  cell.name = point.name;
  json tree = base;
  for (const auto& [key, value] : set) cell.overrides.push_back(key + "=" + value.dump());
  for (size_t a = 0; a < axes.size(); ++a)
    for (const auto& [key, value] : axes[a].choices[point.choices[a]].settings)
      cell.overrides.push_back(key + "=" + value.dump());
  for (const std::string& o : cell.overrides) apply_override(tree, o);
  const RunConfig config = parse_run_config(tree);
  cell.params = cell_params(tree, config, axes, point);
  cell.steps = config.train.steps;
  return cell;
}

}  // namespace

SweepPlan load_sweep(const fs::path& file) {
  const json root = load_yaml_file(file);
  SweepPlan plan;
  std::vector<std::pair<std::string, json>> set;
  std::vector<GridAxis> axes;
  std::vector<GridPoint> points;
  try {
    ConfigReader r(root, "");
    plan.base = r.require<std::string>("base");
    set = read_settings(r.section("set"), "set");
    axes = read_axes(r.section("axes"), "axes");
    const json& finetune = r.section("finetune");
    MASKLM_CHECK(finetune.is_null() || finetune.is_array(),
                 "'finetune' must be a list of tasks, got {}", finetune.dump());
    std::set<std::string> tasks;
    for (size_t i = 0; finetune.is_array() && i < finetune.size(); ++i) {
      plan.finetune.push_back(read_finetune(finetune[i], i));
      // Each task has one directory and one entry in finetune.json.
      MASKLM_CHECK(
          tasks.insert(finetune_target({{}, plan.finetune.back().task, {}, {}}).task).second,
          "'finetune' lists task '{}' twice", plan.finetune.back().task);
    }
    r.finish();
    MASKLM_CHECK(!axes.empty(), "'axes' is required: a list of axes, e.g. - train.seed: [1, 2]");
    MASKLM_CHECK(std::count_if(axes.begin(), axes.end(),
                               [](const GridAxis& a) { return a.name == kVariantAxis; }) <= 1,
                 "at most one 'variant' axis: list the combinations as variants of one axis");
    points = expand_grid(axes);
    MASKLM_CHECK(
        fs::is_regular_file(plan.base),
        "base recipe '{}' does not exist (paths are relative to the working directory, {})",
        plan.base.string(), fs::current_path().string());
  } catch (const Error& e) {
    MASKLM_FAIL("{}: {}", file.string(), e.what());
  }
  const json base = load_yaml_file(plan.base);
  for (const GridPoint& point : points) {
    try {
      plan.cells.push_back(plan_cell(base, set, axes, point));
    } catch (const Error& e) {
      MASKLM_FAIL("{}: cell '{}': {}", file.string(), point.name, e.what());
    }
  }
  return plan;
}

}  // namespace masklm
