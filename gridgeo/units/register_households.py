"""The households of a register in a partition: matched to the buildings, counted per building and listed per unit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AuditError, InputError, Problem
from ..inputs.register import match_register, prepare_register
from ..result import Partition

REGISTER_COUNT = "households (register)"


def _match_register(register, buildings, *, building_id, households, community_households, building_column, household_column, order, unmatched, labels):
    """The register checked and matched to the buildings' ids, and every problem found (the register's and its options')."""
    problems: list[Problem] = []
    label = labels.get("register", "register")
    if building_id is None:
        problems.append(Problem(label, "a register needs the buildings' id column", "pass --building-id COL (building_id=) with the ids the register's building column holds"))
    if households is not None:
        problems.append(
            Problem("--households", f"'{households}' given with a register, which gives the households per building", "omit --households (households=) when a register is given")
        )
    if community_households is not None:
        problems.append(
            Problem(
                "--community-households",
                f"'{community_households}' given with a register, whose rows are the households",
                "omit --community-households (community_households=) when a register is given",
            )
        )
    matched = None
    try:
        known = (buildings[building_id].to_numpy(), labels.get("buildings", "buildings"), building_id) if unmatched == "error" and building_id in buildings.columns else None
        checked = prepare_register(register, building=building_column, household=household_column, order=order, label=label, known=known)
        if building_id is not None and building_id in buildings.columns:
            matched = match_register(
                checked, buildings[building_id].to_numpy(), unmatched=unmatched, buildings_label=labels.get("buildings", "buildings"), building_column=building_id
            )
    except InputError as exc:
        problems += exc.problems
    return matched, problems


def _register_rows(matched, buildings, prep, building_id: str) -> dict:
    """Per row of ``prep.buildings``: its household ids and breaks; households of unassigned buildings."""
    from ..inputs.register import id_key

    position = {id_key(v): i for i, v in enumerate(buildings[building_id].to_numpy())}
    rows = [position[id_key(v)] for v in prep.buildings[building_id].to_numpy()]
    outside = []
    for value, reason in zip(prep.unassigned[building_id].to_numpy(), prep.unassigned["reason"].to_numpy()):
        i = position.get(id_key(value))
        if i is not None:
            outside.extend((hid, id_key(value), reason) for hid in matched.households[i])
    return {
        "ids": [matched.households[i] for i in rows],
        "breaks": [matched.breaks[i] for i in rows],
        "building_ids": [id_key(v) for v in prep.buildings[building_id].to_numpy()],
        "outside": outside,
        "order_columns": matched.register.order_columns,
        "personal_columns": matched.register.personal_columns,
    }


def _add_register(result: Partition, held: dict, household_rows: list, matched, prep, b_code) -> None:
    """The ``households`` table, the unassigned households and the report's ``register`` section of a register run."""
    order = held["order_columns"]
    frame = pd.DataFrame(household_rows, columns=["household_id", "row", "grid_code", "unit_code", "position"])
    rows = frame["row"].to_numpy(dtype=np.int64)
    table = pd.DataFrame(
        {
            "household_id": frame["household_id"].astype(str),
            "building_id": np.asarray(held["building_ids"], dtype=object)[rows] if len(rows) else [],
            "building_code": b_code[rows].astype(str) if len(rows) else [],
            "grid_code": frame["grid_code"],
            "unit_code": frame["unit_code"],
            "position": frame["position"].astype(np.int64),
        }
    )
    for column in order:
        # an order column named like one of the table's own columns keeps its values under register_NAME
        name = f"register_{column}" if column in table.columns else column
        table[name] = matched.order_values[column].reindex(table["household_id"]).to_numpy()
    table = table.sort_values(["unit_code", "position"], kind="stable").reset_index(drop=True)
    expected = int(prep.households.sum())
    if len(table) != expected or table["household_id"].duplicated().any():
        raise AuditError(f"the households table lists {len(table)} rows for {expected} households of the register")
    unassigned = pd.DataFrame(
        [(hid, b, reason) for hid, b, reason in held["outside"]]
        + list(matched.unmatched[["household_id", "building_id", "reason"]].itertuples(index=False, name=None)),
        columns=["household_id", "building_id", "reason"],
    )
    result.households = table
    result.unassigned_households = unassigned
    result.report["register"] = {
        "households": int(len(table) + len(unassigned)),
        "households_in_units": int(len(table)),
        "buildings_with_households": int((prep.households > 0).sum()),
        "buildings_without_households": list(matched.buildings_without),
        "unassigned_households": unassigned.to_dict(orient="records"),
        "order_columns": list(order),
        "personal_columns_withheld": list(held["personal_columns"]),
    }
