#pragma once
// The guard's maintenance loop in miniature: an io_context run by one background thread, as
// `serve` runs it, while the test thread reads the published decision set as request threads
// do. call() runs a function on the loop and waits for it.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <thread>

namespace edgeguard::testing {

class LoopThread {
 public:
  LoopThread() : guard_(boost::asio::make_work_guard(io)) {}
  ~LoopThread() { finish(); }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  void start() {
    thread_ = std::thread([this] { io.run(); });
  }
  // Runs `f` on the loop (here and now when the loop thread is not running); true when it ran
  // within `timeout` (false: the loop is stuck).
  template <typename F>
  bool call(F f, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    if (!thread_.joinable()) {
      f();
      return true;
    }
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    boost::asio::post(io, [f = std::move(f), done]() mutable {
      f();
      done->set_value();
    });
    return future.wait_for(timeout) == std::future_status::ready;
  }
  void finish() {
    guard_.reset();
    io.stop();
    if (thread_.joinable()) thread_.join();
  }

  boost::asio::io_context io;

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace edgeguard::testing
