#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "data/dataset_manifest.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "runtime/file_io.h"
#include "runtime/host_mirror.h"

namespace masklm {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kStateFile = "trainer_state.json";
constexpr const char* kHfConfigFile = "config.json";
constexpr const char* kOptimizerState = "adamw.m_v";
constexpr const char* kStepPrefix = "step-";

// The step of a complete checkpoint directory name ("step-00000100"), or -1.
int64_t step_of(const fs::path& dir) {
  const std::string name = dir.filename().string();
  if (name.rfind(kStepPrefix, 0) != 0) return -1;
  int64_t step = -1;
  const char* begin = name.data() + std::strlen(kStepPrefix);
  const char* end = name.data() + name.size();
  const auto r = std::from_chars(begin, end, step);
  return r.ec == std::errc() && r.ptr == end ? step : -1;
}

void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  MASKLM_CHECK(fd >= 0, "cannot open directory '{}': {}", dir.string(), std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  MASKLM_CHECK(rc == 0, "cannot flush directory '{}': {}", dir.string(), std::strerror(errno));
}

void write_json(const fs::path& path, const json& j) { write_file_atomic(path, j.dump(2) + "\n"); }

// Doubles are written with enough digits to read back bit for bit.
json log_window_to_json(const LogWindow& w) {
  return {{"loss", w.loss},
          {"accuracy", w.accuracy},
          {"seconds", w.seconds},
          {"steps", w.steps},
          {"finite_steps", w.finite_steps},
          {"tokens", w.counts.tokens},
          {"predictions", w.counts.predictions},
          {"corrupted", w.counts.corrupted}};
}

LogWindow log_window_from_json(const json& j) {
  return {j.at("loss").get<double>(),          j.at("accuracy").get<double>(),
          j.at("seconds").get<double>(),       j.at("steps").get<int64_t>(),
          j.at("finite_steps").get<int64_t>(),
          {j.at("tokens").get<int64_t>(), j.at("predictions").get<int64_t>(),
           j.value("corrupted", int64_t{0})}};
}

}  // namespace

fs::path checkpoint_path(const fs::path& checkpoints_dir, int64_t step) {
  return checkpoints_dir / fmt::format("{}{:08d}", kStepPrefix, step);
}

void save_checkpoint(const fs::path& dir, const MlmModel& model, AdamW& optimizer,
                     const TrainerState& state, const json& run_config) {
  const fs::path tmp = dir.string() + ".tmp";
  fs::remove_all(tmp);  // left over from a crash
  fs::create_directories(tmp);

  // Host copies of GPU state in the same layout: the files hold the same bytes whatever
  // device trained.
  HostMirror params(model.param_arena()), moments_host(optimizer.state_arena());
  params.pull();
  moments_host.pull();
  SafetensorsWriter weights;
  weights.set_metadata("format", "pt");  // what transformers expects of a PyTorch-style file
  for (const ParamEntry& e : model.params().table) weights.add(e.name, params(e.view));
  weights.write(tmp / kModelFile);
  write_json(tmp / kHfConfigFile, hf_config_to_json(model.config()));

  SafetensorsWriter moments;
  moments.add(kOptimizerState, moments_host.flat(model.dtype()));
  moments.write(tmp / kOptimizerFile);

  json trainer_state = {{"step", state.step},
                        {"optimizer_steps", optimizer.steps_taken()},
                        {"skipped_steps", state.skipped_steps},
                        {"bad_steps_in_row", state.bad_steps_in_row},
                        {"log_window", log_window_to_json(state.log_window)},
                        {"run_config", run_config}};
  if (!state.loss_scaler.is_null()) trainer_state["loss_scaler"] = state.loss_scaler;
  write_json(tmp / kStateFile, trainer_state);
  fsync_directory(tmp);
  // Re-saving a step (a stop right after a scheduled checkpoint is not re-saved, but a
  // rerun with --resume may reach the same step) replaces the old directory.
  fs::remove_all(dir);
  fs::rename(tmp, dir);
  fsync_directory(dir.parent_path());
}

