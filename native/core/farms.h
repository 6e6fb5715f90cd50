// FARMS (Fixed-Aspect-Ratio Matrix Subsampling, docs/recipes.md#farms-alpha): the pooled squared
// singular values of many fixed-size windows of one weight matrix, in one call. Each window is
// copied out and handed to the project's spectrum route (core/spectrum), so windows get the same
// Gram/?gesdd route choice and error bound as whole matrices; the window geometry (sliding
// steps, clamping) is decided by the caller.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "core/convert.h"
#include "core/spectrum.h"
#include "core/status.h"

namespace ww {

struct FarmsWindow {
  size_t row = 0, col = 0, rows = 0, cols = 0;
};

struct FarmsEigs {
  std::vector<double> evals;   // every window's σ², windows in the given order, each ascending
  Route route = Route::Gesdd;  // the strongest route any window took (Gram < … < ?gesdd)
  double errorBound = 0;       // the largest window error bound (0 when every window used ?gesdd)
  std::string fallback;        // the first reason a window of the fast method used ?gesdd
};

// Windows must lie inside the matrix (checked). `w` is row-major; F32 or F64. `workers` threads
// take windows in turn (each window's decomposition is small: the caller runs OpenBLAS with one
// thread, and the windows, not BLAS, are parallel); the result does not depend on `workers`.
Status farmsWindowEigs(const MatrixView& w, const std::vector<FarmsWindow>& windows, const SpectrumOptions& o, FarmsEigs& out, int workers = 1);

}  // namespace ww
