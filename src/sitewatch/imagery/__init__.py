"""Satellite and aerial scenes: metadata, co-registration, change between dates, chips.

* :mod:`~sitewatch.imagery.scenes` — open a scene (GeoTIFF/COG, JPEG/PNG, STAC asset),
  describe it (size, CRS, footprint in lon/lat, GSD, acquisition time, cloud/haze flag)
  and read it by windows or as a bounded-size overview.
* :mod:`~sitewatch.imagery.coreg` — align every scene of a site to its reference scene.
* :mod:`~sitewatch.imagery.change` — object-level and pixel-level change between scenes.
* :mod:`~sitewatch.imagery.chips` — annotated PNG chips for the report and the dashboard.

OpenCV and rasterio are imported inside functions, so importing this package is cheap.
"""
