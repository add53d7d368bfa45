"""Air analytics: flights (legs), site events, dark gaps and where the aircraft went.

Modules register their analyses with :func:`sitewatch.analytics.base.register_analysis`:
``air.flights`` (the ``flights`` table), ``air.site-events`` (arrival, departure,
touch-and-go, approach, overflight), ``air.dark-gaps`` (dark-gap) and ``air.dark-visits``
(dark-visit). Parameters are named in :mod:`sitewatch.analytics.air._params`.
"""
