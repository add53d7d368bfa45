"""Every table of the workspace database, declared once.

The DuckDB DDL, the Arrow schema of each table and the drift test are all derived from
these declarations. To change a table, change it here and bump :data:`SCHEMA_VERSION`;
additive changes (new tables, new nullable columns) are migrated automatically on open
by :mod:`sitewatch.store.db`. Units are in column names; every ``t_*`` column is
``TIMESTAMPTZ`` holding UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

SCHEMA_VERSION = 2  # 2: feed_outages

_ARROW: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "FLOAT": pa.float32(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "SMALLINT": pa.int16(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "JSON": pa.string(),
    "BLOB": pa.binary(),
}


@dataclass(frozen=True)
class Column:
    """One column: name (with unit), DuckDB type, nullability and meaning."""

    name: str
    type: str
    doc: str
    nullable: bool = True

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW[self.type]

    def ddl(self) -> str:
        sql_type = "VARCHAR" if self.type == "JSON" else self.type
        return f'"{self.name}" {sql_type}' + ("" if self.nullable else " NOT NULL")


@dataclass(frozen=True)
class Table:
    """A table: columns in order, the natural key used to drop duplicate records."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name!r}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, c.nullable) for c in self.columns])

    def ddl(self) -> str:
        cols = ",\n  ".join(c.ddl() for c in self.columns)
        return f'CREATE TABLE IF NOT EXISTS "{self.name}" (\n  {cols}\n)'


def _c(name: str, type_: str, doc: str, nullable: bool = True) -> Column:
    return Column(name, type_, doc, nullable)


# Provenance columns shared by every table whose rows come from an ingested file.
_PROVENANCE = (
    _c("file_id", "BIGINT", "ingest_log.file_id of the file this row came from"),
    _c("rec_offset", "BIGINT", "line number (text) or byte offset (binary) of the record in its file"),
)

POSITIONS = Table(
    "positions",
    "One position of one aircraft (ADS-B/Mode S) or vessel (AIS) at one time.",
    (
        _c("t_utc", "TIMESTAMPTZ", "time of the position, UTC", False),
        _c("source", "VARCHAR", "'adsb' or 'ais'", False),
        _c("id", "VARCHAR", "lowercase ICAO 24-bit hex (adsb) or MMSI (ais)", False),
        _c("lat", "DOUBLE", "latitude, degrees WGS84", False),
        _c("lon", "DOUBLE", "longitude, degrees WGS84", False),
        _c("alt_ft", "DOUBLE", "barometric altitude, feet (NULL for ships or unknown)"),
        _c("speed_kt", "DOUBLE", "ground speed, knots"),
        _c("track_deg", "DOUBLE", "track over ground, degrees true"),
        _c("onground", "BOOLEAN", "on the ground (aircraft) / moored (ships, from nav status)"),
        _c("vrate_fpm", "DOUBLE", "vertical rate, feet per minute"),
        _c("heading_deg", "DOUBLE", "true heading, degrees (ships) / magnetic heading (aircraft)"),
        _c("callsign", "VARCHAR", "callsign (aircraft) or ship name at that time"),
        _c("squawk", "VARCHAR", "Mode A code, 4 octal digits"),
        _c("status", "VARCHAR", "AIS navigation status or readsb point source type"),
        _c("time_inferred", "BOOLEAN", "true when the time was not in the record (file order, --start)"),
        _c("format", "VARCHAR", "input format the row was read from"),
        *_PROVENANCE,
    ),
    key=("source", "id", "t_utc", "lat", "lon"),
)

AIRCRAFT = Table(
    "aircraft",
    "Identity of an aircraft by ICAO 24-bit address (from an aircraft database or the feed).",
    (
        _c("icao24", "VARCHAR", "lowercase hex", False),
        _c("registration", "VARCHAR", "registration mark"),
        _c("typecode", "VARCHAR", "ICAO type designator (e.g. A124)"),
        _c("type_name", "VARCHAR", "type description"),
        _c("operator", "VARCHAR", "operator"),
        _c("military", "BOOLEAN", "military flag (database or ICAO address range)"),
        _c("category", "VARCHAR", "ADS-B emitter category"),
        _c("db_source", "VARCHAR", "which database or feed this row came from"),
        _c("t_updated_utc", "TIMESTAMPTZ", "when this row was last written"),
    ),
    key=("icao24",),
)

