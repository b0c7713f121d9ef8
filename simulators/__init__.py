"""A synthetic city with ground truth, and the four department systems that serve it.

`simulators.city.generate_city` draws households and residents of Hangzhou (real division codes,
valid ID numbers), plants life events and cross-department cases, renders each department's slice in
its native schema with realistic noise, and writes the truth beside it. `simulators.runtime.CitySystems`
serves the HTTP systems (civil affairs, health) with fault injection; `advance_city` moves the city on
by days for incremental extraction; `load_public_security` puts the hukou register into PostgreSQL or
MariaDB.
"""
