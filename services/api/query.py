"""Neutron v2.0 list semantics (filters, fields, sorting, pagination) compiled to SQLite.

The read model keeps one table per resource kind with at least ``id``, ``project_id``
and ``body`` (the resource's full API representation as JSON).  A GET on a collection
becomes: ``parse_list_query`` (validate the query string the way Neutron does, raising
Neutron-shaped 400s), ``to_sql`` (one parameterised SELECT using SQLite JSON1, so any
attribute of the body can be filtered or sorted on), then ``page_result`` (apply
``fields`` and build ``<collection>_links``).  Everything here is pure; ``execute_list``
is a thin convenience that runs the SQL on a DB-API connection and turns a missing
marker into Neutron's 404.

Behaviour mirrors neutron/api/api_common.py, neutron_lib/db/model_query.py and the
ML2/db_base_plugin port and tag query hooks:

* ``?a=x&a=y&b=z`` is ``(a IN (x, y)) AND b = z``; ``?a=`` matches the empty string
  (the ``empty-string-filtering`` extension).
* Unknown filter attributes are a 400 (the ``filter-validation`` extension):
  ``"['foo'] is invalid attribute for filtering"``.
* Values arrive as strings; they are compared type-aware against the JSON value
  (string, integer, boolean with oslo's strict spellings, number), and list-valued
  attributes match when the list contains the value.
* ``fixed_ips=ip_address=..``/``subnet_id=..``/``ip_address_substr=..``: values of one
  sub-key are OR-ed and each sub-key is an independent "some fixed IP has it"
  condition, exactly like ``_get_ports_query`` (so ip and subnet may match different
  entries of the list).
* Tags: ``tags`` (all), ``tags-any`` (any), ``not-tags`` (not all), ``not-tags-any``
  (none); comma-separated and repeated params are unioned into one set per kind.
* Sorting: ``sort_key``/``sort_dir`` pairs; ``id`` ASC is appended as tiebreak (unless
  already a key), which also makes it the default order, as with native pagination.
* Pagination: ``limit`` (0 = none), ``marker`` (ignored without a limit; a marker the
  caller cannot see is a 404), ``page_reverse``; links exactly as
  ``get_pagination_links``: no look-ahead, so a full page always gets ``next`` and a
  forward page always gets ``previous``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Sequence

import msgspec

from netledger.errors import BadRequest, InvalidInput, not_found

# Query parameters that steer the listing rather than filter it (Neutron's "skips").
RESERVED_PARAMS = frozenset({"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"})
# The tag extension's filters; valid exactly when the resource has ``tags``.
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
# Sub-keys of the fixed_ips filter that Neutron acts on; any other sub-key is parsed
# (so a malformed one still 400s) and then ignored, as Neutron does.
FIXED_IP_KEYS = ("ip_address", "subnet_id", "ip_address_substr")

# oslo_utils.strutils.bool_from_string(strict=True) spellings, used by convert_to_boolean.
_TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE = frozenset({"0", "f", "false", "off", "n", "no"})
_MAC_HEX = re.compile(r"^[0-9a-f]{12}$")


class ListQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A validated Neutron list request; attribute names in here are all known-good."""

    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()  # attribute -> OR-ed raw values
    fixed_ips: tuple[tuple[str, tuple[str, ...]], ...] = ()  # sub-key -> OR-ed values
    tags: tuple[str, ...] = ()  # every one must be present
    tags_any: tuple[str, ...] = ()  # at least one present
    not_tags: tuple[str, ...] = ()  # not all of them present
    not_tags_any: tuple[str, ...] = ()  # none of them present
    fields: tuple[str, ...] = ()  # empty: the whole body
    sorts: tuple[tuple[str, bool], ...] = ()  # (key, ascending) as requested
    limit: int | None = None  # None: no pagination
    marker: str | None = None  # only set together with limit
    page_reverse: bool = False

    def order(self) -> tuple[tuple[str, bool], ...]:
        """The full ORDER BY in result order: requested keys plus the id tiebreak."""
        if any(key == "id" for key, _ in self.sorts):
            return self.sorts
        return self.sorts + (("id", True),)


# --------------------------------------------------------------------------- parsing


