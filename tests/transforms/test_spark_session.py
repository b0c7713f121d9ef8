"""The Spark session: one per process, configured from settings; a clear error without Java."""

from __future__ import annotations

import pytest

from cityhub.config import Settings
from transforms import spark as spark_module

pytestmark = pytest.mark.spark


def test_one_session_configured_from_settings(spark):
    assert spark_module.get_spark(Settings()) is spark  # cached: other settings do not build a second one
    conf = spark.conf
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.shuffle.partitions") == "1"
    assert conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert spark.sparkContext.getConf().get("spark.ui.enabled") == "false"
    assert "/spark/" in spark.sparkContext.getConf().get("spark.local.dir")


def test_spark_conf_puts_everything_under_home(tmp_path):
    conf = spark_module.spark_conf(Settings(home=tmp_path, spark_shuffle_partitions=3, spark_driver_memory="3g"))
    assert conf["spark.sql.shuffle.partitions"] == "3" and conf["spark.driver.memory"] == "3g"
    assert conf["spark.sql.adaptive.enabled"] == "true"
    assert spark_module.spark_conf(Settings(home=tmp_path, spark_shuffle_partitions=1))["spark.sql.adaptive.enabled"] == "false"
    for key in ("spark.sql.warehouse.dir", "spark.local.dir", "spark.checkpoint.dir"):
        assert conf[key].startswith(str(tmp_path.resolve() / "spark"))


def test_missing_java_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder with no java in it
    with pytest.raises(spark_module.JavaMissingError, match="Java 17"):
        spark_module.require_java()


def test_old_java_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "bin" / "java"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho \'java version "1.8.0_392"\' >&2\n')
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(spark_module.JavaMissingError, match="Java 8"):
        spark_module.require_java()