VESSELS = Table(
    "vessels",
    "Identity of a vessel by MMSI, merged from AIS static data and watchlists.",
    (
        _c("mmsi", "VARCHAR", "9-digit MMSI", False),
        _c("name", "VARCHAR", "vessel name"),
        _c("callsign", "VARCHAR", "radio call sign"),
        _c("imo", "BIGINT", "IMO number"),
        _c("ship_type", "INTEGER", "AIS ship-and-cargo type code"),
        _c("length_m", "DOUBLE", "length overall, metres"),
        _c("width_m", "DOUBLE", "beam, metres"),
        _c("draught_m", "DOUBLE", "draught, metres"),
        _c("destination", "VARCHAR", "reported destination"),
        _c("flag", "VARCHAR", "flag state from the MMSI's MID (ISO alpha-2)"),
        _c("government", "BOOLEAN", "naval / government / law-enforcement marker"),
        _c("watch", "BOOLEAN", "on the user's watchlist"),
        _c("t_updated_utc", "TIMESTAMPTZ", "last static report"),
        _c("gov_reason", "VARCHAR", "why the government marker is set (ship type, MMSI block, name)"),
        _c("station", "VARCHAR", "kind of station from the MMSI form (ship, coast-station, sar-aircraft …)"),
    ),
    key=("mmsi",),
)

SCENES = Table(
    "scenes",
    "One satellite or aerial image of a site at one time.",
    (
        _c("scene_id", "VARCHAR", "stable id (content hash prefix)", False),
        _c("site", "VARCHAR", "site name", False),
        _c("t_utc", "TIMESTAMPTZ", "acquisition time, UTC"),
        _c("provider", "VARCHAR", "provider / sensor"),
        _c("path", "VARCHAR", "path of the image as ingested", False),
        _c("sha256", "VARCHAR", "content hash of the image file", False),
        _c("gsd_m", "DOUBLE", "ground sample distance, metres per pixel"),
        _c("width_px", "INTEGER", "image width, pixels"),
        _c("height_px", "INTEGER", "image height, pixels"),
        _c("crs", "VARCHAR", "coordinate reference system (EPSG or WKT), NULL if not georeferenced"),
        _c("transform", "JSON", "affine pixel→CRS transform (6 numbers) or NULL"),
        _c("footprint_wkt", "VARCHAR", "footprint polygon, lon/lat WKT"),
        _c("coreg", "JSON", "co-registration to the site's reference scene: homography, residual_px, status"),
        _c("cloud_flag", "BOOLEAN", "cloud/haze detected"),
        _c("simulated", "BOOLEAN", "true when the scene was rendered by a simulator"),
        _c("meta", "JSON", "other metadata (STAC properties, tags)"),
        *_PROVENANCE,
    ),
    key=("scene_id",),
)

DETECTIONS = Table(
    "detections",
    "One object detected in one scene.",
    (
        _c("det_id", "VARCHAR", "scene_id + index", False),
        _c("scene_id", "VARCHAR", "scene", False),
        _c("site", "VARCHAR", "site name", False),
        _c("class", "VARCHAR", "object class (plane, ship, large-vehicle, …)", False),
        _c("score", "DOUBLE", "detector confidence 0..1", False),
        _c("cx_px", "DOUBLE", "centre x, pixels", False),
        _c("cy_px", "DOUBLE", "centre y, pixels", False),
        _c("w_px", "DOUBLE", "box width, pixels"),
        _c("h_px", "DOUBLE", "box height, pixels"),
        _c("angle_rad", "DOUBLE", "box rotation, radians"),
        _c("poly_px", "JSON", "rotated box corners in pixels [[x,y]×4]"),
        _c("lon", "DOUBLE", "centre longitude (georeferenced scenes)"),
        _c("lat", "DOUBLE", "centre latitude (georeferenced scenes)"),
        _c("poly_wkt", "VARCHAR", "rotated box as lon/lat WKT"),
        _c("zone", "VARCHAR", "zone of the site containing the centre, NULL if none"),
        _c("length_m", "DOUBLE", "long side, metres"),
        _c("width_m", "DOUBLE", "short side, metres"),
        _c("type_candidates", "JSON", "aircraft: {measured, fits, named, size_class, size_words, label}"),
        _c("model", "VARCHAR", "detector model name and sha256 prefix"),
        _c("size_class", "VARCHAR", "size class from length_m (car, truck, boat, large-ship, …)"),
        _c("heavy_transport", "BOOLEAN", "aircraft whose type candidates are mostly heavy airlifters"),
    ),
    key=("det_id",),
)

