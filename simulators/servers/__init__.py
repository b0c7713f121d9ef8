"""HTTP department systems served from a generated city: civil affairs (JSON API) and health (FHIR-like)."""
