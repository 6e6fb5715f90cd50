// Result type of the pure C++ core: no exception and no N-API type crosses this boundary.
#pragma once
#include <string>
#include <utility>

namespace ww {

// Alloc: an allocation failed (std::bad_alloc or a refused size); Internal: any other unexpected
// exception, i.e. a bug.
enum class Code { Ok, Empty, NonFinite, Shape, Lapack, Fit, Alloc, Internal };

struct Status {
  Code code = Code::Ok;
  std::string message;

  static Status ok() { return {}; }
  static Status error(Code c, std::string m) { return {c, std::move(m)}; }
  bool isOk() const { return code == Code::Ok; }
};

// The JS error code each core status maps to: every name must be in ERROR_CODES of
// src/shared/errors.ts (test/unit/error-codes.test.ts checks it).
inline const char* codeName(Code c) {
  switch (c) {
    case Code::Ok: return "OK";
    case Code::Empty: return "E_EMPTY";
    case Code::NonFinite: return "E_NONFINITE";
    case Code::Shape: return "E_SHAPE";
    case Code::Lapack: return "E_LAPACK";
    case Code::Fit: return "E_FIT";
    case Code::Alloc: return "E_NOMEM";
    case Code::Internal: return "E_INTERNAL";
  }
  return "E_INTERNAL";
}

}  // namespace ww
