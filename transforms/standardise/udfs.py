"""The standardisers as vectorised pandas UDFs: the pure-Python functions, applied per Arrow batch."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.functions import pandas_udf

from .dates import parse_date, today_utc
from .id_number import standardise_id_number
from .names import standardise_name
from .person import PERSON_FIELDS, RAW_FIELDS, standardise_persons

_TYPES = {"string": T.StringType(), "date": T.DateType(), "timestamp": T.TimestampType()}


def struct_type(fields: tuple[tuple[str, str], ...]) -> T.StructType:
    """A Spark struct from (name, type) pairs; types as objects, since DDL strings need a live session."""
    return T.StructType([T.StructField(name, _TYPES[kind]) for name, kind in fields])


PERSON_SCHEMA = struct_type(PERSON_FIELDS)
ID_NUMBER_SCHEMA = struct_type((("id_number", "string"), ("status", "string"), ("repairs", "string")))
NAME_SCHEMA = struct_type((("name", "string"), ("status", "string"), ("pinyin", "string"), ("initials", "string")))


@pandas_udf(PERSON_SCHEMA)
def _person_udf(
    id_number: pd.Series, name: pd.Series, gender: pd.Series, birth_date: pd.Series, phone: pd.Series,
    address: pd.Series, ethnicity: pd.Series, marital_status: pd.Series, death_date: pd.Series,
    source_updated_at: pd.Series,
) -> pd.DataFrame:
    raw = pd.DataFrame(dict(zip(RAW_FIELDS, (id_number, name, gender, birth_date, phone, address,
                                             ethnicity, marital_status, death_date, source_updated_at))))
    return standardise_persons(raw)


def standardise_person_struct(raw: dict[str, Column]) -> Column:
    """A struct column of the canonical person fields from raw string columns (keys of RAW_FIELDS)."""
    return _person_udf(*(raw.get(name, F.lit(None).cast("string")) for name in RAW_FIELDS))


@pandas_udf(T.DateType())
def parse_date_udf(values: pd.Series) -> pd.Series:
    """Spark column of dates parsed by `dates.parse_date` (null when not usable; never later than today)."""
    today = today_utc()
    return pd.Series([parse_date(value, latest=today).value for value in values], index=values.index, dtype=object)


@pandas_udf(ID_NUMBER_SCHEMA)
def id_number_udf(values: pd.Series) -> pd.DataFrame:
    """Spark struct of `id_number.standardise_id_number` for each value."""
    results = [standardise_id_number(value) for value in values]
    return pd.DataFrame(
        [(r.id_number, r.status, ",".join(r.repairs) or None) for r in results],
        columns=["id_number", "status", "repairs"], index=values.index,
    )


@pandas_udf(NAME_SCHEMA)
def name_udf(values: pd.Series) -> pd.DataFrame:
    """Spark struct of `names.standardise_name` for each value."""
    results = [standardise_name(value) for value in values]
    return pd.DataFrame([(r.name, r.status, r.pinyin, r.initials) for r in results],
                        columns=["name", "status", "pinyin", "initials"], index=values.index)
