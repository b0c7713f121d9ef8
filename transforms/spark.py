"""The one SparkSession of a cityhub process, built from settings."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cityhub.config import Settings

_LOCK = threading.Lock()
_SESSION = None  # the cached SparkSession; typed loosely so importing this module stays cheap
_JAVA_HELP = "Java 17 is required by Spark: install it (e.g. `apt-get install openjdk-17-jre-headless`) and put `java` on PATH or set JAVA_HOME"


class JavaMissingError(RuntimeError):
    """Java 17 (or newer) is not available to start Spark."""


def java_executable() -> str:
    """Path of the `java` Spark will use (JAVA_HOME first, then PATH); raise if there is none."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise JavaMissingError(f"`java` was not found. {_JAVA_HELP}.")
    return found


def java_major_version(java: str) -> int | None:
    """Major version reported by `java -version` (None when it cannot be read)."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_..."
    return int(match.group(2) or 0) if major == 1 else major


def require_java() -> None:
    """Fail with a clear message unless Java 17 or newer is available."""
    java = java_executable()
    major = java_major_version(java)
    if major is not None and major < 17:
        raise JavaMissingError(f"{java} is Java {major}. {_JAVA_HELP}.")


def spark_conf(settings: Settings) -> dict[str, str]:
    """Spark configuration derived from settings (everything written lives under `home/spark`)."""
    spark_home = settings.home_dir / "spark"
    return {
        "spark.app.name": "cityhub",
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": str(spark_home / "warehouse"),
        "spark.local.dir": str(spark_home / "local"),
        "spark.checkpoint.dir": str(spark_home / "checkpoints"),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
        # Batch ids look like numbers or timestamps; keep partition values as the strings they are.
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        # The throughput collector: G1's concurrent marking threads took a core's share of a small
        # run's time on a two-core machine, for pauses a batch job does not need to keep short.
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={spark_home / 'derby'} -XX:+UseParallelGC",
        # Generated code is compiled once per distinct query shape and kept in this cache (100 by
        # default); one resolve runs more shapes than that, so each run compiled them all again and
        # the JIT compiled the new classes again too.
        "spark.sql.codegen.cache.maxEntries": "2000",
        # Workers must run the interpreter that has cityhub and pyarrow installed.
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        # With one shuffle partition (tests, tiny runs) adaptive execution has nothing to coalesce or
        # split, and running each query stage as its own job makes small runs about a third slower.
        "spark.sql.adaptive.enabled": "false" if settings.spark_shuffle_partitions == 1 else "true",
    }


# Records per shuffle partition when a step sizes its partitions to the data it works on.
ROWS_PER_PARTITION = 25_000


def partitions_for(rows: int, configured: int) -> int:
    """Shuffle partitions for a frame of `rows` records: one per ROWS_PER_PARTITION, at most as many as configured."""
    return max(1, min(configured, math.ceil(rows / ROWS_PER_PARTITION)))


@contextmanager
def sized_for(spark, rows: int) -> Iterator[None]:
    """Run the enclosed work with shuffle partitions sized for `rows` records (a small part in one partition, without
    adaptive execution, as spark_conf does for small runs); the session's settings come back afterwards.

    An incremental run matches a part of the city: planned for the whole city, every one of its
    small shuffles would run many near-empty tasks and extra adaptive stages.
    """
    configured = int(spark.conf.get("spark.sql.shuffle.partitions"))
    wanted = partitions_for(rows, configured)
    if wanted == configured:
        yield
        return
    changed = {"spark.sql.shuffle.partitions": str(wanted)}
    if wanted == 1:
        changed["spark.sql.adaptive.enabled"] = "false"
    saved = {key: spark.conf.get(key) for key in changed}
    for key, value in changed.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            spark.conf.set(key, value)


def splink_jars() -> list[str]:
    """Splink's similarity UDF jar when Splink is installed (its Spark comparisons need it on the classpath)."""
    try:
        from splink.backends.spark import similarity_jar_location
    except ImportError:
        return []
    return [similarity_jar_location()]


def with_splink_jars(conf: dict[str, str]) -> dict[str, str]:
    """`conf` with Splink's jar added to `spark.jars` (jars can only be added before the session starts)."""
    jars = [jar for jar in conf.get("spark.jars", "").split(",") if jar]
    jars += [jar for jar in splink_jars() if jar not in jars]
    return {**conf, "spark.jars": ",".join(jars)} if jars else dict(conf)


def _is_alive(session) -> bool:
    if session is None:
        return False
    try:
        return session.sparkContext._jsc is not None  # noqa: SLF001 - the only way to see a stopped session
    except Exception:  # noqa: BLE001 - Spark Connect sessions have no SparkContext
        return not getattr(session, "is_stopped", False)


def get_spark(settings: Settings, extra_conf: dict[str, str] | None = None):
    """The process's SparkSession (built on first call from settings, then cached).

    `extra_conf` only takes effect when the session is first built. Splink's similarity jar is always
    on `spark.jars`, because one session serves every step (and every test) of a process.
    """
    global _SESSION
    with _LOCK:
        if _is_alive(_SESSION):
            return _SESSION
        _SESSION = _build_session(settings, extra_conf or {})
        return _SESSION


def _build_session(settings: Settings, extra_conf: dict[str, str]):
    from pyspark.sql import SparkSession

    if settings.spark_master.startswith("sc://"):
        # Spark Connect: the server owns the JVM and its configuration.
        session = SparkSession.builder.remote(settings.spark_master).getOrCreate()
        session.conf.set("spark.sql.session.timeZone", "UTC")
        session.conf.set("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        return session

    require_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    conf = with_splink_jars({**spark_conf(settings), **extra_conf})
    for folder in ("warehouse", "local", "checkpoints", "derby"):
        (settings.home_dir / "spark" / folder).mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.master(settings.spark_master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    session.sparkContext.setCheckpointDir(conf["spark.checkpoint.dir"])
    return session
