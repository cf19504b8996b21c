// Python entry of the device shape self-test (module.cpp exposes it as _C.cuda_shape_selftest).
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "shape_selftest.cuh"

namespace cnnops {
namespace cuda {

pybind11::dict shape_selftest() {
  std::vector<ShapeQuery> queries;
  for (int64_t in : {1, 2, 5, 7, 14, 28, 56, 112, 224, 227})
    for (int64_t kernel : {1, 2, 3, 5, 7, 11})
      for (int64_t stride : {1, 2, 4})
        for (int64_t pad : {0, 1, 2})
          for (int64_t dil : {1, 2})
            for (int32_t ceil : {0, 1}) queries.push_back({in, pad, kernel, stride, dil, ceil});
  std::vector<ShapeAnswer> device(queries.size());
  const cudaError_t err = run_shape_selftest(queries.data(), device.data(), int(queries.size()));
  if (err != cudaSuccess) throw std::runtime_error(std::string("cnnops: CUDA error: ") + cudaGetErrorString(err));
  int64_t mismatches = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    const ShapeAnswer h = shape_answer_host(queries[i]);
    const ShapeAnswer& d = device[i];
    mismatches += h.conv_out != d.conv_out || h.pool_out != d.pool_out ||
                  h.adaptive_start != d.adaptive_start || h.adaptive_end != d.adaptive_end;
  }
  pybind11::dict out;
  out["queries"] = int64_t(queries.size());
  out["mismatches"] = mismatches;
  return out;
}

}  // namespace cuda
}  // namespace cnnops
