#include "train/config_file.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "runtime/error.h"
#include "runtime/file_io.h"

namespace masklm {

namespace {

using nlohmann::json;

bool is_number_start(char c) { return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.'; }

// A plain (unquoted) scalar typed by YAML 1.2's core schema.
json plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  // from_chars also accepts "inf" and "nan": the first character rules those out (YAML
  // writes them .inf and .nan, which no config value needs).
  if (is_number_start(s.front())) {
    const char* begin = s.data() + (s.front() == '+' ? 1 : 0);
    const char* end = s.data() + s.size();
    int64_t i = 0;
    if (auto r = std::from_chars(begin, end, i); r.ec == std::errc() && r.ptr == end) return i;
    double d = 0;
    if (auto r = std::from_chars(begin, end, d); r.ec == std::errc() && r.ptr == end) return d;
  }
  return s;
}

json node_to_json(const YAML::Node& node, std::string_view source, const std::string& path) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return nullptr;
    case YAML::NodeType::Scalar:
      // yaml-cpp tags plain scalars "?" and quoted ones "!".
      return node.Tag() == "!" ? json(node.Scalar()) : plain_scalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (size_t i = 0; i < node.size(); ++i)
        out.push_back(node_to_json(node[i], source, fmt::format("{}[{}]", path, i)));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& item : node) {
        MASKLM_CHECK(item.first.IsScalar(), "{}: key under '{}' (line {}) is not a plain name",
                     source, path, item.first.Mark().line + 1);
        const std::string key = item.first.Scalar();
        const std::string key_path = path.empty() ? key : path + "." + key;
        MASKLM_CHECK(!out.contains(key), "{}: duplicate key '{}' (line {})", source, key_path,
                     item.first.Mark().line + 1);
        out[key] = node_to_json(item.second, source, key_path);
      }
      return out;
    }
  }
  return nullptr;
}

void emit(YAML::Emitter& out, const json& j) {
  switch (j.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& item : j.items()) {
        out << YAML::Key << item.key() << YAML::Value;
        emit(out, item.value());
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const json& v : j) emit(out, v);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const std::string& s = j.get_ref<const std::string&>();
      // A string that would read back as a number, bool or null must be quoted.
      if (plain_scalar(s).is_string())
        out << s;
      else
        out << YAML::DoubleQuoted << s;
      break;
    }
    case json::value_t::boolean: out << (j.get<bool>() ? "true" : "false"); break;
    case json::value_t::null: out << YAML::Null; break;
    case json::value_t::number_float: {
      // Shortest form that reads back exactly, always with a '.' or exponent so it stays a float.
      std::string s = fmt::format("{}", j.get<double>());
      if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
      out << s;
      break;
    }
    default: out << j.dump(); break;  // integers
  }
}

}  // namespace

json yaml_to_json(std::string_view text, std::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    MASKLM_FAIL("{}: invalid YAML at line {}, column {}: {}", source, e.mark.line + 1,
                e.mark.column + 1, e.msg);
  }
  return node_to_json(root, source, "");
}

json load_yaml_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  MASKLM_CHECK(in, "cannot open config file '{}'", path.string());
  std::stringstream text;
  text << in.rdbuf();
  return yaml_to_json(text.str(), path.string());
}

void apply_override(json& root, std::string_view assignment) {
  const size_t eq = assignment.find('=');
  MASKLM_CHECK(eq != std::string_view::npos && eq > 0, "override '{}' must look like key.sub=value",
               assignment);
  set_config_value(
      root, assignment.substr(0, eq),
      yaml_to_json(assignment.substr(eq + 1), fmt::format("override '{}'", assignment)));
}

void set_config_value(json& root, std::string_view key, json value) {
  if (root.is_null()) root = json::object();
  json* node = &root;
  std::string walked;
  for (size_t begin = 0;;) {
    const size_t dot = key.find('.', begin);
    const std::string part(
        key.substr(begin, dot == std::string_view::npos ? std::string_view::npos : dot - begin));
    MASKLM_CHECK(!part.empty(), "override key '{}' has an empty component", key);
    MASKLM_CHECK(node->is_object(), "override '{}': '{}' is not a mapping", key, walked);
    walked += (walked.empty() ? "" : ".") + part;
    if (dot == std::string_view::npos) {
      (*node)[part] = std::move(value);
      return;
    }
    json& child = (*node)[part];
    if (child.is_null()) child = json::object();
    node = &child;
    begin = dot + 1;
  }
}

std::string json_to_yaml(const json& tree) {
  YAML::Emitter out;
  emit(out, tree);
  return std::string(out.c_str()) + "\n";
}

void write_yaml_file(const std::filesystem::path& path, const json& tree) {
  write_file_atomic(path, json_to_yaml(tree));
}

}  // namespace masklm
