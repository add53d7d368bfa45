"""Live feeds (ADS-B receivers, AIS streams) into the workspace store."""
