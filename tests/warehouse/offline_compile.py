"""Compile the dbt project for Snowflake without a Snowflake account: run as a script.

    python tests/warehouse/offline_compile.py (full|incremental) <dbt compile arguments>

dbt compile opens no connection until a model asks the warehouse something; the models ask only
one thing, whether their table exists (is_incremental()). This script answers it without
connecting, "no" for `full` (first build) and "yes, a table" for `incremental`, so both branches
of every model can be compiled and checked offline. Any other query fails loudly.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from dbt.adapters.contracts.relation import RelationType
    from dbt.adapters.snowflake import SnowflakeAdapter
    from dbt.adapters.snowflake.connections import SnowflakeConnectionManager
    from dbt.cli.main import dbtRunner

    mode, args = argv[0], argv[1:]
    if mode not in ("full", "incremental"):
        raise SystemExit("usage: offline_compile.py full|incremental <dbt args>")

    def get_relation(self, database, schema, identifier):  # type: ignore[no-untyped-def]
        if mode == "full":
            return None
        return self.Relation.create(database=database, schema=schema, identifier=identifier, type=RelationType.Table)

    def refuse(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("offline compile: a model tried to open a Snowflake connection")

    SnowflakeAdapter.get_relation = get_relation  # type: ignore[method-assign]
    SnowflakeConnectionManager.open = classmethod(refuse)  # type: ignore[method-assign,assignment]
    result = dbtRunner().invoke(["compile", "--no-populate-cache", *args])
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
