// What BLAS the addon runs on, and its thread count. OpenBLAS entry points are weak symbols so a
// build against another BLAS (reference, MKL via WW_BLAS_LIBS) still loads and reports "unknown".
#pragma once
#include <string>

namespace ww {

struct BlasInfo {
  bool isOpenBlas = false;
  std::string config;    // openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell"
  std::string coreName;  // kernel family in use, e.g. "Haswell", "SkylakeX", "Prescott"
  int threads = 1;
  std::string parallel;  // "sequential", "pthreads" or "openmp"
};

BlasInfo blasInfo();
// Returns false when the BLAS does not expose a thread setter.
bool setBlasThreads(int n);

}  // namespace ww