DETECT_RUNS = Table(
    "detect_runs",
    "One detector run over one scene (kept even when nothing was found: a count of zero).",
    (
        _c("scene_id", "VARCHAR", "scene", False),
        _c("site", "VARCHAR", "site name", False),
        _c("model", "VARCHAR", "model name and sha256 prefix", False),
        _c("n_detections", "BIGINT", "detections stored", False),
        _c("settings", "JSON", "detector settings (target GSD, overlap, thresholds)"),
        _c("seconds", "DOUBLE", "wall time of the run"),
        _c("t_run_utc", "TIMESTAMPTZ", "when it ran", False),
    ),
    key=("scene_id",),
)

EVENTS = Table(
    "events",
    "Something that happened: an arrival, a dark gap, a port visit … computed by analytics.",
    (
        _c("event_id", "VARCHAR", "deterministic id (hash of kind, subject, t_start, analysis)", False),
        _c("kind", "VARCHAR", "arrival, departure, dark-gap, dark-visit, port-visit, …", False),
        _c("site", "VARCHAR", "site name, NULL if at no watched site"),
        _c("t_start", "TIMESTAMPTZ", "start, UTC", False),
        _c("t_end", "TIMESTAMPTZ", "end, UTC"),
        _c("subject", "VARCHAR", "icao24 or mmsi (or scene id / zone for imagery)"),
        _c("subject_kind", "VARCHAR", "'aircraft', 'vessel', 'scene', 'zone'"),
        _c("confidence", "DOUBLE", "0..1", False),
        _c("lat", "DOUBLE", "representative latitude"),
        _c("lon", "DOUBLE", "representative longitude"),
        _c("details", "JSON", "the numbers behind the event", False),
        _c("evidence", "JSON", "references to the rows it rests on", False),
        _c("summary", "VARCHAR", "one plain sentence"),
        _c("analysis", "VARCHAR", "which analysis produced it (and its engine)", False),
        _c("t_computed_utc", "TIMESTAMPTZ", "when it was computed", False),
    ),
    key=("event_id",),
)

FLIGHTS = Table(
    "flights",
    "One flight (leg) of one aircraft: split at time gaps, ground stays and readsb leg heuristics.",
    (
        _c("flight_id", "VARCHAR", "deterministic id (hash of icao24 and first report time)", False),
        _c("icao24", "VARCHAR", "aircraft address", False),
        _c("t_start", "TIMESTAMPTZ", "first report of the leg, UTC", False),
        _c("t_end", "TIMESTAMPTZ", "last report of the leg, UTC", False),
        _c("n_positions", "BIGINT", "reports in the leg", False),
        _c("airborne", "BOOLEAN", "false when the leg never left the ground"),
        _c("max_alt_ft", "DOUBLE", "highest reported altitude, feet"),
        _c("lat_first", "DOUBLE", "first latitude"),
        _c("lon_first", "DOUBLE", "first longitude"),
        _c("alt_first_ft", "DOUBLE", "first reported altitude, feet"),
        _c("lat_last", "DOUBLE", "last latitude"),
        _c("lon_last", "DOUBLE", "last longitude"),
        _c("alt_last_ft", "DOUBLE", "last reported altitude, feet"),
        _c("origin", "VARCHAR", "nearest airfield (ICAO or site name) to the first report"),
        _c("origin_dist_m", "DOUBLE", "distance from the first report to the origin, metres"),
        _c("origin_candidates", "INTEGER", "other airfields within the candidate radius of the first report"),
        _c("destination", "VARCHAR", "nearest airfield to the last report"),
        _c("destination_dist_m", "DOUBLE", "distance from the last report to the destination, metres"),
        _c("destination_candidates", "INTEGER", "other airfields within the candidate radius of the last report"),
        _c("split_start", "VARCHAR", "why the leg starts: track-start, gap, landing-gap, ground"),
        _c("split_end", "VARCHAR", "why the leg ends: track-end, gap, landing-gap, ground"),
        _c("t_computed_utc", "TIMESTAMPTZ", "when it was computed", False),
    ),
    key=("flight_id",),
)

