"""Resident ids: stable, keyed pseudonyms of what anchors a resident.

An ID-anchored resident's id is HMAC-SM3 of the ID number under the hub secret; a resident without
one takes it from its first record's key. This is the one place ids are made, so a persistent id
registry (stable across merges and splits) can replace it without touching the linking.
"""

from __future__ import annotations

import hmac

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.functions import pandas_udf

ID_NUMBER_ANCHOR = "id_number"
RECORD_ANCHOR = "record"


def resident_id_for(anchor_value: str, secret: str) -> str:
    """`R` + the first 16 hex characters of HMAC-SM3(secret, anchor value)."""
    return "R" + hmac.new(secret.encode("utf-8"), anchor_value.encode("utf-8"), "sm3").hexdigest()[:16]


def assign_resident_ids(links: DataFrame, secret: str) -> DataFrame:
    """Add `resident_id` to links carrying `anchor_kind` and `anchor_value` (an ID number or a record key)."""
    @pandas_udf(T.StringType())
    def resident_ids(values: pd.Series) -> pd.Series:
        return values.map(lambda value: resident_id_for(value, secret))

    return links.withColumn("resident_id", resident_ids(F.col("anchor_value")))
