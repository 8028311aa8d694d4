#pragma once
// Loopback ports for the children a test starts that cannot listen on port 0 and report the port
// they got (redis-server: `--port 0` turns TCP off; nginx, Caddy and Prometheus do not report).
// edgeguard itself always listens on port 0 and the harness reads the port from its "started"
// line; use this only for the others.
//
// Why not "bind port 0, read the number, close, hand it to the child": between the close and the
// child's bind, anything else may take the port (another child of the same test, or of a test
// running beside it under `ctest -j`); under load nginx and edgeguard were once given the same
// port and a proxy test talked to edgeguard directly.
//
// How: ports [20000, low end of net.ipv4.ip_local_port_range) lie below the kernel's ephemeral
// range, so no bind(0) and no outgoing connection is ever given one. They are cut into blocks of
// 32. A test process owns a block while it holds an exclusive flock(2) on
// /tmp/edgeguard-test-ports/<block>.lock; the kernel drops the lock when the process exits,
// however it exits, and the descriptor is close-on-exec so no child keeps it. Within its own
// blocks a process hands every port out once. So no two children, in one test or in two test
// processes, can ever be given the same port. A port that is busy anyway (a server left over by
// a killed run) is skipped. tests/support/ports.py takes blocks from the same lock files, so
// Python tests share the space safely.
namespace edgeguard::testing {

// A loopback TCP port no other caller of reserve_port (in any process) will be given while this
// process lives; 0 when every block is taken.
int reserve_port();

}  // namespace edgeguard::testing