OBSERVATIONS = Table(
    "observations",
    "An analyst's observation (a person reading an image, a video, a post).",
    (
        _c("obs_id", "VARCHAR", "hash of the record", False),
        _c("site", "VARCHAR", "site name"),
        _c("t_utc", "TIMESTAMPTZ", "time observed (or time of the image), UTC", False),
        _c("text", "VARCHAR", "what was seen", False),
        _c("count", "DOUBLE", "number of objects, if any"),
        _c("class", "VARCHAR", "object class or type, if any"),
        _c("zone", "VARCHAR", "zone, if any"),
        _c("source", "VARCHAR", "provider / outlet (Maxar, Planet, BBC Verify …)"),
        _c("url", "VARCHAR", "link to the source"),
        _c("confidence", "DOUBLE", "analyst's confidence 0..1"),
        _c("simulated", "BOOLEAN", "true for simulated observations"),
        *_PROVENANCE,
    ),
    key=("obs_id",),
)

EVIDENCE = Table(
    "evidence",
    "Every event, detection count, change result and observation as one evidence row.",
    (
        _c("evidence_id", "VARCHAR", "stable id", False),
        _c("site", "VARCHAR", "site name"),
        _c("t_start", "TIMESTAMPTZ", "start of interval, UTC", False),
        _c("t_end", "TIMESTAMPTZ", "end of interval, UTC"),
        _c("kind", "VARCHAR", "kind of evidence", False),
        _c("value", "DOUBLE", "numeric value, if any"),
        _c("text", "VARCHAR", "plain sentence", False),
        _c("sensor", "VARCHAR", "adsb, ais, imagery, analyst", False),
        _c("provider", "VARCHAR", "provider or file source"),
        _c("file_sha256", "VARCHAR", "content hash of the source file"),
        _c("ref", "JSON", "line / pixel box / event id behind it"),
        _c("confidence", "DOUBLE", "0..1", False),
        _c("simulated", "BOOLEAN", "from a simulator"),
        _c("subject", "VARCHAR", "icao24, MMSI, scene id or zone the evidence is about"),
        _c("lat", "DOUBLE", "representative latitude, if located"),
        _c("lon", "DOUBLE", "representative longitude, if located"),
    ),
    key=("evidence_id",),
)

ASSESSMENTS = Table(
    "assessments",
    "One issued revision of the assessment of one hypothesis at one site as of one time.",
    (
        _c("assessment_id", "VARCHAR", "site|hypothesis|as-of|revision", False),
        _c("site", "VARCHAR", "site name", False),
        _c("hypothesis", "VARCHAR", "rule name (withdrawal, reinforcement …)", False),
        _c("t_as_of", "TIMESTAMPTZ", "evidence up to this time was considered, UTC", False),
        _c("revision", "INTEGER", "1 for the first issue, +1 each time new evidence changes it", False),
        _c("t_issued_utc", "TIMESTAMPTZ", "when this revision was issued", False),
        _c("probability", "DOUBLE", "estimated probability 0..1", False),
        _c("likelihood", "VARCHAR", "ICD-203 expression (almost no chance … almost certain)", False),
        _c("confidence", "VARCHAR", "analytic confidence: high, moderate or low", False),
        _c("evidence_hash", "VARCHAR", "hash of the evidence ids and values considered", False),
        _c("evidence_ids", "JSON", "evidence ids considered", False),
        _c("body", "JSON", "the full assessment: sentences, footnotes, missing sources", False),
        _c("changes", "JSON", "what changed since the previous revision and why"),
        _c("rule_sha256", "VARCHAR", "content hash of the rule file used"),
    ),
    key=("assessment_id",),
)

