#include "runtime/threads.h"

#include <omp.h>

#include "runtime/error.h"

namespace masklm {

static int& default_threads() {
  static int n = omp_get_max_threads();
  return n;
}

int num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  MASKLM_CHECK(n >= 0, "thread count must be >= 0, got {}", n);
  const int threads = n > 0 ? n : default_threads();
  omp_set_num_threads(threads);
}

}  // namespace masklm
