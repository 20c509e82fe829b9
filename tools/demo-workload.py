#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# tools/demo-workload.py - the workload `make run` shows KSM on: several
# processes whose anonymous memory is mostly identical pages, advised with
# MADV_MERGEABLE, while this script samples /sys/kernel/mm/ksm and reports
# what was saved and how fast ksmd scanned.  Runs in the guest, as root.
#
# Usage: demo-workload.py [NPROC] [MIB_EACH] [SECONDS]

import mmap
import os
import sys
import time

KSM = "/sys/kernel/mm/ksm/"
PAGE = mmap.PAGESIZE


def knob(name, value=None):
    if value is None:
        with open(KSM + name) as f:
            return int(f.read().split()[0])
    with open(KSM + name, "w") as f:
        f.write(str(value))


def child(mib, ready_w, stop_r):
    """Fill MIB_EACH MiB: 7 of 8 pages repeat one of 16 patterns, the rest
    are unique; advise it and hold it until the parent says stop."""
    size = mib << 20
    buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    buf.madvise(mmap.MADV_MERGEABLE)
    for i in range(size // PAGE):
        if i % 8 == 7:
            fill = (b"%d:%d:" % (os.getpid(), i)).ljust(PAGE, b"u")
        else:
            fill = bytes([i % 16 + 1]) * PAGE
        buf[i * PAGE:(i + 1) * PAGE] = fill
    os.write(ready_w, b"r")
    os.read(stop_r, 1)
    os._exit(0)


def main():
    nproc = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    ready_r, ready_w = os.pipe()
    stop_r, stop_w = os.pipe()
    pids = []
    for _ in range(nproc):
        pid = os.fork()
        if pid == 0:
            child(mib, ready_w, stop_r)
        pids.append(pid)
    for _ in range(nproc):
        os.read(ready_r, 1)

    total_pages = nproc * (mib << 20) // PAGE
    print(f"workload: {nproc} processes x {mib} MiB = {total_pages} pages, "
          f"7/8 of them duplicates of 16 patterns")
    knob("pages_to_scan", 1000)
    knob("sleep_millisecs", 10)
    scanned0 = knob("pages_scanned")
    knob("run", 1)
    start = time.monotonic()
    print(" time  pages_shared  pages_sharing  saved_MiB  scanned/s")
    while time.monotonic() - start < seconds:
        time.sleep(2)
        t = time.monotonic() - start
        shared, sharing = knob("pages_shared"), knob("pages_sharing")
        rate = (knob("pages_scanned") - scanned0) / t
        print(f"{t:5.1f}  {shared:12d}  {sharing:13d}  "
              f"{sharing * PAGE / 2**20:9.1f}  {rate:9.0f}")
    print(f"saved {knob('pages_sharing') * PAGE / 2**20:.1f} MiB of "
          f"{total_pages * PAGE / 2**20:.0f} MiB; general_profit "
          f"{knob('general_profit')} bytes; full_scans {knob('full_scans')}")
    os.write(stop_w, b"s" * nproc)
    for pid in pids:
        os.waitpid(pid, 0)
    knob("run", 2)
    knob("run", 0)


if __name__ == "__main__":
    main()