def parse_list_query(
    params: Iterable[tuple[str, str]],
    *,
    attributes: frozenset[str],
    sortable: frozenset[str] | None = None,
    max_limit: int = -1,
) -> ListQuery:
    """Validate a list request's query string the way Neutron's API layer does.

    ``attributes`` are the resource's filterable attribute names, ``sortable`` the
    valid sort keys (default: the same set), ``max_limit`` Neutron's
    ``pagination_max_limit`` (-1: unlimited).  Checks run in Neutron's order: filters,
    then sorting, then the limit, so the first 400 is the one Neutron would give.
    """
    grouped = _group(params)
    attrs = _with_project_alias(attributes)
    sort_attrs = attrs if sortable is None else _with_project_alias(sortable)
    filters, fixed_ips, tags = _parse_filters(grouped, attrs)
    sorts = _parse_sorts(grouped, sort_attrs)
    limit = _parse_limit(_last(grouped, "limit"), max_limit)
    marker = _last(grouped, "marker") if limit else None
    return ListQuery(
        filters=filters,
        fixed_ips=fixed_ips,
        fields=tuple(v for v in grouped.get("fields", ()) if v),
        sorts=sorts,
        limit=limit,
        marker=marker or None,
        page_reverse=(_last(grouped, "page_reverse") or "False").lower() == "true",
        **tags,
    )


