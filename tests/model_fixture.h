// Loading a Hugging Face parity fixture (tests/fixtures/hf_*.safetensors, made by
// make_hf_fixtures.py) into an MlmModel and a Batch.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "model/hf_config.h"
#include "model/mlm_model.h"
#include "model/safetensors.h"

namespace masklm::testing {

inline std::vector<int32_t> read_ids(const SafetensorsFile& f, const std::string& name) {
  std::vector<int32_t> v(static_cast<size_t>(f.entry(name).shape.numel()));
  f.read_into(name, host_view(v));
  return v;
}

inline std::vector<double> read_doubles(const SafetensorsFile& f, const std::string& name) {
  std::vector<double> v(static_cast<size_t>(f.entry(name).shape.numel()));
  Tensor t;
  t.data = v.data();
  t.shape = f.entry(name).shape;
  t.dtype = DType::F64;
  f.read_into(name, t);
  return v;
}

inline ModelConfig fixture_config(const SafetensorsFile& f) {
  return hf_config_from_json(nlohmann::json::parse(f.metadata().at("config")), f.path().string());
}

inline Batch fixture_batch(const SafetensorsFile& f) {
  Batch b;
  b.tokens = read_ids(f, "input.tokens");
  b.positions = read_ids(f, "input.positions");
  b.types = read_ids(f, "input.types");
  b.cu_seqlens = read_ids(f, "input.cu_seqlens");
  b.predict_index = read_ids(f, "input.predict_index");
  b.labels = read_ids(f, "input.labels");
  return b;
}

// Copies every parameter of the model's table from the fixture ("param." + HF name).
inline void load_fixture_params(const SafetensorsFile& f, const MlmModel& model) {
  for (const ParamEntry& e : model.params().table) f.read_into("param." + e.name, e.view);
}

}  // namespace masklm::testing
