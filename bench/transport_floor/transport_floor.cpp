// What the transport alone costs per request on this kernel, with epoll and with io_uring: a
// server that answers every request head with a fixed 200 and decides nothing. Its CPU per
// request is the floor under any ForwardAuth server on the same loop design, so the difference
// between the two variants bounds what moving edgeguard's listener to io_uring could save
// (issue 16). Single-threaded, loopback only; bench/transport_floor.sh runs it against wrk.
//
//   transport_floor epoll|uring
//
// Prints "port N" (an ephemeral port on 127.0.0.1) once listening; runs until killed. A request
// with "Connection: close" (wrk -H, as bench/load.sh sends for a connection per request) is
// answered and its connection closed; any other keeps its connection.
//
// The epoll variant makes the calls edgeguard makes today (bench/README.md, profile.sh): an
// accepted connection is read at once and, with a connection per request, answered and closed
// without ever entering epoll; a keep-alive connection is registered edge-triggered once and
// then costs one recv and one send per request plus its share of epoll_wait. The io_uring
// variant is what the issue proposes: a multishot accept, a multishot recv per keep-alive
// connection from a ring of provided buffers, and every send (and close) of a loop turn
// submitted in the one io_uring_enter that also waits for the next completions.
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr char kKeepAliveAnswer[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
constexpr char kCloseAnswer[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

// Counts request heads in a byte stream that may split "\r\n\r\n" across reads.
struct HeadCounter {
  bool close = false;  // a head asked for "Connection: close"

  int matched = 0;  // how much of "\r\n\r\n" the last bytes were
  int feed(const char* p, std::size_t n) {
    static constexpr char kEnd[] = "\r\n\r\n";
    int heads = 0;
    // A request for one connection arrives in one read (a few hundred bytes on loopback).
    if (::memmem(p, n, "Connection: close", 17) != nullptr) close = true;
    for (std::size_t i = 0; i < n; ++i) {
      if (p[i] == kEnd[matched]) {
        if (++matched == 4) {
          ++heads;
          matched = 0;
        }
      } else {
        matched = p[i] == '\r' ? 1 : 0;
      }
    }
    return heads;
  }
};

int listen_loopback() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4096) != 0) {
    std::perror("listen");
    std::exit(1);
  }
  // As edgeguard's listener (guard/server/worker.cpp): a connection is accepted once its request
  // has come, and no TCP_NODELAY (each answer is one write).
  const int defer_seconds = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds, sizeof defer_seconds);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("port %d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  return fd;
}

// ---- epoll ---------------------------------------------------------------------------------

void send_answers(int fd, int heads, bool close_mode) {
  const char* answer = close_mode ? kCloseAnswer : kKeepAliveAnswer;
  const std::size_t size = (close_mode ? sizeof kCloseAnswer : sizeof kKeepAliveAnswer) - 1;
  for (int i = 0; i < heads; ++i) ::send(fd, answer, size, MSG_NOSIGNAL);
}

// Reads what has arrived; answers whole heads. False when the connection is done.
bool serve_readable(int fd, HeadCounter& counter) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    const int heads = counter.feed(buf, static_cast<std::size_t>(n));
    send_answers(fd, heads, counter.close);
    if (counter.close && heads > 0) return false;
    // A short read took everything queued; the next request comes with the next edge.
    if (static_cast<std::size_t>(n) < sizeof buf) return true;
  }
}

void run_epoll(int listen_fd) {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = listen_fd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
  std::vector<HeadCounter> counters(65536);
  epoll_event events[128];
  for (;;) {
    const int ready = ::epoll_wait(ep, events, 128, -1);
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd) {
        for (;;) {
          const int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          counters[c] = HeadCounter{};
          // Read at once (the request usually came with the handshake's last ACK); a
          // connection answered and closed here never enters epoll.
          if (!serve_readable(c, counters[c])) {
            ::close(c);
            continue;
          }
          epoll_event cev{};
          cev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
          cev.data.fd = c;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
      } else if (!serve_readable(fd, counters[fd])) {
        ::close(fd);  // leaves epoll with the descriptor
      }
    }
  }
}

// ---- io_uring ------------------------------------------------------------------------------

enum Kind : std::uint64_t { kAccept = 1, kRecv = 2, kRecvMultishot = 3, kSend = 4, kClose = 5 };
constexpr std::uint64_t tag(Kind kind, int fd) {
  return (static_cast<std::uint64_t>(kind) << 32) | static_cast<std::uint32_t>(fd);
}

constexpr unsigned kEntries = 4096;
constexpr unsigned kBuffers = 1024;  // power of two, as the buffer ring requires
constexpr unsigned kBufferSize = 2048;
constexpr int kGroup = 0;

