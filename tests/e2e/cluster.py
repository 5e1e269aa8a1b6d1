"""A standalone Flink cluster on 127.0.0.1 (1 JobManager, N TaskManagers) for tests and demos.

The distribution in the cache stays untouched: each cluster gets its own conf/, lib/
(symlinks to the distribution's jars plus the UDF JAR), log/ and pid folder under a work
directory, passed to Flink's scripts through FLINK_CONF_DIR / FLINK_LIB_DIR / FLINK_LOG_DIR /
FLINK_PID_DIR. Every process started is stopped by its own pid (stop-cluster.sh would
stop only one TaskManager per `workers` line).
"""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from flink_dist import ensure_distribution


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FlinkCluster:
    # Sized for the default model (Qwen2.5-Coder-1.5B int8: ~2.6 GB of native memory per
    # task manager, README "Memory sizing"); the small model needs far less.
    def __init__(self, work, udf_jar, taskmanagers=2, slots=1, tm_process_size="4608m",
                 tm_task_off_heap="2816m", extra_conf=None, env=None, extra_jars=()):
        self.home = ensure_distribution()
        self.work = pathlib.Path(work).resolve()
        self.udf_jar = pathlib.Path(udf_jar).resolve()
        # Connectors a job needs (e.g. flink-sql-connector-kafka), next to the UDF JAR in lib/.
        self.extra_jars = [pathlib.Path(j).resolve() for j in extra_jars]
        self.taskmanagers = taskmanagers
        self.slots = slots
        self.rest_port = _free_port()
        self.conf = {
            "jobmanager.rpc.address": "127.0.0.1",
            "jobmanager.rpc.port": _free_port(),
            "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.memory.process.size": "1024m",
            "taskmanager.host": "127.0.0.1",
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.numberOfTaskSlots": slots,
            "taskmanager.memory.process.size": tm_process_size,
            # The model lives in native memory, outside the JVM heap: reserve it here.
            "taskmanager.memory.task.off-heap.size": tm_task_off_heap,
            # SQL jobs here keep no large state: give managed memory's share to the model.
            "taskmanager.memory.managed.size": "128m",
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": self.rest_port,
            "execution.target": "remote",
            "parallelism.default": taskmanagers * slots,
            "io.tmp.dirs": str(self.work / "tmp"),
            "env.java.opts.all": self._java_opts(),
        }
        self.conf.update(extra_conf or {})
        self.env = dict(os.environ, FLINK_CONF_DIR=str(self.work / "conf"), FLINK_LIB_DIR=str(self.work / "lib"),
                        FLINK_LOG_DIR=str(self.work / "log"), FLINK_PID_DIR=str(self.work / "pid"), **(env or {}))
        self.pids = []

    def _java_opts(self):
        # Keep the distribution's --add-opens/--add-exports (JDK 17) from its own config.yaml.
        for line in (self.home / "conf" / "config.yaml").read_text().splitlines():
            if line.strip().startswith("all:") and "--add-" in line:
                return line.split("all:", 1)[1].strip()
        return ""

    def _prepare(self):
        shutil.rmtree(self.work, ignore_errors=True)
        for d in ("conf", "lib", "log", "pid", "tmp"):
            (self.work / d).mkdir(parents=True)
        for name in ("log4j.properties", "log4j-cli.properties", "log4j-console.properties",
                     "log4j-session.properties", "logback.xml"):
            src = self.home / "conf" / name
            if src.exists():
                shutil.copy(src, self.work / "conf" / name)
        # Flat keys are valid in Flink 2's config.yaml; values as JSON scalars are valid YAML.
        (self.work / "conf" / "config.yaml").write_text(
            "".join(f"{k}: {json.dumps(v)}\n" for k, v in self.conf.items()))
        (self.work / "conf" / "masters").write_text(f"127.0.0.1:{self.rest_port}\n")
        (self.work / "conf" / "workers").write_text("127.0.0.1\n" * self.taskmanagers)
        for jar in (self.home / "lib").glob("*.jar"):
            (self.work / "lib" / jar.name).symlink_to(jar)
        if not self.udf_jar.exists():
            raise FileNotFoundError(f"{self.udf_jar} is missing: build it with `gradle jar`")
        shutil.copy(self.udf_jar, self.work / "lib" / self.udf_jar.name)
        for jar in self.extra_jars:
            (self.work / "lib" / jar.name).symlink_to(jar)

    def _daemon(self, script):
        pid_files_before = {p: p.read_text() for p in (self.work / "pid").glob("*.pid")}
        subprocess.run([str(self.home / "bin" / script), "start"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        for p in (self.work / "pid").glob("*.pid"):
            new = p.read_text().split()[len(pid_files_before.get(p, "").split()):]
            self.pids.extend(int(x) for x in new)

    def rest(self, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.rest_port}{path}", timeout=5) as r:
            return json.load(r)

    def start(self, timeout=120):
        self._prepare()
        started = time.time()
        try:
            self._daemon("jobmanager.sh")
            for _ in range(self.taskmanagers):
                self._daemon("taskmanager.sh")
        except BaseException:
            self.stop()
            raise
        while True:
            try:
                if len(self.rest("/taskmanagers")["taskmanagers"]) == self.taskmanagers:
                    break
            except OSError:
                pass
            if time.time() - started > timeout:
                self.stop()
                raise TimeoutError(f"cluster not up after {timeout}s; logs in {self.work / 'log'}")
            time.sleep(1)
        print(f"flink cluster up in {time.time() - started:.0f}s: rest http://127.0.0.1:{self.rest_port}, "
              f"pids {self.pids}", file=sys.stderr, flush=True)
        return self

    def taskmanager_pids(self):
        return self.pids[1:]

    def sql_client(self, sql_file, timeout=1800):
        """Run `bin/sql-client.sh -f sql_file`; return its output, raise when it fails."""
        proc = subprocess.run([str(self.home / "bin" / "sql-client.sh"), "-f", str(sql_file)], env=self.env,
                              cwd=self.work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
        # The SQL client exits 0 even when a statement fails: look for its error banner too.
        if proc.returncode != 0 or "[ERROR]" in proc.stdout:
            raise RuntimeError(f"sql-client failed (rc {proc.returncode}):\n{proc.stdout[-6000:]}\n"
                               f"logs: {self.work / 'log'}")
        return proc.stdout

    def stop(self):
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.time() + 30
        for pid in self.pids:
            while time.time() < deadline and _alive(pid):
                time.sleep(0.2)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.pids = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours counts as stopped.
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
