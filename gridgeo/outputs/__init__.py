"""Outputs: files (GeoPackage, GeoJSON, Shapefile, PostGIS, spatial index), the map, the report and the printable maps."""
