"""Look for secrets in the memory of running processes (run as root).

The readable regions come from /proc/PID/maps and are read through
/proc/PID/mem.  Regions the kernel will not hand out ([vvar], device
mappings, guard pages, a region unmapped meanwhile) are skipped; a process
that exits during the scan counts as scanned up to that point.
"""

import os

CHUNK = 8 << 20
# kernel-provided pages that reading through /proc/PID/mem refuses or that
# cannot hold process data
_SKIP = {"[vvar]", "[vvar_vclock]", "[vsyscall]"}


def regions(pid):
    """(start, end, name) of pid's readable mappings."""
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) < 5 or not parts[1].startswith("r"):
                continue
            name = parts[5].strip() if len(parts) > 5 else ""
            if name in _SKIP:
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            yield start, end, name


def find(pid, needles):
    """Which of needles (bytes) occur in pid's readable memory.

    Returns {needle: [(region name, address), ...]} for the needles found,
    and the number of bytes read (a scan that read nothing proves
    nothing)."""
    needles = [n for n in needles if n]
    overlap = max(len(n) for n in needles) - 1
    found = {}
    total = 0
    try:
        mem = open("/proc/%d/mem" % pid, "rb", 0)
        maps = list(regions(pid))
    except (FileNotFoundError, ProcessLookupError):
        return found, 0
    with mem:
        for start, end, name in maps:
            addr, tail = start, b""
            while addr < end:
                try:
                    mem.seek(addr)
                    data = mem.read(min(CHUNK, end - addr))
                except (OSError, ValueError, OverflowError):
                    break
                if not data:
                    break
                total += len(data)
                buf = tail + data
                for n in needles:
                    i = buf.find(n)
                    if i >= 0:
                        found.setdefault(n, []).append((name, addr - len(tail) + i))
                tail = buf[-overlap:] if overlap > 0 else b""
                addr += len(data)
    return found, total


def children(ppid):
    """The pids whose parent is ppid."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/status" % entry) as f:
                for line in f:
                    if line.startswith("PPid:"):
                        if int(line.split()[1]) == ppid:
                            kids.append(int(entry))
                        break
        except OSError:
            continue
    return sorted(kids)


def describe(found):
    """Where the needles were found, without repeating them."""
    return "; ".join("a %d-byte needle at %s" % (len(n), ", ".join(
        "%s@%#x" % (name or "[anon]", addr) for name, addr in where[:5]))
        for n, where in found.items())
