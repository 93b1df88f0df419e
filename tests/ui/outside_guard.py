"""Run a Python module (`-m NAME ARGS...`) and write every connection or name look-up it makes to a host
outside this machine to LOG, one JSON line each: `python outside_guard.py LOG -m streamlit run app.py ...`.

An audit hook (PEP 578) sees every socket connect, sendto and name look-up of the process, whatever
library makes it (requests, urllib, a raw UDP socket), so a test can say "no outside connection".
"""

from __future__ import annotations

import ipaddress
import json
import runpy
import socket
import sys

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_local(host) -> bool:
    """True for this machine: loopback names and addresses, the wildcard and an empty host."""
    if host is None or host in ("", b""):
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0]
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name to look up: outside unless it is a loopback name
    return address.is_loopback or address.is_unspecified


def main() -> None:
    log_path, flag, module, *args = sys.argv[1:]
    assert flag == "-m", "usage: outside_guard.py LOG -m MODULE ARGS..."
    log = open(log_path, "a", encoding="utf-8", buffering=1)

    def hook(event: str, payload) -> None:
        host = None
        if event in ("socket.connect", "socket.sendto"):
            sock, address = payload[0], payload[-1]
            if getattr(sock, "family", None) == socket.AF_UNIX or not isinstance(address, tuple):
                return
            host = address[0]
        elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
                       "socket.gethostbyaddr"):
            host = payload[0]
        else:
            return
        if not is_local(host):
            log.write(json.dumps({"event": event, "host": str(host)}) + "\n")

    sys.addaudithook(hook)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
