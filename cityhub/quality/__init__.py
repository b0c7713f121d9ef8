"""Data quality with Great Expectations: the domain's expectations, the JSON suites, validation runs.

`cityhub.quality.run` validates a layer (`validate_standardised`, `validate_published`);
`cityhub.quality.suites` loads `expectations/suites/*.json`; `cityhub.quality.expectations` holds the
custom expectation classes (imported by the other two so GX knows them).
"""
