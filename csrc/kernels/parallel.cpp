// Thread count used by the CPU kernels.
#include <thread>

namespace bharnet::kernels {
int default_num_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}
}  // namespace bharnet::kernels
