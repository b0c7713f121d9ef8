"""The DAG files: they import cleanly, are wiring only, and touch no database or network at parse time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Run the DagBag in a child process whose sockets all refuse to connect: any network, metadata-DB
# server, Variable or Connection lookup at parse time fails the import and shows up as an error.
PARSE_WITHOUT_NETWORK = textwrap.dedent(
    """
    import json, socket, sys
    def refuse(*args, **kwargs):
        raise OSError("network access at DAG parse time")
    socket.socket.connect = refuse
    socket.create_connection = refuse
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    print(json.dumps({
        "errors": {k: str(v) for k, v in bag.import_errors.items()},
        "dags": {dag_id: {
            "tags": sorted(dag.tags), "catchup": dag.catchup, "doc": bool(dag.doc_md),
            "retries": {t.task_id: t.retries for t in dag.tasks},
            "outlets": {t.task_id: [getattr(o, "uri", str(o)) for o in t.outlets] for t in dag.tasks},
            "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
            "schedule": type(dag.timetable).__name__,
            "params": {name: dag.params[name] for name in dag.params},
        } for dag_id, dag in bag.dags.items()},
    }))
    """
)


def parse_dags() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYHUB_") or k.startswith("CITYHUB_SPARK")}
    completed = subprocess.run([sys.executable, "-c", PARSE_WITHOUT_NETWORK, str(REPO / "dags")], capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_dags_import_without_errors_network_or_secrets():
    parsed = parse_dags()
    assert parsed["errors"] == {}
    sources = sorted(p.stem for p in (REPO / "connectors/sources").glob("*.yaml"))
    expected = {f"cityhub_ingest_{source}" for source in sources} | {"cityhub_resolve_publish"}
    assert set(parsed["dags"]) == expected
    for dag_id, dag in parsed["dags"].items():
        assert "cityhub" in dag["tags"], dag_id
        assert dag["catchup"] is False, dag_id
        assert dag["doc"], dag_id
        assert all(retries >= 1 for retries in dag["retries"].values()), (dag_id, dag["retries"])
    assert "Asset" in parsed["dags"]["cityhub_resolve_publish"]["schedule"]
    assert parsed["dags"]["cityhub_resolve_publish"]["params"] == {"incremental": False}, "scheduled runs resolve in full"
    for source in sources:
        ingest = parsed["dags"][f"cityhub_ingest_{source}"]
        # Only a batch that passed raw validation may schedule resolve_publish.
        assert ingest["outlets"] == {"extract": [], "validate_raw": [f"cityhub://raw/{source}"]}, source
        assert ingest["upstream"] == {"extract": [], "validate_raw": ["extract"]}, source


def test_dag_files_hold_no_business_logic():
    for file in (REPO / "dags").glob("*.py"):
        text = file.read_text(encoding="utf-8")
        top_level_imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
        heavy = [line for line in top_level_imports if any(name in line for name in ("pyspark", "pandas", "transforms", "connectors", "sqlalchemy", "requests"))]
        assert not heavy, f"{file.name} imports heavy modules at parse time: {heavy}"
