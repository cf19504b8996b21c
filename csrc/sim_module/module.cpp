// cnnops._sim: the CUDA launch code and kernels of csrc/cuda, compiled with g++ against the CPU
// simulator (csrc/sim), as a Python module whose functions take CPU tensors. Tests call the very
// host code a GPU runs (checks, layout, kernel choice, grid) and compare with torch; the
// simulator's counters prove which instructions ran. Outputs are always poisoned (NaN) first.
#include <torch/extension.h>

#include <string>
#include <vector>

#include "common/poison.h"
#include "cuda/conv2d_fprop.h"
#include "cuda/conv2d_host.h"
#include "cuda/device_op.h"
#include "cuda/pool2d_host.h"
#include "sim/sim_api.h"

namespace {

namespace sim = cnnops::sim;

// Runs one simulated op; a refused launch or kernel fault (sticky, as on a GPU) becomes a Python
// RuntimeError carrying the simulator's explanation, and the device is reset for the next call.
template <typename F>
auto run_simulated(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    const std::string why = sim::last_error_message();
    sim::reset_device();
    if (why.empty()) throw;
    throw std::runtime_error(std::string(e.what_without_backtrace()) + "\nsimulator: " + why);
  }
}

// The simulated GPU as a DeviceOp backend (cuda/device_op.h): CPU tensors (the simulator's
// memory), a null stream, faults turned into Python errors.
struct SimBackend {
  static void check(const at::Tensor& t, const at::Tensor&) {
    TORCH_CHECK(t.device().is_cpu(), "cnnops._sim: every tensor argument must be a CPU tensor (the simulator's memory), got one on ",
                t.device());
  }
  template <typename F>
  static auto run(const at::Tensor&, F&& f) {
    return run_simulated([&] { return f(nullptr); });
  }
};

template <auto DeviceFn>
constexpr auto simulated = &cnnops::cuda::DeviceOp<SimBackend, DeviceFn>::call;

std::string conv2d_forward_plan(const at::Tensor& input, const at::Tensor& weight,
                                const c10::optional<at::Tensor>& bias, std::vector<int64_t> stride,
                                std::vector<int64_t> padding, std::vector<int64_t> dilation, int64_t groups) {
  return cnnops::cuda::conv2d_forward_plan(input, weight, bias, stride, padding, dilation, groups);
}

std::string conv2d_backward_plan(const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
                                 std::vector<int64_t> stride, std::vector<int64_t> padding,
                                 std::vector<int64_t> dilation, int64_t groups, std::array<bool, 3> output_mask) {
  return cnnops::cuda::conv2d_backward_plan(grad_output, input, weight, stride, padding, dilation, groups, output_mask);
}

pybind11::dict conv2d_direct_plan(const at::Tensor& input, const at::Tensor& weight, std::vector<int64_t> stride,
                                  std::vector<int64_t> padding, std::vector<int64_t> dilation, int64_t groups) {
  const cnnops::cuda::DirectPlan plan =
      cnnops::cuda::conv2d_direct_forward_plan(input, weight, stride, padding, dilation, groups);
  pybind11::dict d;
  d["fits"] = plan.fits;
  d["channels_last"] = plan.channels_last;
  d["unrolled_taps"] = plan.unrolled_taps;
  d["unrolled_stride"] = plan.unrolled_stride;
  d["staged_channels"] = plan.staged_channels;
  d["rows_per_stage"] = plan.rows_per_stage;
  d["shared_bytes"] = plan.shared_bytes();
  return d;
}

pybind11::dict counters() {
  pybind11::dict d;
  for (int i = 0; i < int(sim::Counter::kNumCounters); ++i)
    d[sim::counter_name(sim::Counter(i))] = sim::counter(sim::Counter(i));
  return d;
}

// One dict per access site (sim_api.h's MemoryAccessSite), kernels and lines in order.
pybind11::list memory_counters() {
  pybind11::list out;
  for (const sim::MemoryAccessSite& c : sim::memory_access_counts()) {
    pybind11::dict d;
    d["kernel"] = c.kernel;
    d["file"] = c.file;
    d["line"] = c.line;
    d["instruction"] = c.instruction;
    d["space"] = c.space == sim::MemorySpace::kShared ? "shared" : "global";
    d["kind"] = c.kind == sim::AccessKind::kLoad ? "load" : "store";
    d["instructions"] = c.instructions;
    d["lane_accesses"] = c.lane_accesses;
    d["bytes"] = c.bytes;
    d["wavefronts"] = c.wavefronts;
    d["ideal_wavefronts"] = c.ideal_wavefronts;
    d["sectors"] = c.sectors;
    d["ideal_sectors"] = c.ideal_sectors;
    out.append(d);
  }
  return out;
}

// One dict per launch since the last reset_counters(): kernel, grid (x, y, z) and blocks.
pybind11::list launch_log() {
  pybind11::list out;
  for (const sim::LaunchRecord& l : sim::launch_log()) {
    pybind11::dict d;
    d["kernel"] = l.kernel;
    d["grid"] = pybind11::make_tuple(l.grid_x, l.grid_y, l.grid_z);
    d["blocks"] = l.blocks();
    out.append(d);
  }
  return out;
}

void set_profiling(bool memory, uint64_t sample_blocks, bool run_blocks) {
  sim::Options o = sim::options();
  o.count_memory_accesses = memory;
  o.sample_blocks = sample_blocks;
  o.skip_blocks = !run_blocks;
  sim::set_options(o);
}

