#include "core/blas_info.h"

extern "C" {
char* openblas_get_config(void) __attribute__((weak));
char* openblas_get_corename(void) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));
void openblas_set_num_threads(int) __attribute__((weak));
int openblas_get_parallel(void) __attribute__((weak));
}

namespace ww {

BlasInfo blasInfo() {
  BlasInfo info;
  info.isOpenBlas = openblas_get_config != nullptr;
  if (openblas_get_config) info.config = openblas_get_config();
  info.coreName = openblas_get_corename ? openblas_get_corename() : "unknown";
  info.threads = openblas_get_num_threads ? openblas_get_num_threads() : 1;
  if (openblas_get_parallel) {
    switch (openblas_get_parallel()) {
      case 0: info.parallel = "sequential"; break;
      case 1: info.parallel = "pthreads"; break;
      case 2: info.parallel = "openmp"; break;
      default: info.parallel = "unknown";
    }
  } else {
    info.parallel = "unknown";
  }
  return info;
}

bool setBlasThreads(int n) {
  if (!openblas_set_num_threads) return false;
  openblas_set_num_threads(n < 1 ? 1 : n);
  return true;
}

}  // namespace ww
