// Configuration files: YAML recipes (configs/*.yaml) become nlohmann::json trees, which
// each module then reads strictly with runtime/config_reader.h. `--set key.sub=value`
// overrides edit the tree before that, and the resolved tree is written back as YAML.
//
// Scalars are typed the way YAML 1.2's core schema types them: null (~, null, empty),
// true/false, integers, floats (2e-3 included), anything else a string; quoting makes a
// scalar a string whatever it looks like.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace masklm {

// Throws masklm::Error naming `source` (and the line) for malformed YAML or duplicate keys.
nlohmann::json yaml_to_json(std::string_view text, std::string_view source = "<yaml>");
nlohmann::json load_yaml_file(const std::filesystem::path& path);

// Applies "a.b.c=value": the value is parsed as YAML (so `--set train.steps=10` is an
// integer and `--set masking={strategy: uniform}` a mapping); missing intermediate
// mappings are created. Whether the key exists is checked later by the strict readers.
void apply_override(nlohmann::json& root, std::string_view assignment);
// The same with the value already a tree (sweep axes, fine-tuning grids).
void set_config_value(nlohmann::json& root, std::string_view key, nlohmann::json value);

// Block-style YAML that yaml_to_json reads back to the same tree (strings that would read
// as another type are quoted; doubles keep their shortest exact form).
std::string json_to_yaml(const nlohmann::json& tree);
// Atomic like checkpoints: a crash never leaves a half-written config.
void write_yaml_file(const std::filesystem::path& path, const nlohmann::json& tree);

}  // namespace masklm
