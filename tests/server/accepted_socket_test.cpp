// AcceptedSocket's read in the loop (accepted_socket.h): a read that drained the socket waits for
// the next edge without a recv first, and one that filled its buffer reads on at once, over a
// real loopback TCP connection and Asio's reactor. recv is interposed for this executable to
// count the calls on the server's descriptor: the property under test is a system call that is
// not made, which no answer on the wire would show.
#include "guard/server/accepted_socket.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>

#include <atomic>
#include <chrono>
#include <memory>

namespace {

std::atomic<int> watched_fd{-1};
std::atomic<int> recv_calls{0};

}  // namespace

// Every recv of the code under test (Asio's and ours) comes here: counted on the watched
// descriptor, then made as the system call it is.
extern "C" ssize_t recv(int fd, void* buf, size_t n, int flags) {
  if (fd == watched_fd.load()) recv_calls.fetch_add(1);
  return syscall(SYS_recvfrom, fd, buf, n, flags, nullptr, nullptr);
}

namespace edgeguard {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Reads {
  int done = 0;
  boost::system::error_code ec;
  std::size_t n = 0;
};

void on_done(void* target, const boost::system::error_code& ec, std::size_t n) {
  auto* r = static_cast<Reads*>(target);
  ++r->done;
  r->ec = ec;
  r->n = n;
}

class AcceptedSocketRead : public ::testing::Test {
 protected:
  void SetUp() override {
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener, 1), 0);
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    client_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(::connect(client_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const int server = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    ::close(listener);
    ASSERT_GE(server, 0);
    socket_ = std::make_unique<AcceptedSocket>(io_, server, false);
    boost::system::error_code ec;
    socket_->register_with_loop(ec);
    ASSERT_FALSE(ec) << ec.message();
    watched_fd = server;
  }

  void TearDown() override {
    watched_fd = -1;
    socket_.reset();
    if (client_ >= 0) ::close(client_);
  }

  void send(std::string_view bytes) const {
    ASSERT_EQ(::write(client_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }

  // Runs the loop until `reads` has seen `count` completions, at most `timeout`.
  bool run_until(const Reads& reads, int count, std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (reads.done < count && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(10ms);
    }
    return reads.done >= count;
  }

  void read(std::size_t room) { socket_->async_read(op_, buf_, room, keep_); }

  asio::io_context io_;
  // As the server's loops: without work of its own the loop stops after each completion.
  asio::executor_work_guard<asio::io_context::executor_type> running_ = asio::make_work_guard(io_);
  int client_ = -1;
  std::unique_ptr<AcceptedSocket> socket_;
  Reads reads_;
  AcceptedSocket::ReadOp op_{&reads_, &on_done};
  std::shared_ptr<int> keep_ = std::make_shared<int>(0);
  char buf_[64];
};

TEST_F(AcceptedSocketRead, AReadThatDrainedTheSocketWaitsForTheNextEdgeWithoutARecv) {
  send("GET / HTTP/1.1\r\n\r\n");
  read(sizeof buf_);
  ASSERT_TRUE(run_until(reads_, 1));
  EXPECT_EQ(reads_.n, 18u);
  EXPECT_FALSE(reads_.ec);

  // The answer would go out here; the client's next call comes only after it. A recv now
  // could only fail: it is the one this read exists to save.
  const int before = recv_calls.load();
  read(sizeof buf_);
  EXPECT_EQ(recv_calls.load(), before)
      << "the read after one that drained the socket tried a recv before waiting";
  io_.poll();
  EXPECT_EQ(reads_.done, 1);

  send("NEXT");
  ASSERT_TRUE(run_until(reads_, 2)) << "the next bytes' edge did not complete the waiting read";
  EXPECT_EQ(reads_.n, 4u);
  EXPECT_EQ(recv_calls.load(), before + 1);
}

TEST_F(AcceptedSocketRead, AReadThatFilledItsBufferReadsOnWithoutWaitingForAnEdge) {
  send("0123456789");
  read(4);
  ASSERT_TRUE(run_until(reads_, 1));
  EXPECT_EQ(reads_.n, 4u);
  // Six bytes are still queued and no new edge will come for them: the read must try at once.
  read(4);
  ASSERT_TRUE(run_until(reads_, 2, 1000ms)) << "bytes left in the socket were stranded";
  EXPECT_EQ(reads_.n, 4u);
  read(sizeof buf_);
  ASSERT_TRUE(run_until(reads_, 3, 1000ms));
  EXPECT_EQ(reads_.n, 2u);
  EXPECT_EQ(std::string_view(buf_, 2), "89");
}

TEST_F(AcceptedSocketRead, ThePeersCloseCompletesTheReadWithEof) {
  send("GET");
  read(sizeof buf_);
  ASSERT_TRUE(run_until(reads_, 1));
  read(sizeof buf_);
  ::shutdown(client_, SHUT_WR);
  ASSERT_TRUE(run_until(reads_, 2));
  EXPECT_EQ(reads_.ec, asio::error::eof);
  EXPECT_EQ(reads_.n, 0u);
}

TEST_F(AcceptedSocketRead, ClosingTheSocketAbortsAWaitingReadAndLetsItsTargetGo) {
  read(sizeof buf_);
  std::weak_ptr<int> target = keep_;
  keep_.reset();
  EXPECT_FALSE(target.expired()) << "the waiting read does not hold its target";
  boost::system::error_code ec;
  socket_->close(ec);
  ASSERT_TRUE(run_until(reads_, 1));
  EXPECT_EQ(reads_.ec, asio::error::operation_aborted);
  EXPECT_TRUE(target.expired()) << "the completed read still holds its target";
}

}  // namespace
}  // namespace edgeguard
