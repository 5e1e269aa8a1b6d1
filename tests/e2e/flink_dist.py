"""Assemble a full Flink distribution from the PyPI wheels, cached by version.

`apache-flink` carries bin/ and conf/, `apache-flink-libraries` carries lib/, opt/ and
plugins/: unzipped into one folder they are the binary distribution. The SQL client also
needs flink-sql-gateway in opt/ (else NoClassDefFoundError .../DefaultContext), which the
wheels lack, so it comes from Maven Central through mvn.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

FLINK_VERSION = os.environ.get("FLINK_VERSION", "2.3.0")
CACHE = pathlib.Path(os.environ.get("FLINKLLM_CACHE", pathlib.Path.home() / ".cache" / "flinkllm"))


def _run(cmd):
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    subprocess.run([str(c) for c in cmd], check=True)


def _wheels(version):
    folder = CACHE / "wheels" / f"flink-{version}"
    found = {p.name.split("-")[0]: p for p in folder.glob("*.whl")} if folder.is_dir() else {}
    if not {"apache_flink", "apache_flink_libraries"} <= found.keys():
        folder.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", folder,
              f"apache-flink=={version}", f"apache-flink-libraries=={version}"])
        found = {p.name.split("-")[0]: p for p in folder.glob("*.whl")}
    return found["apache_flink"], found["apache_flink_libraries"]


def _add_sql_gateway(home, version):
    jar = home / "opt" / f"flink-sql-gateway-{version}.jar"
    if not jar.exists():
        _run(["mvn", "-q", "-B", "dependency:copy", f"-Dartifact=org.apache.flink:flink-sql-gateway:{version}",
              f"-DoutputDirectory={home / 'opt'}"])
    return jar


def ensure_distribution(version=FLINK_VERSION):
    """Return FLINK_HOME of a complete, unmodified distribution (shared, treat read-only)."""
    home = CACHE / f"flink-{version}"
    done = home / ".complete"
    if done.exists():
        return home
    staging = CACHE / f"flink-{version}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    for wheel in _wheels(version):
        with zipfile.ZipFile(wheel) as z:
            for info in z.infolist():
                if info.filename.startswith("pyflink/") and not info.is_dir():
                    target = staging / info.filename[len("pyflink/"):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with z.open(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    # zip keeps Unix modes in the high bits: bin/*.sh must stay executable.
                    mode = (info.external_attr >> 16) & 0o777
                    if mode:
                        target.chmod(mode)
    for script in (staging / "bin").glob("*"):
        script.chmod(0o755)
    missing = [d for d in ("bin/sql-client.sh", "lib", "opt", "plugins", "conf/config.yaml") if not (staging / d).exists()]
    if missing:
        raise RuntimeError(f"the Flink {version} wheels did not give a full distribution, missing: {missing}")
    _add_sql_gateway(staging, version)
    shutil.rmtree(home, ignore_errors=True)
    staging.rename(home)
    done.write_text(version + "\n")
    return home


if __name__ == "__main__":
    print(ensure_distribution())
