"""Tiny launcher, used when ``/usr/bin/time`` is missing: ``python -I -S _spawn.py OUT CMD...``.

It spawns CMD, waits for it with ``wait4`` and writes the child's ``ru_maxrss`` (KiB) and user and
system CPU seconds as the last line of OUT, like ``/usr/bin/time -f "%M %U %S" -o OUT`` does; it exits with the child's status. Its own
size (~10 MB) is a floor on what it can report, since the high-water mark survives ``execve``.
"""

import os
import sys


def main() -> None:
    out, cmd = sys.argv[1], sys.argv[2:]
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as fh:  # noqa: PTH123 - keep the launcher's imports minimal
        fh.write(f"{usage.ru_maxrss} {usage.ru_utime:.3f} {usage.ru_stime:.3f}\n")
    code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
