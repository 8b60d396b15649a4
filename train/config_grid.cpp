#include "train/config_grid.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "runtime/error.h"
#include "train/config_file.h"

namespace masklm {

namespace {

bool is_name_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '+' || c == '-';
}

void check_label(const std::string& axis, const std::string& text, const std::string& shown) {
  MASKLM_CHECK(!text.empty() && std::all_of(text.begin(), text.end(), is_name_character),
               "grid axis '{}': {} cannot be part of a directory name (letters, digits, '.', '_', "
               "'+', '-')",
               axis, shown);
}

// Numbers in their shortest exact form, so 2e-5 is "2e-05" and 0.15 "0.15".
std::string value_text(const std::string& key, const nlohmann::json& value) {
  std::string text;
  if (value.is_string())
    text = value.get<std::string>();
  else if (value.is_number_float())
    text = fmt::format("{}", value.get<double>());
  else if (value.is_number() || value.is_boolean())
    text = value.dump();
  else
    MASKLM_FAIL("grid axis '{}': value {} is not a scalar (a named variant can set mappings)", key,
                value.dump());
  check_label(key, text, "value " + value.dump());
  return text;
}

}  // namespace

GridAxis value_axis(const std::string& key, const nlohmann::json& values) {
  MASKLM_CHECK(!key.empty(), "a grid axis needs a key");
  MASKLM_CHECK(values.is_array(), "grid axis '{}' must be a list of values, got {}", key,
               values.dump());
  MASKLM_CHECK(!values.empty(), "grid axis '{}' has no values", key);
  const std::string short_key = key.substr(key.rfind('.') + 1);
  GridAxis axis{key, {}};
  for (const nlohmann::json& v : values)
    axis.choices.push_back({short_key + "-" + value_text(key, v), {{key, v}}});
  return axis;
}

GridAxis named_axis(const std::string& name, std::vector<GridChoice> choices) {
  for (const GridChoice& c : choices) check_label(name, c.label, fmt::format("name '{}'", c.label));
  return {name, std::move(choices)};
}

GridAxis parse_grid_axis(std::string_view spec) {
  const size_t eq = spec.find('=');
  MASKLM_CHECK(eq != std::string_view::npos && eq > 0 && eq + 1 < spec.size(),
               "--grid '{}' must look like key=value1,value2,...", spec);
  const std::string key(spec.substr(0, eq));
  return value_axis(key, yaml_to_json(fmt::format("[{}]", spec.substr(eq + 1)),
                                      fmt::format("--grid '{}'", spec)));
}

std::vector<GridPoint> expand_grid(const std::vector<GridAxis>& axes) {
  MASKLM_CHECK(!axes.empty(), "a grid needs at least one axis");
  for (const GridAxis& axis : axes)
    MASKLM_CHECK(!axis.choices.empty(), "grid axis '{}' has no values", axis.name);
  std::vector<GridPoint> points;
  std::set<std::string> names;
  std::vector<size_t> index(axes.size(), 0);
  while (true) {
    GridPoint point{"", index};
    for (size_t a = 0; a < axes.size(); ++a)
      point.name += (a ? "_" : "") + axes[a].choices[index[a]].label;
    MASKLM_CHECK(names.insert(point.name).second,
                 "two grid points are both named '{}': give the axes' values distinct labels",
                 point.name);
    points.push_back(std::move(point));
    // Odometer order: the last axis turns fastest.
    size_t a = axes.size();
    while (a > 0 && ++index[a - 1] == axes[a - 1].choices.size()) index[--a] = 0;
    if (a == 0) return points;
  }
}

void apply_grid_point(nlohmann::json& tree, const std::vector<GridAxis>& axes,
                      const GridPoint& point) {
  for (size_t a = 0; a < axes.size(); ++a)
    for (const auto& [key, value] : axes[a].choices[point.choices[a]].settings)
      set_config_value(tree, key, value);
}

}  // namespace masklm