def _group(params: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Multidict -> dict of lists, keeping first-seen key order and value order."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    return grouped


def _last(grouped: dict[str, list[str]], key: str) -> str | None:
    # webob's MultiDict.get returns the last value of a repeated key.
    values = grouped.get(key)
    return values[-1] if values else None


def _with_project_alias(names: frozenset[str]) -> frozenset[str]:
    # neutron_lib populate_project_info: tenant_id and project_id stand for each other.
    if "project_id" in names or "tenant_id" in names:
        return names | {"project_id", "tenant_id"}
    return names


def _parse_filters(grouped: dict[str, list[str]], attrs: frozenset[str]):
    filters: list[tuple[str, tuple[str, ...]]] = []
    fixed_ips: tuple[tuple[str, tuple[str, ...]], ...] = ()
    tags: dict[str, tuple[str, ...]] = {}
    invalid = []
    for key, values in grouped.items():
        if key in RESERVED_PARAMS:
            continue
        allowed = key in attrs or (key in TAG_FILTERS and "tags" in attrs)
        if not allowed:
            invalid.append(key)
        elif key in TAG_FILTERS:
            tags[key.replace("-", "_")] = _tag_set(values)
        elif key == "fixed_ips":
            fixed_ips = _parse_fixed_ips(values)
        else:
            filters.append((key, tuple(values)))
    if invalid:
        raise BadRequest(f"{invalid} is invalid attribute for filtering")
    return tuple(filters), fixed_ips, tags


def _tag_set(values: Sequence[str]) -> tuple[str, ...]:
    # "tags=a,b&tags=c" is one set {a, b, c}; dict keeps it ordered for stable SQL.
    return tuple(dict.fromkeys(tag for value in values for tag in value.split(",")))


def _parse_fixed_ips(values: Sequence[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """neutron_lib converters.convert_kvp_list_to_dict, as Neutron applies it."""
    if list(values) == ["True"]:  # a bare flag from old CLIs: no filter at all
        return ()
    parsed: dict[str, dict[str, None]] = {}
    for item in values:
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise InvalidInput(f"'{item}' is not of the form <key>=[value].")
        parsed.setdefault(key, {})[value] = None
    return tuple((key, tuple(vals)) for key, vals in parsed.items())


def _parse_sorts(grouped: dict[str, list[str]], sortable: frozenset[str]):
    """api_common.get_sorts: same count, known keys, asc/desc only (in that order)."""
    keys = [v for v in grouped.get("sort_key", ()) if v]
    dirs = [v for v in grouped.get("sort_dir", ()) if v]
    if len(keys) != len(dirs):
        raise BadRequest("The number of sort_keys and sort_dirs must be same")
    absent = [k for k in keys if k not in sortable]
    if absent:
        raise BadRequest(f"{absent} is invalid attribute for sort_keys")
    bad_dirs = [d for d in dirs if d not in ("asc", "desc")]
    if bad_dirs:
        raise BadRequest(f"{bad_dirs} is invalid value for sort_dirs, valid value is 'asc' and 'desc'")
    return tuple((k, d == "asc") for k, d in zip(keys, dirs))


def _parse_limit(raw: str | None, max_limit: int) -> int | None:
    """api_common.get_limit_and_marker; 0 (or no limit) means no pagination."""
    try:
        limit = int(raw if raw is not None else 0)
    except ValueError:
        limit = -1
    if limit < 0:
        raise BadRequest(
            f"Bad limit request: Limit must be an integer 0 or greater and not '{raw}'.",
            type="BadRequest",
        )
    if max_limit > 0:
        limit = min(max_limit, limit) or max_limit
    return limit or None


# --------------------------------------------------------------------------- SQL


def to_sql(
    q: ListQuery,
    *,
    table: str,
    scope_project: str | None,
    extra_where: Sequence[tuple[str, Sequence]] = (),
) -> tuple[str, list]:
    """Compile ``q`` to ``SELECT id, body FROM table ...`` plus its bound parameters.

    ``scope_project`` None means admin (no project condition); ``extra_where`` are
    caller-supplied AND-ed conditions (e.g. "or shared") that, like the project scope,
    also decide whether the marker is visible.  Rows come back in final page order.
    Only attribute names validated by ``parse_list_query`` reach the SQL text; every
    user value is a bound parameter.
    """
    scope = _scope_clauses(scope_project, extra_where)
    where = scope + _filter_clauses(q)
    order = _effective_order(q)
    exprs = [_attr_sql(key) for key, _ in order]
    head, source = "", _ident(table)
    if q.marker:
        head, marker_params = _marker_cte(table, q.marker, exprs, scope)
        source += ", _marker"
        where.append((_keyset(exprs, [asc for _, asc in order]), []))
    else:
        marker_params = []
    restore = bool(q.limit and q.page_reverse)
    cols = "id, body" + "".join(f", {e} AS _s{i}" for i, e in enumerate(exprs) if restore)
    sql = f"SELECT {cols} FROM {source}" + _where_sql(where)
    sql += " ORDER BY " + _order_sql(exprs, [asc for _, asc in order])
    params = marker_params + [p for _, ps in where for p in ps]
    if q.limit:
        sql += " LIMIT ?"
        params.append(q.limit)
    if restore:
        sql = _restore_order(sql, q.order())
    return head + sql, params


def marker_sql(
    q: ListQuery,
    *,
    table: str,
    scope_project: str | None,
    extra_where: Sequence[tuple[str, Sequence]] = (),
) -> tuple[str, list] | None:
    """A query answering whether the marker is visible to the caller (None: no marker).

    Neutron looks the marker up with the caller's context (not the filters) and
    answers 404 (NetworkNotFound, PortNotFound) when it isn't there.
    """
    if not q.marker:
        return None
    scope = _scope_clauses(scope_project, extra_where)
    where = [("id = ?", [q.marker])] + scope
    return f"SELECT 1 FROM {_ident(table)}" + _where_sql(where), [p for _, ps in where for p in ps]


def _effective_order(q: ListQuery) -> list[tuple[str, bool]]:
    # neutron_lib get_sort_dirs: page_reverse flips every direction (tiebreak included).
    return [(key, asc != q.page_reverse) for key, asc in q.order()]


def _scope_clauses(scope_project, extra_where) -> list[tuple[str, list]]:
    clauses = [("project_id = ?", [scope_project])] if scope_project is not None else []
    return clauses + [(f"({sql})", list(params)) for sql, params in extra_where]


def _where_sql(where: list[tuple[str, list]]) -> str:
    return " WHERE " + " AND ".join(sql for sql, _ in where) if where else ""


def _order_sql(exprs: list[str], ascending: list[bool]) -> str:
    return ", ".join(f"{e} {'ASC' if asc else 'DESC'}" for e, asc in zip(exprs, ascending))


def _restore_order(sql: str, order) -> str:
    """Wrap a reversed, limited page (selecting ``_s<i>`` sort columns) into normal order.

    Neutron fetches a page_reverse page in flipped order and then reverses the list
    (only when there is a limit; without one the flipped order is returned as is).
    """
    outer = _order_sql([f"_s{i}" for i in range(len(order))], [asc for _, asc in order])
    return f"SELECT id, body FROM ({sql}) ORDER BY {outer}"


def _marker_cte(table: str, marker: str, exprs: list[str], scope) -> tuple[str, list]:
    # The marker row's sort values, read once.  Joined into the main query, so a
    # missing (or invisible) marker yields no rows rather than a wrong page.
    cols = ", ".join(f"{e} AS _mk{i}" for i, e in enumerate(exprs))
    where = [("id = ?", [marker])] + scope
    head = f"WITH _marker AS (SELECT {cols} FROM {_ident(table)}{_where_sql(where)}) "
    return head, [p for _, ps in where for p in ps]


def _keyset(exprs: list[str], ascending: list[bool]) -> str:
    """Rows strictly after the marker in (k1, k2, ...) order, NULL-aware.

    SQLite sorts NULL first ascending and last descending (as MySQL does), so the
    comparisons treat NULL as the smallest value; ``IS`` is NULL-safe equality.
    """
    ors = []
    for i, (expr, asc) in enumerate(zip(exprs, ascending)):
        terms = [f"{exprs[j]} IS _marker._mk{j}" for j in range(i)]
        terms.append(_after(expr, f"_marker._mk{i}", asc))
        ors.append("(" + " AND ".join(terms) + ")")
    return "(" + " OR ".join(ors) + ")"


def _after(expr: str, mark: str, asc: bool) -> str:
    if asc:  # greater than; everything non-NULL is greater than a NULL marker
        return f"({expr} > {mark} OR ({mark} IS NULL AND {expr} IS NOT NULL))"
    return f"({expr} < {mark} OR ({expr} IS NULL AND {mark} IS NOT NULL))"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_path(attr: str) -> str:
    """SQL literal for ``$."attr"`` (names like ``binding:host_id`` need the quotes)."""
    if '"' in attr:  # SQLite JSON paths have no escape for '"' inside a quoted label
        raise ValueError(f"attribute name {attr!r} cannot be addressed in a JSON path")
    return "'" + f'$."{attr}"'.replace("'", "''") + "'"


def _attr_sql(attr: str) -> str:
    """SQL reading one attribute: the primary key column, else the JSON body."""
    if attr == "id":
        return "id"
    if attr == "tenant_id":  # same column in Neutron; the body always has project_id
        attr = "project_id"
    return f"json_extract(body, {_json_path(attr)})"


# --------------------------------------------------------------------------- filters


def _filter_clauses(q: ListQuery) -> list[tuple[str, list]]:
    clauses = [_attr_filter(attr, values) for attr, values in q.filters]
    clauses += _fixed_ip_clauses(dict(q.fixed_ips))
    clauses += _tag_clauses(q)
    return clauses


def _attr_filter(attr: str, values: tuple[str, ...]) -> tuple[str, list]:
    if attr == "id":
        return f"id IN ({_marks(values)})", list(values)
    if attr == "mac_address":  # Neutron sanitises and compares case-insensitively
        macs = [_sanitize_mac(v) for v in values]
        return f"lower({_attr_sql(attr)}) IN ({_marks(macs)})", macs
    path = _json_path("project_id" if attr == "tenant_id" else attr)
    scalar, p1 = _typed_match(f"json_extract(body, {path})", f"json_type(body, {path})", values)
    member, p2 = _typed_match("je.value", "je.type", values)
    sql = (
        f"({scalar} OR (json_type(body, {path}) = 'array' AND "
        f"EXISTS (SELECT 1 FROM json_each(body, {path}) AS je WHERE {member})))"
    )
    return sql, p1 + p2


def _typed_match(val: str, typ: str, values: Sequence[str]) -> tuple[str, list]:
    """Match a JSON value against URL strings, converting each as Neutron would.

    The read model has no per-attribute converter table, so the JSON type decides:
    a string compares as text, an integer against int(value), a boolean against
    oslo's strict true/false spellings, a real against float(value).
    """
    groups = [("'text'", list(values))]
    groups.append(("'integer'", [i for i in map(_as_int, values) if i is not None]))
    groups.append(("'true', 'false'", [b for b in map(_as_bool, values) if b is not None]))
    groups.append(("'real'", [f for f in map(_as_float, values) if f is not None]))
    parts, params = [], []
    for types, vals in groups:
        if vals:
            parts.append(f"({typ} IN ({types}) AND {val} IN ({_marks(vals)}))")
            params += vals
    return "(" + " OR ".join(parts) + ")", params


def _as_int(value: str) -> int | None:
    try:
        number = int(value)
    except ValueError:
        return None
    # Beyond SQLite's 64-bit integers nothing can match (and binding would overflow).
    return number if -(2**63) <= number < 2**63 else None


def _as_float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _as_bool(value: str) -> int | None:
    # JSON1 reads true/false as 1/0, so bind the same.
    low = value.strip().lower()
    return 1 if low in _TRUE else 0 if low in _FALSE else None


def _sanitize_mac(value: str) -> str:
    """convert_to_sanitized_mac_address, for the usual spellings (else lower-cased)."""
    hexdigits = re.sub(r"[-:.]", "", value.strip().lower())
    if _MAC_HEX.match(hexdigits):
        return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))
    return value.strip().lower()


def _fixed_ip_clauses(fixed_ips: dict[str, tuple[str, ...]]) -> list[tuple[str, list]]:
    """_get_ports_query: one independent "any fixed IP" condition per sub-key."""
    path = _json_path("fixed_ips")
    clauses = []
    for key in ("ip_address", "subnet_id"):
        if fixed_ips.get(key):
            vals = list(fixed_ips[key])
            cond = f"json_extract(fi.value, '$.{key}') IN ({_marks(vals)})"
            clauses.append((f"EXISTS (SELECT 1 FROM json_each(body, {path}) AS fi WHERE {cond})", vals))
    if fixed_ips.get("ip_address_substr"):  # ML2: OR of substring matches
        vals = ["%" + _like_escape(v) + "%" for v in fixed_ips["ip_address_substr"]]
        cond = " OR ".join("json_extract(fi.value, '$.ip_address') LIKE ? ESCAPE '\\'" for _ in vals)
        clauses.append((f"EXISTS (SELECT 1 FROM json_each(body, {path}) AS fi WHERE {cond})", vals))
    return clauses


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _tag_clauses(q: ListQuery) -> list[tuple[str, list]]:
    """neutron/objects/tag.py _apply_tag_filters: AND, OR, NOT AND, NOT OR."""
    clauses = []
    if q.tags:
        clauses.append(("(" + " AND ".join(_has_tags(1) for _ in q.tags) + ")", list(q.tags)))
    if q.tags_any:
        clauses.append((_has_tags(len(q.tags_any)), list(q.tags_any)))
    if q.not_tags:
        clauses.append(("NOT (" + " AND ".join(_has_tags(1) for _ in q.not_tags) + ")", list(q.not_tags)))
    if q.not_tags_any:
        clauses.append(("NOT " + _has_tags(len(q.not_tags_any)), list(q.not_tags_any)))
    return clauses


def _has_tags(n: int) -> str:
    """True when the resource has at least one of ``n`` bound tags."""
    return f"EXISTS (SELECT 1 FROM json_each(body, {_json_path('tags')}) WHERE value IN ({_marks(range(n))}))"


def _marks(values: Iterable) -> str:
    return ", ".join("?" for _ in values)


# --------------------------------------------------------------------------- results


def project_fields(body: dict, fields: Sequence[str]) -> dict:
    """Keep only the requested attributes (all of them when ``fields`` is empty).

    Unknown names are silently absent and body order is kept, like Neutron's
    resource_fields; ``id`` is not forced in.
    """
    if not fields:
        return body
    wanted = set(fields)
    return {k: v for k, v in body.items() if k in wanted}


def decode_rows(rows: Iterable[Sequence]) -> list[dict]:
    """``(id, body_json)`` rows from ``to_sql`` -> resource dicts."""
    return [msgspec.json.decode(row[1]) for row in rows]


def page_result(
    rows: Sequence[dict],
    q: ListQuery,
    *,
    collection: str,
    url_base: str,
    path: str,
    params: Sequence[tuple[str, str]],
) -> dict:
    """The response body: ``{collection: [...]}`` plus ``<collection>_links`` when paging.

    ``rows`` are resource dicts in the order ``to_sql`` returned them; links are
    computed on the full bodies (they need ``id``) before ``fields`` is applied.
    """
    items = list(rows[: q.limit] if q.limit else rows)
    result: dict = {collection: [project_fields(b, q.fields) for b in items]}
    links = pagination_links(items, q, url=url_base.rstrip("/") + path, params=params)
    if links:
        result[collection + "_links"] = links
    return result


def pagination_links(items: Sequence[dict], q: ListQuery, *, url: str, params: Sequence[tuple[str, str]]) -> list[dict]:
    """api_common.get_pagination_links: no look-ahead, decided by the page's length."""
    if not q.limit:
        return []
    short = len(items) < q.limit
    links = []
    if not (short and not q.page_reverse):
        links.append({"rel": "next", "href": _link(url, params, items[-1]["id"] if items else None, False)})
    if not (short and q.page_reverse):
        links.append({"rel": "previous", "href": _link(url, params, items[0]["id"] if items else None, True)})
    return links


def _link(url: str, params: Sequence[tuple[str, str]], marker: str | None, reverse: bool) -> str:
    # Same params in the same order, marker (then page_reverse=True) moved to the end.
    kept = [(k, v) for k, v in params if k != "marker" and k != "page_reverse"]
    if marker is not None:
        kept.append(("marker", marker))
    if reverse:
        kept.append(("page_reverse", "True"))
    return f"{url}?{urllib.parse.urlencode(kept)}"


def execute_list(
    conn,
    q: ListQuery,
    *,
    table: str,
    kind: str,
    scope_project: str | None,
    extra_where: Sequence[tuple[str, Sequence]] = (),
) -> list[dict]:
    """Run the list on a DB-API connection: 404 for an unseen marker, else the bodies."""
    check = marker_sql(q, table=table, scope_project=scope_project, extra_where=extra_where)
    if check and conn.execute(*check).fetchone() is None:
        raise not_found(kind, q.marker)
    sql, params = to_sql(q, table=table, scope_project=scope_project, extra_where=extra_where)
    return decode_rows(conn.execute(sql, params).fetchall())
