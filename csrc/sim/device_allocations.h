// The registry of "device" buffers: cudaMalloc'd host memory, remembered so that cudaFree and the
// device side of cudaMemcpy / cudaMemset can be checked the way a GPU checks device pointers.
#pragma once
#include <cstddef>

namespace cnnops {
namespace sim {

// nullptr when out of memory. Exactly `bytes` long, so ASan reports the first byte past the end.
void* allocate_device_buffer(size_t bytes, bool poison);
// False if pointer is not the start of a live buffer.
bool free_device_buffer(void* pointer);
// True if [pointer, pointer + bytes) lies inside one live buffer.
bool is_device_range(const void* pointer, size_t bytes);
size_t device_buffer_count();

}  // namespace sim
}  // namespace cnnops