TrainerState load_checkpoint(const fs::path& dir, MlmModel& model, AdamW& optimizer) {
  load_model_weights(dir, model);
  SafetensorsFile moments(dir / kOptimizerFile);
  HostMirror moments_host(optimizer.state_arena());
  moments.read_into(kOptimizerState, moments_host.flat(model.dtype()));
  moments_host.push();
  const json s = read_json_file(dir / kStateFile);
  try {
    optimizer.set_steps_taken(s.at("optimizer_steps").get<int64_t>());
    return TrainerState{
        s.at("step").get<int64_t>(), s.at("skipped_steps").get<int64_t>(),
        s.at("bad_steps_in_row").get<int64_t>(),
        s.contains("log_window") ? log_window_from_json(s.at("log_window")) : LogWindow{},
        s.value("loss_scaler", json())};
  } catch (const json::exception& e) {
    MASKLM_FAIL("'{}': {}", (dir / kStateFile).string(), e.what());
  }
}

void load_model_weights(const fs::path& dir, MlmModel& model) {
  SafetensorsFile weights(dir / kModelFile);
  // pull() first: the mirror's padding between tensors must stay as on the device (zero).
  HostMirror params(model.param_arena());
  params.pull();
  for (const ParamEntry& e : model.params().table) {
    MASKLM_CHECK(weights.has(e.name), "checkpoint '{}' has no tensor '{}'", dir.string(), e.name);
    weights.read_into(e.name, params(e.view));
  }
  params.push();
  model.master_weights_changed();
}

json read_checkpoint_run_config(const fs::path& dir) {
  const json s = read_json_file(dir / kStateFile);
  MASKLM_CHECK(s.contains("run_config"), "'{}' has no run_config", (dir / kStateFile).string());
  return s.at("run_config");
}

std::optional<fs::path> find_run_tokenizer(const fs::path& given) {
  // Absolute, so that the run directory can be found from the checkpoint's parents.
  const fs::path checkpoint = fs::absolute(given).lexically_normal();
  for (const fs::path& dir : {checkpoint, checkpoint.parent_path().parent_path()})
    if (fs::is_regular_file(dir / "tokenizer.json")) return dir / "tokenizer.json";
  if (!fs::is_regular_file(checkpoint / "trainer_state.json")) return std::nullopt;
  const nlohmann::json data =
      read_checkpoint_run_config(checkpoint).value("data", nlohmann::json::object());
  for (const auto& [key, value] : data.items()) {
    if (!value.is_string() ||
        !fs::is_regular_file(fs::path(value.get<std::string>()) / DatasetManifest::kFileName))
      continue;
    const fs::path tokenizer = DatasetManifest::read(value.get<std::string>()).tokenizer;
    if (fs::is_regular_file(tokenizer)) return tokenizer;
  }
  return std::nullopt;
}

std::vector<fs::path> list_checkpoints(const fs::path& checkpoints_dir) {
  std::vector<std::pair<int64_t, fs::path>> found;
  if (fs::is_directory(checkpoints_dir))
    for (const auto& entry : fs::directory_iterator(checkpoints_dir))
      if (const int64_t step = step_of(entry.path()); step >= 0 && entry.is_directory())
        found.emplace_back(step, entry.path());
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  for (auto& [step, path] : found) out.push_back(std::move(path));
  return out;
}

std::optional<fs::path> latest_checkpoint(const fs::path& checkpoints_dir) {
  auto all = list_checkpoints(checkpoints_dir);
  if (all.empty()) return std::nullopt;
  return all.back();
}

void prune_checkpoints(const fs::path& checkpoints_dir, int64_t keep) {
  MASKLM_CHECK(keep > 0, "keep at least one checkpoint, got {}", keep);
  const auto all = list_checkpoints(checkpoints_dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) fs::remove_all(all[i]);
}

}  // namespace masklm
