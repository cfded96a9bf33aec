#!/usr/bin/env python3
"""Stand-in for systemd's notify socket (sd_notify(3)) in tests.

Binds an AF_UNIX datagram socket at PATH and appends every message it
receives to LOG as one line per assignment, each prefixed with the
CLOCK_MONOTONIC time of arrival in microseconds and a message number:
    <usec> <n> READY=1
    <usec> <n> STATUS=watching ...
so a test can grep for an assignment and compare orders and times. Runs
until killed; removes PATH on SIGTERM.
"""
import os
import signal
import socket
import sys
import time


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: sd_notify_listen.py SOCKET_PATH LOG")
    path, log = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o600)

    def stop(_sig, _frame):
        try:
            os.unlink(path)
        finally:
            os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    n = 0
    with open(log, "a", buffering=1) as out:
        out.write("listening\n")
        while True:
            data = sock.recv(4096)
            n += 1
            usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            for line in data.decode("utf-8", "replace").splitlines():
                out.write(f"{usec} {n} {line}\n")


if __name__ == "__main__":
    main()
