#include "train/resume_check.h"

#include <array>
#include <string>
#include <string_view>

#include "runtime/error.h"
#include "runtime/log.h"

namespace masklm {

namespace {

// JSON pointers (run_config_to_json's tree, flattened) that may change on resume: the
// cadence, and the attention kernel (an implementation choice, as the device is).
constexpr std::array<std::string_view, 8> kMayChange = {
    "/train/steps",         "/train/log_every",        "/train/eval_every",
    "/train/eval_batches",  "/train/checkpoint_every", "/train/keep_last",
    "/train/max_bad_steps", "/train/attention",
};

bool may_change(const std::string& pointer) {
  for (std::string_view key : kMayChange)
    if (pointer == key) return true;
  return false;
}

// "/masking/mask_rate" -> "masking.mask_rate", the spelling of recipes and --set.
std::string recipe_key(const std::string& pointer) {
  std::string key = pointer.substr(1);
  for (char& c : key)
    if (c == '/') c = '.';
  return key;
}

std::string shown(const nlohmann::json& flat, const std::string& pointer) {
  return flat.contains(pointer) ? flat[pointer].dump() : "(unset)";
}

}  // namespace

void check_resumed_recipe(const RunConfig& started, const RunConfig& resumed) {
  const nlohmann::json before = run_config_to_json(started).flatten();
  const nlohmann::json after = run_config_to_json(resumed).flatten();
  std::string changes;
  const auto report = [&](const std::string& pointer) {
    changes += "\n  " + recipe_key(pointer) + ": " + shown(before, pointer) + " -> " +
               shown(after, pointer);
  };
  for (const auto& [pointer, value] : before.items())
    if (!may_change(pointer) && (!after.contains(pointer) || after[pointer] != value))
      report(pointer);
  for (const auto& [pointer, value] : after.items())
    if (!may_change(pointer) && !before.contains(pointer)) report(pointer);
  MASKLM_CHECK(changes.empty(),
               "--resume would continue the run's checkpoints with a different recipe:{}\nresume "
               "with the run's own recipe (omit --config, or pass the same file and --set values), "
               "or start a new run directory",
               changes);
  if (started.train.steps != resumed.train.steps)
    log_info(
        "resuming with train.steps {} instead of {}: a learning-rate schedule over the whole run "
        "now spans {} steps",
        resumed.train.steps, started.train.steps, resumed.train.steps);
}

}  // namespace masklm
