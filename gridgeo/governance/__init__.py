"""Governance layers on the grids: codes (local and standard), staffing and workload, walking network, service coverage, rosters."""
