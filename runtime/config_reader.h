// Strict reading of one section of a configuration tree (YAML files are converted to
// nlohmann::json first). Every module parses its own section with a ConfigReader, so an
// unknown key, a wrong type or an impossible value is an error that names the full key.
//
//   ConfigReader r(root["masking"], "masking");
//   cfg.rate = r.get("rate", cfg.rate);   // optional, default kept
//   cfg.kind = r.require<std::string>("strategy");
//   r.finish();                           // throws on keys nobody read
#pragma once

#include <nlohmann/json.hpp>

#include <set>
#include <string>

#include "runtime/error.h"

namespace masklm {

class ConfigReader {
 public:
  // `node` may be null (an absent section): every get() then returns its default.
  ConfigReader(const nlohmann::json& node, std::string path) : node_(node), path_(std::move(path)) {
    MASKLM_CHECK(node_.is_null() || node_.is_object(), "config key '{}' must be a mapping", path_);
  }

  bool has(const std::string& key) const { return node_.is_object() && node_.contains(key); }
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  template <typename T> T get(const std::string& key, const T& fallback) {
    if (!has(key)) return fallback;
    return convert<T>(key);
  }
  template <typename T> T require(const std::string& key) {
    MASKLM_CHECK(has(key), "config key '{}' is required", key_path(key));
    return convert<T>(key);
  }
  // A sub-section (null when absent), marked as read.
  const nlohmann::json& section(const std::string& key) {
    read_.insert(key);
    static const nlohmann::json kNull;
    return has(key) ? node_.at(key) : kNull;
  }
  // Throws for the first key of this section that no get/require/section call read.
  void finish() const {
    if (!node_.is_object()) return;
    for (const auto& item : node_.items())
      MASKLM_CHECK(read_.count(item.key()), "unknown config key '{}'", key_path(item.key()));
  }

 private:
  template <typename T> T convert(const std::string& key) {
    read_.insert(key);
    const nlohmann::json& v = node_.at(key);
    try {
      if constexpr (std::is_same_v<T, bool>) {
        MASKLM_CHECK(v.is_boolean(), "config key '{}' must be true or false, got {}", key_path(key), v.dump());
      } else if constexpr (std::is_integral_v<T>) {
        MASKLM_CHECK(v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(v.get<int64_t>())),
                     "config key '{}' must be an integer, got {}", key_path(key), v.dump());
        return static_cast<T>(v.get<int64_t>());
      } else if constexpr (std::is_floating_point_v<T>) {
        MASKLM_CHECK(v.is_number(), "config key '{}' must be a number, got {}", key_path(key), v.dump());
      } else if constexpr (std::is_same_v<T, std::string>) {
        MASKLM_CHECK(v.is_string(), "config key '{}' must be a string, got {}", key_path(key), v.dump());
      }
      return v.get<T>();
    } catch (const nlohmann::json::exception& e) {
      MASKLM_FAIL("config key '{}' has the wrong type: {}", key_path(key), e.what());
    }
  }

  const nlohmann::json& node_;
  std::string path_;
  std::set<std::string> read_;
};

}  // namespace masklm
