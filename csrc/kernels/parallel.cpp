#include "kernels/parallel.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace bharnet::kernels {

int default_num_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

namespace {

thread_local bool t_inside_task = false;

// One parallel_for call. Workers that wake up late may still hold it after the caller has
// returned; they then find no index left and never touch fn.
struct Job {
  const std::function<void(int64_t)>* fn = nullptr;
  int64_t n = 0;
  std::atomic<int64_t> next{0}, done{0};
};

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 0; i + 1 < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // The caller works too and returns as soon as every task has finished, without waiting for
  // workers to wake: on a loaded machine a descheduled worker must not stall the call.
  void run(int64_t n, const std::function<void(int64_t)>& fn) {
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->n = n;
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = job;
      ++generation_;
    }
    cv_.notify_all();
    work(*job);
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return job->done.load() == n; });
    job_.reset();
  }

 private:
  void work(Job& job) {
    t_inside_task = true;
    for (int64_t i; (i = job.next.fetch_add(1)) < job.n;) {
      (*job.fn)(i);
      if (job.done.fetch_add(1) + 1 == job.n) {
        std::lock_guard<std::mutex> lk(mu_);  // pairs with the caller's predicate check
        done_cv_.notify_all();
      }
    }
    t_inside_task = false;
  }
  void worker_loop() {
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      if (job) work(*job);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::shared_ptr<Job> job_;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

std::mutex g_pool_mu;  // one parallel region at a time; also guards resizing
std::unique_ptr<Pool> g_pool;
int g_threads = 0;

}  // namespace

int num_threads() {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  return g_threads > 0 ? g_threads : default_num_threads();
}

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  int want = n > 0 ? n : default_num_threads();
  if (want == g_threads) return;
  g_pool.reset();
  g_threads = want;
}

void parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  if (n == 1 || t_inside_task) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (g_threads <= 0) g_threads = default_num_threads();
  if (g_threads == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  if (!g_pool || g_pool->size() != g_threads) g_pool = std::make_unique<Pool>(g_threads);
  g_pool->run(n, fn);
}

}  // namespace bharnet::kernels
