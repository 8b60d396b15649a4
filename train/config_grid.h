// Grids of configurations: axes of choices, each choice a label and the config settings it
// makes, and their cartesian product in order (first axis outermost, last axis fastest),
// each point named by its choices' labels joined with '_'. Fine-tuning grids
// (train/finetune_grid.h) and sweeps (eval/sweep_spec.h) are built on it; point names
// become directory names.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace masklm {

struct GridChoice {
  std::string label;                                             // "lr-2e-05", "mask-only"
  std::vector<std::pair<std::string, nlohmann::json>> settings;  // dotted key, value
};

struct GridAxis {
  std::string name;  // the key it sets ("lr", "masking.mask_rate"), or a name ("variant")
  std::vector<GridChoice> choices;
};

struct GridPoint {
  std::string name;             // the choices' labels joined with '_'
  std::vector<size_t> choices;  // the index of the point's choice on each axis
};

// An axis setting `key` to each of `values`, labelled "<last component of key>-<value>".
// Values must be scalars whose text fits in a directory name (letters, digits, . _ + -).
GridAxis value_axis(const std::string& key, const nlohmann::json& values);
// An axis of named choices (a sweep's variants); names must fit in a directory name.
GridAxis named_axis(const std::string& name, std::vector<GridChoice> choices);
// "lr=1e-5,2e-5,3e-5" (the --grid form): the values are read as YAML reads a flow list.
GridAxis parse_grid_axis(std::string_view spec);

// Every combination, first axis outermost. Errors for no axes, an empty axis, and points
// that would get the same name.
std::vector<GridPoint> expand_grid(const std::vector<GridAxis>& axes);
// Sets the point's settings in a config tree, axis by axis.
void apply_grid_point(nlohmann::json& tree, const std::vector<GridAxis>& axes,
                      const GridPoint& point);

}  // namespace masklm
