"""Resident ids: stable, keyed pseudonyms of what anchors a resident.

An ID-anchored resident's id is HMAC-SM3 of the ID number under the hub secret; a resident without
one takes it from its first record's key. These are the ids of brand-new residents: a resident
known from an earlier run keeps the id it had (transforms.resolve.registry).
"""

from __future__ import annotations

import hmac

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import types as T
from pyspark.sql.functions import pandas_udf

ID_NUMBER_ANCHOR = "id_number"
RECORD_ANCHOR = "record"


def resident_id_for(anchor_value: str, secret: str) -> str:
    """`R` + the first 16 hex characters of HMAC-SM3(secret, anchor value)."""
    return "R" + hmac.new(secret.encode("utf-8"), anchor_value.encode("utf-8"), "sm3").hexdigest()[:16]


def salted(anchor_value: str, run_id: str) -> str:
    """What a brand-new resident's id is hashed from when an earlier resident had its anchor's id: the anchor, salted with the run."""
    return f"{anchor_value}@{run_id}"


def resident_id_of(value: Column, secret: str) -> Column:
    """The resident id (`resident_id_for`) of a string column, computed on the executors."""
    @pandas_udf(T.StringType())
    def resident_ids(values: pd.Series) -> pd.Series:
        return values.map(lambda value: resident_id_for(value, secret))

    return resident_ids(value)


def resident_ids_of(value: Column, secret: str, run_id: str) -> Column:
    """struct(`id`, `salted`): the resident id of a string column and that of it salted with the run, in one pass on the executors."""
    @pandas_udf("id string, salted string")
    def resident_ids(values: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"id": values.map(lambda value: resident_id_for(value, secret)),
                             "salted": values.map(lambda value: resident_id_for(salted(value, run_id), secret))})

    return resident_ids(value)
