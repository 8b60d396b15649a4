#include "data/dataset_manifest.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "runtime/error.h"
#include "runtime/file_io.h"

namespace masklm {

namespace {

using nlohmann::ordered_json;

ordered_json split_to_json(const SplitManifest& s) {
  ordered_json shards = ordered_json::array();
  for (const ShardEntry& e : s.shards)
    shards.push_back({{"file", e.file}, {"documents", e.documents}, {"tokens", e.tokens}});
  return {{"documents", s.documents}, {"tokens", s.tokens}, {"shards", shards}};
}

SplitManifest split_from_json(const ordered_json& j) {
  SplitManifest s;
  for (const auto& e : j.at("shards"))
    s.add({e.at("file").get<std::string>(), e.at("documents").get<int64_t>(), e.at("tokens").get<int64_t>()});
  MASKLM_CHECK(s.documents == j.at("documents").get<int64_t>() && s.tokens == j.at("tokens").get<int64_t>(),
               "the split's counts differ from the sum over its shards");
  return s;
}

}  // namespace

void SplitManifest::add(const ShardEntry& shard) {
  shards.push_back(shard);
  documents += shard.documents;
  tokens += shard.tokens;
}

const SplitManifest& DatasetManifest::split(std::string_view name) const {
  if (name == "train") return train;
  if (name == "val") return val;
  MASKLM_FAIL("unknown split '{}' (expected train or val)", name);
}

void DatasetManifest::write(const std::filesystem::path& dir) const {
  const ordered_json j = {
      {"shard_format_version", shard_format_version},
      {"tokenizer", tokenizer},
      // Hex: JSON readers that parse numbers as doubles would round a 64-bit hash.
      {"vocab_hash", fmt::format("{:016x}", vocab_hash)},
      {"vocab_size", vocab_size},
      {"inputs", inputs},
      {"text_format", text_format},
      {"val_fraction", val_fraction},
      {"input",
       {{"documents", input.documents},
        {"text_bytes", input.text_bytes},
        {"empty_documents", input.empty_documents},
        {"invalid_utf8", input.invalid_utf8},
        {"split_documents", input.split_documents},
        {"untokenized_documents", untokenized_documents}}},
      {"train", split_to_json(train)},
      {"val", split_to_json(val)},
  };
  write_file_atomic(dir / kFileName, j.dump(2) + "\n");
}

DatasetManifest DatasetManifest::read(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / kFileName;
  std::ifstream in(path);
  if (!in) MASKLM_FAIL("cannot open '{}': no prepared dataset there (run `masklm prepare`)", path.string());
  DatasetManifest m;
  try {
    const ordered_json j = ordered_json::parse(in);
    m.shard_format_version = j.at("shard_format_version").get<uint32_t>();
    m.tokenizer = j.at("tokenizer").get<std::string>();
    m.vocab_hash = std::stoull(j.at("vocab_hash").get<std::string>(), nullptr, 16);
    m.vocab_size = j.at("vocab_size").get<int64_t>();
    m.inputs = j.at("inputs").get<std::vector<std::string>>();
    m.text_format = j.at("text_format").get<std::string>();
    m.val_fraction = j.at("val_fraction").get<double>();
    const auto& input = j.at("input");
    m.input.documents = input.at("documents").get<int64_t>();
    m.input.text_bytes = input.at("text_bytes").get<int64_t>();
    m.input.empty_documents = input.at("empty_documents").get<int64_t>();
    m.input.invalid_utf8 = input.at("invalid_utf8").get<int64_t>();
    m.input.split_documents = input.at("split_documents").get<int64_t>();
    m.untokenized_documents = input.at("untokenized_documents").get<int64_t>();
    m.train = split_from_json(j.at("train"));
    m.val = split_from_json(j.at("val"));
  } catch (const std::exception& e) {  // json errors, std::stoull on a bad hash, count checks
    MASKLM_FAIL("'{}': bad manifest: {}", path.string(), e.what());
  }
  return m;
}

}  // namespace masklm
