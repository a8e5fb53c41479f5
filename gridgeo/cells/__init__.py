"""Cells: one cell per building (tessellation), the cell graph, dedicated facilities and compounds."""
