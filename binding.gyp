{
  "targets": [
    {
      "target_name": "ww_native",
      "sources": [
        "native/core/blas_info.cc",
        "native/core/convert.cc",
        "native/core/eig.cc",
        "native/core/farms.cc",
        "native/core/gemm.cc",
        "native/core/gram.cc",
        "native/core/lowrank.cc",
        "native/core/plfit.cc",
        "native/core/powerlaw.cc",
        "native/core/sigma_min.cc",
        "native/core/spectrum.cc",
        "native/core/svd.cc",
        "native/napi/addon.cc",
        "native/napi/eig_binding.cc",
        "native/napi/farms_binding.cc",
        "native/napi/gemm_binding.cc",
        "native/napi/info_binding.cc",
        "native/napi/layer_handle.cc",
        "native/napi/lowrank_binding.cc",
        "native/napi/plfit_binding.cc",
        "native/napi/powerlaw_binding.cc",
        "native/napi/spectrum_binding.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/blas-flags.mjs --cflags)",
        "native"
      ],
      "libraries": ["<!@(node scripts/blas-flags.mjs --libs)"],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3"]
      }
    }
  ]
}
