"""Inputs: reading layers, checking them, coordinate systems, households per building and the household register."""
