// A resumed run must train the recipe its checkpoints were trained with. `pretrain --resume`
// (and a resumed sweep cell) rebuilds the recipe from the files and overrides given now, so
// an edited recipe or sweep file would otherwise continue old checkpoints under new
// settings without a word. Only keys that change when and how much is logged, evaluated,
// kept and trained may differ; train.steps may grow or shrink (a longer run is a common
// request), which also stretches a schedule defined over the whole run, so that is logged.
#pragma once

#include "train/run_config.h"

namespace masklm {

// Throws naming every other key whose value differs (with both values) between the recipe
// the run was started with and the one it is resumed with.
void check_resumed_recipe(const RunConfig& started, const RunConfig& resumed);

}  // namespace masklm
