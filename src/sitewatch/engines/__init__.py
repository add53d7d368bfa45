"""Engines other than the embedded one (Apache Spark)."""