INGEST_LOG = Table(
    "ingest_log",
    "One row per ingested file: its content hash makes re-ingest a no-op.",
    (
        _c("file_id", "BIGINT", "id", False),
        _c("path", "VARCHAR", "path as given (archive!member for archive members)", False),
        _c("sha256", "VARCHAR", "content hash of the (decompressed) file", False),
        _c("kind", "VARCHAR", "adsb, ais, imagery, observations …", False),
        _c("format", "VARCHAR", "format used", False),
        _c("size_bytes", "BIGINT", "size read"),
        _c("accepted", "BIGINT", "records stored"),
        _c("rejected", "BIGINT", "records quarantined"),
        _c("duplicates", "BIGINT", "records already in the store"),
        _c("t_start_utc", "TIMESTAMPTZ", "ingest start"),
        _c("t_end_utc", "TIMESTAMPTZ", "ingest end"),
        _c("options", "JSON", "options that affect the result (--start, --format …)"),
    ),
    key=("sha256", "kind"),
)

QUARANTINE = Table(
    "quarantine",
    "Records that could not be used, kept with where they were and why.",
    (
        _c("file_id", "BIGINT", "ingest_log.file_id", False),
        _c("path", "VARCHAR", "file path", False),
        _c("rec_offset", "BIGINT", "line number or byte offset"),
        _c("offset_unit", "VARCHAR", "'line' or 'byte'"),
        _c("raw", "VARCHAR", "the record as text (hex for binary)"),
        _c("reason", "VARCHAR", "why it was rejected", False),
        _c("t_utc", "TIMESTAMPTZ", "when it was quarantined", False),
    ),
)

VESSEL_REPORTS = Table(
    "vessel_reports",
    "One AIS static/voyage report (types 5, 19, 24, or a CSV row's static columns) of one vessel.",
    (
        _c("t_utc", "TIMESTAMPTZ", "time of the report, UTC", False),
        _c("mmsi", "VARCHAR", "9-digit MMSI", False),
        _c("name", "VARCHAR", "vessel name"),
        _c("callsign", "VARCHAR", "radio call sign"),
        _c("imo", "BIGINT", "IMO number"),
        _c("ship_type", "INTEGER", "AIS ship-and-cargo type code"),
        _c("length_m", "DOUBLE", "length overall, metres"),
        _c("width_m", "DOUBLE", "beam, metres"),
        _c("draught_m", "DOUBLE", "draught, metres"),
        _c("destination", "VARCHAR", "reported destination"),
        _c("msg_type", "INTEGER", "AIS message type (NULL for CSV sources)"),
        _c("time_inferred", "BOOLEAN", "true when the time was not in the record"),
        _c("format", "VARCHAR", "input format the row was read from"),
        *_PROVENANCE,
    ),
    key=("mmsi", "t_utc", "name", "callsign", "imo", "ship_type", "destination"),
)

