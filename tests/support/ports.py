"""Loopback ports for children that cannot listen on port 0 and report the port they got
(nginx, Prometheus, redis-server). The same scheme as tests/support/ports.h, on the same lock
files, so C++ and Python tests never hand out the same port:

ports [20000, low end of net.ipv4.ip_local_port_range) lie below the kernel's ephemeral range
(no bind(0) or outgoing connection gets one) and are cut into blocks of 32; a process owns a
block while it holds an exclusive flock on /tmp/edgeguard-test-ports/<block>.lock (dropped by
the kernel when the process exits; the descriptor is not inherited by children) and hands each
of its ports out once. "Bind 0, close, pass the number on" is racy: anything may take the port
before the child binds it.

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'support'))
    from ports import reserve_port
"""
import fcntl
import os
import socket
import threading

_FIRST = 20000
_BLOCK = 32
_LOCK_DIR = '/tmp/edgeguard-test-ports'

_mu = threading.Lock()
_held = []  # open lock files: kept for the life of the process
_taken = set()
_next = 0
_end = 0


def _ephemeral_low():
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(('127.0.0.1', port))
            return True
        except OSError:
            return False


def _take_block():
    global _next, _end
    os.makedirs(_LOCK_DIR, mode=0o1777, exist_ok=True)
    try:
        os.chmod(_LOCK_DIR, 0o1777)  # past the umask, so other users' tests can lock too
    except OSError:
        pass
    blocks = (_ephemeral_low() - _FIRST) // _BLOCK
    if blocks <= 0:
        return False
    start = os.getpid() % blocks
    for i in range(blocks):
        block = (start + i) % blocks
        if block in _taken:
            continue
        try:
            fd = os.open(os.path.join(_LOCK_DIR, '%d.lock' % block), os.O_RDONLY | os.O_CREAT, 0o666)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _held.append(fd)
        _taken.add(block)
        _next = _FIRST + block * _BLOCK
        _end = _next + _BLOCK
        return True
    return False


def reserve_port():
    """A loopback TCP port no other reserve_port caller (any process) gets while this process
    lives. Raises RuntimeError when every block is taken."""
    global _next
    with _mu:
        while True:
            while _next < _end:
                port = _next
                _next += 1
                if _port_free(port):
                    return port
            if not _take_block():
                raise RuntimeError('no free port block under ' + _LOCK_DIR)
