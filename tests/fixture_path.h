// Where the committed test fixtures (tests/fixtures/) are: $MASKLM_FIXTURE_DIR when set, as
// scripts/gpu-check sets it on a GPU machine whose build was made in another checkout, else
// the source tree the test was compiled from.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace masklm::testing {

inline std::filesystem::path fixture(const std::string& name) {
  const char* dir = std::getenv("MASKLM_FIXTURE_DIR");
  return std::filesystem::path(dir && *dir ? dir : MASKLM_FIXTURE_DIR) / name;
}

}  // namespace masklm::testing
