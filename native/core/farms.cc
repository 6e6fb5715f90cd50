#include "core/farms.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

namespace ww {
namespace {

struct WindowResult {
  std::vector<double> evals;
  Route route = Route::Gesdd;
  double errorBound = 0;
  std::string fallback;
  Status status;
};

template <typename T>
void runWindow(const MatrixView& w, const FarmsWindow& win, const SpectrumOptions& o, WindowResult& res) {
  const T* src = static_cast<const T*>(w.data);
  std::vector<T> buf(win.rows * win.cols);
  for (size_t r = 0; r < win.rows; ++r) std::memcpy(&buf[r * win.cols], src + (win.row + r) * w.cols + win.col, win.cols * sizeof(T));
  MatrixView view;
  view.data = buf.data();
  view.dtype = w.dtype;
  view.rows = win.rows;
  view.cols = win.cols;
  Spectrum s;
  res.status = computeSpectrum(view, o, s);
  if (!res.status.isOk()) {
    res.status.message = "window at row " + std::to_string(win.row) + ", column " + std::to_string(win.col) + ": " + res.status.message;
    return;
  }
  res.evals = std::move(s.evals);
  res.route = s.route;
  res.errorBound = s.errorBound;
  res.fallback = std::move(s.fallback);
}

void runAll(const MatrixView& w, const std::vector<FarmsWindow>& windows, const SpectrumOptions& o, std::vector<WindowResult>& results, int workers) {
  std::atomic<size_t> next{0};
  auto work = [&]() {
    try {
      for (size_t k = next++; k < windows.size(); k = next++) {
        if (w.dtype == DType::F32) runWindow<float>(w, windows[k], o, results[k]);
        else
          runWindow<double>(w, windows[k], o, results[k]);
      }
    } catch (const std::bad_alloc&) {
      for (size_t k = next++; k < windows.size(); k = next++) results[k].status = Status::error(Code::Alloc, "out of memory");
    }
  };
  const size_t n = std::min<size_t>(static_cast<size_t>(std::max(1, workers)), windows.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
}

}  // namespace

Status farmsWindowEigs(const MatrixView& w, const std::vector<FarmsWindow>& windows, const SpectrumOptions& o, FarmsEigs& out, int workers) {
  if (w.dtype != DType::F32 && w.dtype != DType::F64) return Status::error(Code::Internal, "farmsWindowEigs: matrix must be F32 or F64");
  if (windows.empty()) return Status::error(Code::Empty, "no windows");
  for (const FarmsWindow& win : windows) {
    if (win.rows == 0 || win.cols == 0 || win.row > w.rows || win.col > w.cols || win.rows > w.rows - win.row || win.cols > w.cols - win.col)
      return Status::error(Code::Shape, "window [" + std::to_string(win.row) + "+" + std::to_string(win.rows) + ", " + std::to_string(win.col) + "+" +
                                            std::to_string(win.cols) + "] outside the " + std::to_string(w.rows) + "x" + std::to_string(w.cols) +
                                            " matrix");
  }
  std::vector<WindowResult> results(windows.size());
  runAll(w, windows, o, results, workers);
  size_t total = 0;
  for (const WindowResult& r : results) {
    if (!r.status.isOk()) return r.status;
    total += r.evals.size();
  }
  out.evals.reserve(total);
  bool first = true;
  for (const WindowResult& r : results) {
    out.evals.insert(out.evals.end(), r.evals.begin(), r.evals.end());
    if (first || routeStrength(r.route) > routeStrength(out.route)) out.route = r.route;
    first = false;
    out.errorBound = std::max(out.errorBound, r.errorBound);
    if (out.fallback.empty() && !r.fallback.empty()) out.fallback = r.fallback;
  }
  return Status::ok();
}

}  // namespace ww