void set_options(bool reverse_block_order, bool reverse_thread_order, bool warps_run_ahead) {
  sim::Options o = sim::options();
  o.reverse_block_order = reverse_block_order;
  o.reverse_thread_order = reverse_thread_order;
  o.warps_run_ahead = warps_run_ahead;
  sim::set_options(o);
}

}  // namespace

PYBIND11_MODULE(_sim, m) {
  m.doc() = "cnnops' CUDA kernels and launch code run on the CPU by the simulator (csrc/sim)";
  cnnops::set_poison_outputs(true);
  m.def("conv2d_forward", simulated<&cnnops::cuda::conv2d_forward_device>,
        "torch.ops.cnnops.conv2d_forward on the simulated GPU", pybind11::arg("input"), pybind11::arg("weight"), pybind11::arg("bias"), pybind11::arg("stride"), pybind11::arg("padding"),
        pybind11::arg("dilation"), pybind11::arg("groups"));
  m.def("conv2d_bias_act", simulated<&cnnops::cuda::conv2d_bias_act_device>, "torch.ops.cnnops.conv2d_bias_act on the simulated GPU",
        pybind11::arg("input"), pybind11::arg("weight"), pybind11::arg("bias"), pybind11::arg("stride"),
        pybind11::arg("padding"), pybind11::arg("dilation"), pybind11::arg("groups"), pybind11::arg("activation"),
        pybind11::arg("residual"));
  m.def("conv2d_backward", simulated<&cnnops::cuda::conv2d_backward_device>, "torch.ops.cnnops.conv2d_backward on the simulated GPU",
        pybind11::arg("grad_output"), pybind11::arg("input"), pybind11::arg("weight"), pybind11::arg("stride"),
        pybind11::arg("padding"), pybind11::arg("dilation"), pybind11::arg("groups"), pybind11::arg("output_mask"));
  m.def("conv2d_forward_plan", &conv2d_forward_plan,
        "the kernel configuration conv2d_forward would run for these arguments (nothing is launched)",
        pybind11::arg("input"), pybind11::arg("weight"), pybind11::arg("bias"), pybind11::arg("stride"),
        pybind11::arg("padding"), pybind11::arg("dilation"), pybind11::arg("groups"));
  m.def("conv2d_direct_plan", &conv2d_direct_plan,
        "how the direct kernels would stage this forward: thread layout, unrolled taps, staged channels, filter "
        "rows per stage, dynamic shared bytes; fits=False where they do not take it (nothing is launched)",
        pybind11::arg("input"), pybind11::arg("weight"), pybind11::arg("stride"), pybind11::arg("padding"),
        pybind11::arg("dilation"), pybind11::arg("groups"));
  m.def("conv2d_backward_plan", &conv2d_backward_plan,
        "how conv2d_backward would compute these gradients: each one's path, the dgrad stride phases and the "
        "wgrad batch chunks (nothing is launched)",
        pybind11::arg("grad_output"), pybind11::arg("input"), pybind11::arg("weight"), pybind11::arg("stride"),
        pybind11::arg("padding"), pybind11::arg("dilation"), pybind11::arg("groups"), pybind11::arg("output_mask"));
  m.def("max_pool2d_forward", simulated<&cnnops::cuda::max_pool2d_forward_device>);
  m.def("max_pool2d_values", simulated<&cnnops::cuda::max_pool2d_values_device>);
  m.def("max_pool2d_backward", simulated<&cnnops::cuda::max_pool2d_backward_device>);
  m.def("avg_pool2d_forward", simulated<&cnnops::cuda::avg_pool2d_forward_device>);
  m.def("avg_pool2d_backward", simulated<&cnnops::cuda::avg_pool2d_backward_device>);
  m.def("adaptive_avg_pool2d_forward", simulated<&cnnops::cuda::adaptive_avg_pool2d_forward_device>);
  m.def("adaptive_avg_pool2d_backward", simulated<&cnnops::cuda::adaptive_avg_pool2d_backward_device>);
  m.def("last_kernel", &cnnops::cuda::last_kernel, "the kernel configuration the last call of an op ran");
  m.def("counters", &counters, "what the simulator ran since the last reset: {name: count}");
  m.def("reset_counters", &sim::reset_counters, "zeroes the counters and clears the launch log");
  m.def("launch_log", &launch_log,
        "the launches since the last reset_counters(), in order (the first 65536): {kernel, grid, blocks}");
  m.def("memory_counters", &memory_counters,
        "what a profiler would count of the memory accesses since the last reset, per kernel and source line: "
        "shared-memory wavefronts and global 32-byte sectors against their ideal (while count_memory_accesses is on)");
  m.def("reset_memory_counters", &sim::reset_memory_access_counts);
  m.def("set_profiling", &set_profiling,
        "memory: record and cost every lane of the kernels' reported memory accesses (slower); sample_blocks: run "
        "only that many blocks of each launch, spread over the grid (0: all; outputs are then incomplete); "
        "run_blocks=False: launches are checked, counted and logged (launch_log) but run no block",
        pybind11::arg("memory") = false, pybind11::arg("sample_blocks") = 0, pybind11::arg("run_blocks") = true);
  m.def("set_wgmma", &cnnops::cuda::set_fprop_wgmma_enabled,
        "whether the float16 / bfloat16 forward takes the Hopper (wgmma) kernel where it applies; off by default "
        "in the simulator, so that the mma.sync kernels keep their tests",
        pybind11::arg("enabled"));
  m.def("set_options", &set_options,
        "the schedule: blocks / threads last to first, each warp running ahead to the next __syncthreads",
        pybind11::arg("reverse_block_order") = false, pybind11::arg("reverse_thread_order") = false,
        pybind11::arg("warps_run_ahead") = false);
}
