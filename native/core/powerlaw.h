// The reference's default power-law fitter ('ww' WWFit, R19): for every candidate xmin the
// continuous MLE alpha and the KS distance D; the candidate with the smallest D wins.
#pragma once
#include <cstddef>
#include <vector>

#include "core/status.h"

namespace ww {

struct PowerLawOptions {
  bool hasXmin = false;  // start the scan at the value closest to xmin
  double xmin = 0;
  bool hasXmax = false;  // end the scan at the value closest to xmax
  double xmax = 0;
  bool keepArrays = false;  // fill xmins/alphas/Ds/sigmas for every candidate (plots)
};

struct PowerLawFit {
  double alpha = 0, xmin = 0, xmax = 0, D = 0, sigma = 0;
  size_t bestIndex = 0;  // index of the chosen candidate among xmins
  size_t tailCount = 0;  // number of fitted values >= xmin
  size_t candidates = 0;
  std::vector<double> xmins, alphas, Ds, sigmas;
};

Status fitPowerLaw(const double* data, size_t n, const PowerLawOptions& opts, PowerLawFit& out);

// numpy's pairwise summation (np.sum / add.reduce on a contiguous float64 array), reproduced
// exactly so that alpha matches the reference bit for bit rather than to ~1e-15.
double numpySum(const double* a, size_t n);

}  // namespace ww
