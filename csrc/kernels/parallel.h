// A small persistent thread pool for the CPU kernels. The extension does not link torch or
// OpenMP on purpose: two OpenMP runtimes in one process (torch bundles its own) oversubscribe.
#pragma once
#include <cstdint>
#include <functional>

namespace bharnet::kernels {

int default_num_threads();
int num_threads();
// n <= 0 restores the default (hardware concurrency).
void set_num_threads(int n);

// Runs fn(i) for i in [0, n) on the pool and returns when all are done. Calls made from
// inside a task run serially, so kernels may nest without deadlocking.
void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

}  // namespace bharnet::kernels
