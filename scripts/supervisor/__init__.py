"""The process supervisor behind `make run`: ports checked before anything starts, every server
in a process group of its own, restarts with back-off, a crash loop or Ctrl-C stops all.

    ports.py    is a port free, who holds it
    spec.py     the servers file scripts/run.sh writes
    policy.py   back-off and crash-loop limits (RUN_* variables)
    process.py  one server's process group: start, output, stop
    status.py   the status file the gateway's /health shows
    stack.py    start all, keep them up, stop all
"""