class Uring {
 public:
  Uring() : storage_(std::size_t{kBuffers} * kBufferSize), counters_(65536) {
    // Completions' task work runs only when this thread asks for events (one issuer, deferred
    // task work): the setup the io_uring authors recommend for a network server's loop.
    io_uring_params params{};
    params.flags =
        IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    if (const int rc = io_uring_queue_init_params(kEntries, &ring_, &params); rc < 0) {
      std::fprintf(stderr, "io_uring_queue_init: %s\n", std::strerror(-rc));
      std::exit(1);
    }
    // The provided-buffer ring: page-aligned memory the kernel picks receive buffers from.
    void* ring_memory = ::mmap(nullptr, kBuffers * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    buffers_ = static_cast<io_uring_buf_ring*>(ring_memory);
    io_uring_buf_ring_init(buffers_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(ring_memory);
    reg.ring_entries = kBuffers;
    reg.bgid = kGroup;
    if (const int rc = io_uring_register_buf_ring(&ring_, &reg, 0); rc < 0) {
      std::fprintf(stderr, "io_uring_register_buf_ring: %s\n", std::strerror(-rc));
      std::exit(1);
    }
    for (unsigned i = 0; i < kBuffers; ++i) give_back(i);
  }

  void run(int listen_fd) {
    io_uring_prep_multishot_accept(sqe(), listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    set_tag(kAccept, listen_fd);
    for (;;) {
      if (io_uring_submit_and_wait(&ring_, 1) < 0) continue;
      unsigned head;
      unsigned seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        on_complete(cqe, listen_fd);
        ++seen;
      }
      io_uring_cq_advance(&ring_, seen);
    }
  }

 private:
  io_uring_sqe* sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    while (s == nullptr) {  // the submission queue is full: hand it to the kernel
      io_uring_submit(&ring_);
      s = io_uring_get_sqe(&ring_);
    }
    last_ = s;
    return s;
  }
  void set_tag(Kind kind, int fd) { io_uring_sqe_set_data64(last_, tag(kind, fd)); }

  void give_back(unsigned id) {
    io_uring_buf_ring_add(buffers_, storage_.data() + std::size_t{id} * kBufferSize, kBufferSize,
                          static_cast<unsigned short>(id), io_uring_buf_ring_mask(kBuffers), 0);
    io_uring_buf_ring_advance(buffers_, 1);
  }

  // A new connection's first read is single-shot: with "Connection: close" it is the only one.
  // A connection that keeps alive then reads with one multishot recv.
  void arm_recv(int fd, bool multishot) {
    if (multishot) {
      io_uring_prep_recv_multishot(sqe(), fd, nullptr, 0, 0);
    } else {
      io_uring_prep_recv(sqe(), fd, nullptr, kBufferSize, 0);
    }
    last_->flags |= IOSQE_BUFFER_SELECT;
    last_->buf_group = kGroup;
    set_tag(multishot ? kRecvMultishot : kRecv, fd);
  }

  void close_fd(int fd) {
    io_uring_prep_close(sqe(), fd);
    set_tag(kClose, fd);
  }

  void on_complete(io_uring_cqe* cqe, int listen_fd) {
    const auto kind = static_cast<Kind>(cqe->user_data >> 32);
    const int fd = static_cast<int>(cqe->user_data & 0xffffffffu);
    switch (kind) {
      case kAccept:
        if (cqe->res >= 0) {
          counters_[cqe->res] = HeadCounter{};
          arm_recv(cqe->res, false);
        }
        if ((cqe->flags & IORING_CQE_F_MORE) == 0) {  // the multishot accept ended: renew it
          io_uring_prep_multishot_accept(sqe(), listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
          set_tag(kAccept, listen_fd);
        }
        return;
      case kRecv:
      case kRecvMultishot:
        on_recv(cqe, fd, kind == kRecvMultishot);
        return;
      case kSend:
      case kClose:
        return;  // the answer is static memory; nothing waits on these
    }
  }

  void on_recv(io_uring_cqe* cqe, int fd, bool multishot) {
    const bool ended = !multishot || (cqe->flags & IORING_CQE_F_MORE) == 0;
    if (cqe->res == -ENOBUFS) {  // every provided buffer is in use: ask again
      arm_recv(fd, multishot);
      return;
    }
    if (cqe->res <= 0) {
      if (ended) close_fd(fd);  // a multishot recv still armed would keep the socket open
      return;
    }
    HeadCounter& counter = counters_[fd];
    const unsigned id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    const int heads = counter.feed(storage_.data() + std::size_t{id} * kBufferSize,
                                   static_cast<std::size_t>(cqe->res));
    give_back(id);
    const char* answer = counter.close ? kCloseAnswer : kKeepAliveAnswer;
    const unsigned size = (counter.close ? sizeof kCloseAnswer : sizeof kKeepAliveAnswer) - 1;
    for (int i = 0; i < heads; ++i) {
      io_uring_prep_send(sqe(), fd, answer, size, MSG_NOSIGNAL);
      set_tag(kSend, fd);
      if (counter.close) last_->flags |= IOSQE_IO_LINK;  // the close runs after the send
    }
    if (counter.close && heads > 0) {
      if (ended) close_fd(fd);
      // else: the multishot recv ends with the peer's EOF, and the close follows then.
      return;
    }
    if (ended) arm_recv(fd, heads > 0 || multishot);  // keep-alive from here: multishot
  }

  io_uring ring_{};
  io_uring_buf_ring* buffers_ = nullptr;
  io_uring_sqe* last_ = nullptr;
  std::vector<char> storage_;
  std::vector<HeadCounter> counters_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || (std::strcmp(argv[1], "epoll") != 0 && std::strcmp(argv[1], "uring") != 0)) {
    std::fprintf(stderr, "usage: transport_floor epoll|uring\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  const int listen_fd = listen_loopback();
  if (std::strcmp(argv[1], "uring") == 0) {
    Uring().run(listen_fd);
  } else {
    run_epoll(listen_fd);
  }
  return 0;
}
