"""A single-node Apache Kafka broker (KRaft, no ZooKeeper) on 127.0.0.1, for tests and demos.

    with KafkaBroker(work) as kafka:
        kafka.create_topic("tickets", partitions=2)
        kafka.produce("tickets", lines)
        rows = kafka.consume("enriched", expected=98)      # read_committed

The jars come from Maven Central (`gradle kafkaJars`: kafka_2.13 + kafka-tools, slf4j 2 and a
log4j2 binding) into the cache, keyed by version. Storage is formatted by Kafka's own
StorageTool; ports are free ones; the broker is stopped by its pid. The console clients of
kafka-tools produce and consume, so nothing but a JVM is needed.
"""
import base64
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]
CACHE = pathlib.Path(os.environ.get("FLINKLLM_CACHE", pathlib.Path.home() / ".cache" / "flinkllm"))


def _property(name):
    for line in (ROOT / "gradle.properties").read_text().splitlines():
        if line.startswith(name + "="):
            return line.split("=", 1)[1].strip()
    raise KeyError(name)


KAFKA_VERSION = _property("kafkaVersion")
CONNECTOR_VERSION = _property("flinkKafkaConnectorVersion")


def _ensure_jars():
    libs = CACHE / f"kafka-{KAFKA_VERSION}" / "libs"
    connector = CACHE / f"flink-sql-connector-kafka-{CONNECTOR_VERSION}"
    if not (libs.is_dir() and connector.is_dir()):
        subprocess.run(["gradle", "--no-daemon", "-q", "kafkaJars"], cwd=ROOT, check=True)
    return libs, connector


def connector_jar():
    """Flink's SQL Kafka connector jar (goes into the cluster's lib/, never into flinkllm's JAR)."""
    return next(_ensure_jars()[1].glob("flink-sql-connector-kafka-*.jar"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d %p %c{{1}} %m%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
"""


class KafkaBroker:
    def __init__(self, work, port=None):
        self.work = pathlib.Path(work).resolve()
        self.libs, _ = _ensure_jars()
        self.port = port or _free_port()
        self.controller_port = _free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.proc = None

    def _java(self, main, *args, **kw):
        cmd = ["java", "-Xmx256m", f"-Dlog4j2.configurationFile={self.work / 'log4j2-tools.properties'}",
               "-cp", str(self.libs / "*"), main, *[str(a) for a in args]]
        return subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)

    def start(self):
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        (self.work / "log4j2.properties").write_text(LOG4J2.format(log=self.work / "broker.log"))
        (self.work / "log4j2-tools.properties").write_text(LOG4J2.format(log=self.work / "tools.log"))
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.work / "data"),
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Flink's exactly-once sink holds a transaction open between checkpoints.
            "transaction.max.timeout.ms": "3600000",
        }
        config = self.work / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", config)
        started = time.time()
        self._log = open(self.work / "broker.out", "w")
        self.proc = subprocess.Popen(
            ["java", "-Xmx512m", f"-Dlog4j2.configurationFile={self.work / 'log4j2.properties'}", "-cp", str(self.libs / "*"),
             "kafka.Kafka", str(config)], stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        (self.work / "broker.pid").write_text(str(self.proc.pid))
        while time.time() - started < 120:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kafka broker exited with {self.proc.returncode}: see {self.work / 'broker.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    print(f"kafka broker up in {time.time() - started:.0f}s: {self.bootstrap}, pid {self.proc.pid}",
                          file=sys.stderr, flush=True)
                    return self
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"kafka broker did not listen on {self.bootstrap}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def create_topic(self, topic, partitions=1):
        self._java("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", self.bootstrap, "--create", "--topic", topic,
                   "--partitions", partitions, "--replication-factor", 1)

    def produce(self, topic, lines):
        """Writes each line as one record value (no key)."""
        self._java("org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server", self.bootstrap, "--topic", topic,
                   input="".join(l.rstrip("\n") + "\n" for l in lines))

    def consume(self, topic, expected, timeout_s=60):
        """Record values of committed transactions only (read_committed), from the start, until
        `expected` were read or no record came for `timeout_s` seconds."""
        try:
            out = self._java("org.apache.kafka.tools.consumer.ConsoleConsumer", "--bootstrap-server", self.bootstrap,
                             "--topic", topic, "--from-beginning", "--max-messages", expected,
                             "--timeout-ms", timeout_s * 1000, "--command-property", "isolation.level=read_committed").stdout
        except subprocess.CalledProcessError as e:
            out = e.stdout  # a timeout exits non-zero after printing what it read
        return [l for l in out.splitlines() if l.strip()]


def main():
    """tools/kafka start|stop [--dir D]: a broker for trying the Kafka jobs by hand."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--dir", default=str(ROOT / "build" / "kafka"))
    parser.add_argument("--port", type=int, default=9092)
    a = parser.parse_args()
    if a.action == "start":
        broker = KafkaBroker(a.dir, port=a.port).start()
        print(broker.bootstrap)
    else:
        pid = pathlib.Path(a.dir, "broker.pid")
        if pid.exists():
            os.killpg(int(pid.read_text()), signal.SIGTERM)
            pid.unlink()


if __name__ == "__main__":
    main()
