"""Killing a TaskManager under a running job, for the failover tests (file and Kafka)."""
import os
import pathlib
import signal
import time
import urllib.request


def listening_ports(pid):
    """TCP ports process `pid` listens on (socket inodes of its fds matched to /proc/net/tcp*)."""
    inodes = set()
    for fd in pathlib.Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in pathlib.Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # 0A = LISTEN
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def busy_taskmanager_pid(cluster, job_id):
    """The pid of a TaskManager running one of the job's subtasks."""
    for vertex in cluster.rest(f"/jobs/{job_id}")["vertices"]:
        for sub in cluster.rest(f"/jobs/{job_id}/vertices/{vertex['id']}")["subtasks"]:
            if sub.get("status") != "RUNNING":
                continue
            port = int(sub["endpoint"].rsplit(":", 1)[1]) if "endpoint" in sub else None
            tm_id = sub.get("taskmanager-id", "")
            for pid in cluster.taskmanager_pids():
                ports = listening_ports(pid)
                if port in ports or any(f":{p}-" in tm_id for p in ports):
                    return pid
    return None


def job_by_name(cluster, name):
    return next(j for j in cluster.rest("/jobs/overview")["jobs"] if j["name"] == name)


def cancel(cluster, name):
    job = job_by_name(cluster, name)
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{cluster.rest_port}/jobs/{job['jid']}?mode=cancel",
                                                  method="PATCH"), timeout=10)


def kill_busy_taskmanager(cluster, name):
    """Waits for the job's first completed checkpoint, then SIGKILLs a TaskManager running one
    of its subtasks and waits until the job registers the loss; returns the pid."""
    deadline = time.time() + 600
    while time.time() < deadline:
        jobs = [j for j in cluster.rest("/jobs/overview")["jobs"] if j["name"] == name]
        if jobs and jobs[0]["state"] == "RUNNING":
            job_id = jobs[0]["jid"]
            checkpoints = cluster.rest(f"/jobs/{job_id}/checkpoints")["counts"]["completed"]
            pid = busy_taskmanager_pid(cluster, job_id) if checkpoints >= 1 else None
            if pid:
                os.kill(pid, signal.SIGKILL)
                _wait_for_restart(cluster, job_id)
                return pid
        elif jobs and jobs[0]["state"] in ("FINISHED", "FAILED", "CANCELED"):
            raise AssertionError(f"{name} ended ({jobs[0]['state']}) before a TaskManager could be killed: use more rows")
        time.sleep(0.5)
    raise AssertionError(f"{name}: no checkpoint completed in 10 minutes")


def _wait_for_restart(cluster, job_id):
    """Proof the kill hit the job: its exception history records the lost TaskManager."""
    deadline = time.time() + 300
    while time.time() < deadline:
        if cluster.rest(f"/jobs/{job_id}/exceptions").get("exceptionHistory", {}).get("entries"):
            return
        time.sleep(0.5)
    raise AssertionError("the job never registered the TaskManager loss")
