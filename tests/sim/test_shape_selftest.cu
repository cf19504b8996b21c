// The project's real kernel, csrc/cuda/shape_selftest.cu, through its own host launcher
// (cudaMalloc, cudaMemcpy, launch), compiled unmodified against the simulator.
#include <cmath>
#include <vector>

#include "cuda/shape_selftest.cuh"
#include "sim_test.h"

namespace sim = cnnops::sim;

using cnnops::cuda::ShapeAnswer;
using cnnops::cuda::ShapeQuery;

namespace {

// The definitions, written independently of csrc/common (floating-point floor/ceil, exact for
// these small sizes): the device answers must equal these, not only the host's run of the same
// inline functions.
ShapeAnswer by_definition(const ShapeQuery& q) {
  ShapeAnswer a;
  const double span = double(q.in + 2 * q.pad - q.dilation * (q.kernel - 1) - 1) / double(q.stride);
  a.conv_out = int64_t(std::floor(span)) + 1;
  a.pool_out = int64_t(q.ceil_mode ? std::ceil(span) : std::floor(span)) + 1;
  // torch: in ceil mode the last window must start inside the input or its left padding.
  if (q.ceil_mode && (a.pool_out - 1) * q.stride >= q.in + q.pad) --a.pool_out;
  const int64_t o = q.kernel - 1, out = q.kernel;  // the last of `kernel` adaptive windows
  a.adaptive_start = int64_t(std::floor(double(o * q.in) / double(out)));
  a.adaptive_end = int64_t(std::ceil(double((o + 1) * q.in) / double(out)));
  return a;
}

}  // namespace

TEST(shape_selftest_device_answers_equal_the_host) {
  std::vector<ShapeQuery> queries;
  for (int64_t in : {1, 2, 5, 7, 14, 28, 56, 112, 224, 227})
    for (int64_t kernel : {1, 2, 3, 5, 7, 11})
      for (int64_t stride : {1, 2, 4})
        for (int64_t pad : {0, 1, 2})
          for (int64_t dilation : {1, 2})
            for (int32_t ceil_mode : {0, 1}) queries.push_back({in, pad, kernel, stride, dilation, ceil_mode});
  std::vector<ShapeAnswer> device(queries.size());
  sim::reset_counters();
  CHECK_EQ(cnnops::cuda::run_shape_selftest(queries.data(), device.data(), int(queries.size())), cudaSuccess);
  CHECK(queries.size() > 1000);
  CHECK_EQ(sim::counter(sim::Counter::kBlocks), uint64_t((queries.size() + 127) / 128));
  int mismatches = 0, off_definition = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    const ShapeAnswer h = cnnops::cuda::shape_answer_host(queries[i]);
    const ShapeAnswer& d = device[i];
    mismatches += h.conv_out != d.conv_out || h.pool_out != d.pool_out || h.adaptive_start != d.adaptive_start ||
                  h.adaptive_end != d.adaptive_end;
    const ShapeAnswer e = by_definition(queries[i]);
    off_definition += e.conv_out != d.conv_out || e.pool_out != d.pool_out || e.adaptive_start != d.adaptive_start ||
                      e.adaptive_end != d.adaptive_end;
  }
  CHECK_EQ(mismatches, 0);
  CHECK_EQ(off_definition, 0);
}