FEED_OUTAGES = Table(
    "feed_outages",
    "A stretch of time in which a live feed could not see its area (API down, rate-limited, "
    "connection lost): a coverage outage, never evidence that a transponder was off.",
    (
        _c("file_id", "BIGINT", "ingest_log.file_id of the live session", False),
        _c("source", "VARCHAR", "'adsb' or 'ais': the positions the outage blinds", False),
        _c("feed", "VARCHAR", "the feed (readsb-api://api.adsb.lol/v2, opensky, aisstream, beast://…)", False),
        _c("origin", "VARCHAR", "which request or area of the feed (a site, a box, or 'feed')", False),
        _c("t_start_utc", "TIMESTAMPTZ", "last data received before the outage (or the session start)", False),
        _c("t_end_utc", "TIMESTAMPTZ", "first data received after it (while ongoing: the last failure)", False),
        _c("ongoing", "BOOLEAN", "true while the outage had not ended at the last commit"),
        _c("lat_min", "DOUBLE", "south edge of the area the feed watches there (NULL: unknown area)"),
        _c("lat_max", "DOUBLE", "north edge"),
        _c("lon_min", "DOUBLE", "west edge"),
        _c("lon_max", "DOUBLE", "east edge"),
        _c("failures", "BIGINT", "failed requests or reconnects during the outage"),
        _c("reason", "VARCHAR", "what failed last (HTTP 503, HTTP 429 rate limit, timeout, bad JSON …)"),
    ),
    key=("file_id", "origin", "t_start_utc"),
)

STATS = Table(
    "ingest_stats",
    "Per-file decoder counters (CRC repairs, CPR failures, impossible jumps …).",
    (
        _c("file_id", "BIGINT", "ingest_log.file_id", False),
        _c("name", "VARCHAR", "counter name", False),
        _c("value", "BIGINT", "count", False),
    ),
)

ALERTS = Table(
    "alerts",
    "One firing of one watch rule for one subject/event: stored once, sent to the channels.",
    (
        _c("alert_id", "VARCHAR", "hash of rule name and the firing key (deduplicates)", False),
        _c("rule", "VARCHAR", "watch rule name", False),
        _c("t_utc", "TIMESTAMPTZ", "time of what fired it (position, event start, …)", False),
        _c("site", "VARCHAR", "site, if any"),
        _c("subject", "VARCHAR", "icao24 / MMSI / event id"),
        _c("text", "VARCHAR", "one sentence", False),
        _c("payload", "JSON", "what was sent", False),
        _c("delivery", "JSON", "per channel: ok / error after retries", False),
        _c("t_fired_utc", "TIMESTAMPTZ", "when the alert was raised", False),
    ),
    key=("alert_id",),
)

TOKENS = Table(
    "tokens",
    "API tokens for the dashboard server; only a salted hash of each token is kept.",
    (
        _c("token_id", "VARCHAR", "public id (first 8 chars shown to the user)", False),
        _c("name", "VARCHAR", "label given at creation"),
        _c("scope", "VARCHAR", "'read' or 'write'", False),
        _c("hash", "VARCHAR", "scrypt hash of the secret", False),
        _c("salt", "VARCHAR", "hex salt", False),
        _c("t_created_utc", "TIMESTAMPTZ", "creation time", False),
        _c("revoked", "BOOLEAN", "true once revoked"),
    ),
    key=("token_id",),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        POSITIONS,
        AIRCRAFT,
        VESSELS,
        VESSEL_REPORTS,
        SCENES,
        DETECTIONS,
        DETECT_RUNS,
        EVENTS,
        FLIGHTS,
        OBSERVATIONS,
        EVIDENCE,
        ASSESSMENTS,
        INGEST_LOG,
        QUARANTINE,
        STATS,
        FEED_OUTAGES,
        ALERTS,
        TOKENS,
    )
}


def table(name: str) -> Table:
    """Return the declaration of table ``name``."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(TABLES)}") from None


def conform(name: str, data: pa.Table) -> pa.Table:
    """Return ``data`` with exactly the declared columns of table ``name``, in order.

    Missing nullable columns are filled with nulls; types are cast to the declared
    Arrow types. Unknown columns raise ``KeyError`` (schema drift).
    """
    decl = table(name)
    unknown = set(data.column_names) - set(decl.names)
    if unknown:
        raise KeyError(f"columns {sorted(unknown)} are not declared for table {name!r}")
    arrays = []
    for col in decl.columns:
        if col.name in data.column_names:
            arr = data.column(col.name)
            if arr.type != col.arrow_type:
                arr = arr.cast(col.arrow_type)
            arrays.append(arr)
        else:
            arrays.append(pa.nulls(data.num_rows, col.arrow_type))
    return pa.Table.from_arrays(arrays, schema=decl.arrow_schema())
