"""SQLAlchemy repositories of earning: rule versions, canonical partner events, points totals.

The consumer writes a whole batch with one statement per table (multi-row INSERT … ON CONFLICT),
so the database work of a batch costs a handful of round trips whatever its size.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    RowMapping,
    Select,
    Table,
    TextClause,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert

from rewards_service.adapters.persistence.tables import (
    earning_rule_withdrawals,
    earning_rules,
    parked_reward_events,
    player_points_daily,
    player_points_monthly,
    reward_events,
)
from rewards_service.domain.earning import (
    EarningParameters,
    EarningRule,
    EarningSource,
    EarningType,
    ParkedEvent,
    PartnerEvent,
    PartnerEventType,
)
from rewards_service.domain.ledger import (
    AwardStatus,
    LedgerContext,
    PointsIncrement,
    RecordedEvent,
)
from rewards_service.domain.points import SourceTotal, WindowPlan
from rewards_service.domain.ports import (
    EarningRuleRepository,
    Lock,
    ParkedEventRepository,
    PlayerPointsRepository,
    RewardEventRepository,
)

#: the advisory lock between pricing events (shared) and adding a rule version (exclusive)
RULES_LOCK = zlib.crc32(b"rewards:earning-rules")
#: the first key of the (two-key) advisory locks on players whose events are being priced
PLAYER_EVENTS_LOCK_SPACE = zlib.crc32(b"rewards:player-events") & 0x7FFFFFFF
# Taken in the order of their keys, so two transactions locking overlapping sets of players
# cannot deadlock (players whose ids share a hash share a lock, harmlessly).
_LOCK_PLAYERS = text(
    "SELECT count(pg_advisory_xact_lock(:space, k)) FROM"
    " (SELECT DISTINCT hashtext(p) AS k FROM unnest(CAST(:players AS text[])) AS p ORDER BY k)"
    " AS ordered"
)


def _parameters(document: dict[str, Any]) -> EarningParameters:
    return EarningParameters(
        points_per_event=int(document.get("pointsPerEvent", 0)),
        points_per_night=int(document.get("pointsPerNight", 0)),
        points_per_unit=int(document.get("pointsPerUnit", 0)),
        unit_amount=Decimal(str(document.get("unitAmount", "10.00"))),
    )


def parameters_document(parameters: EarningParameters) -> dict[str, Any]:
    return {
        "pointsPerEvent": parameters.points_per_event,
        "pointsPerNight": parameters.points_per_night,
        "pointsPerUnit": parameters.points_per_unit,
        "unitAmount": f"{parameters.unit_amount:.2f}",
    }


_REVISION = select(
    func.greatest(
        select(func.max(earning_rules.c.id)).scalar_subquery(),
        select(func.max(earning_rule_withdrawals.c.id)).scalar_subquery(),
    )
)
_WITHDRAWN = earning_rule_withdrawals
_LIST_RULES = (
    select(earning_rules, _WITHDRAWN.c.withdrawn_at, _WITHDRAWN.c.withdrawn_by)
    .outerjoin(
        _WITHDRAWN,
        (_WITHDRAWN.c.earning_type == earning_rules.c.earning_type)
        & (_WITHDRAWN.c.version == earning_rules.c.version),
    )
    .order_by(earning_rules.c.earning_type, earning_rules.c.version)
)


class SqlAlchemyEarningRuleRepository(EarningRuleRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def revision(self, lock: Lock = Lock.NONE) -> int:
        if lock is Lock.SHARE:
            self._connection.execute(
                text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": RULES_LOCK}
            )
        elif lock is Lock.UPDATE:
            self._connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": RULES_LOCK}
            )
        # A statement of its own, after the lock: its snapshot sees what committed before.
        # Versions and withdrawals draw their ids from one sequence: the highest is the latest.
        found = self._connection.execute(_REVISION).scalar_one()
        return int(found or 0)

    def list(self) -> list[EarningRule]:
        rows = self._connection.execute(_LIST_RULES).mappings()
        return [
            EarningRule(
                earning_type=EarningType(row["earning_type"]),
                version=row["version"],
                effective_from=row["effective_from"],
                parameters=_parameters(row["parameters"]),
                created_at=row["created_at"],
                created_by=row["created_by"],
                withdrawn_at=row["withdrawn_at"],
                withdrawn_by=row["withdrawn_by"],
            )
            for row in rows
        ]

    def withdraw(self, rule: EarningRule) -> None:
        self._connection.execute(
            insert(earning_rule_withdrawals).values(
                earning_type=rule.earning_type.value,
                version=rule.version,
                withdrawn_at=rule.withdrawn_at,
                withdrawn_by=rule.withdrawn_by,
            )
        )

    def add(self, rule: EarningRule) -> None:
        self._connection.execute(
            insert(earning_rules).values(
                earning_type=rule.earning_type.value,
                version=rule.version,
                effective_from=rule.effective_from,
                parameters=parameters_document(rule.parameters),
                created_by=rule.created_by,
                created_at=rule.created_at,
            )
        )


def _recorded(row: RowMapping) -> RecordedEvent:
    payload = row["payload"] or {}
    original = row["original_event_id"]
    event = PartnerEvent(
        event_id=str(row["event_id"]),
        event_type=PartnerEventType(row["event_type"]),
        player_id=str(row["player_id"]),
        occurred_at=row["occurred_at"],
        partner_id=row["partner_id"],
        reference=row["reference"],
        original_event_id=str(original) if original else None,
        correlation_id=payload.get("correlationId"),
        payload=payload,
    )
    return RecordedEvent(
        event=event,
        status=AwardStatus(row["status"]),
        points=row["points_awarded"],
        rule_version=row["rule_version"],
    )


# One statement, one parameter and one round trip for a whole batch: the rows travel as one JSON
# array (PostgreSQL reads it in C; no per-value quoting or binding on our side).
_INSERT_EVENTS = text(
    """
    INSERT INTO reward_events (
        event_id, player_id, event_type, source, occurred_at, partner_id, reference,
        original_event_id, status, points_awarded, rule_version, payload, recorded_at, awarded_at
    )
    SELECT e.event_id, e.player_id, e.event_type, e.source, e.occurred_at, e.partner_id,
           e.reference, e.original_event_id, e.status, e.points_awarded, e.rule_version,
           e.payload, CAST(:now AS timestamptz),
           CASE WHEN e.status IN ('AWARDED', 'DUPLICATE') THEN CAST(:now AS timestamptz) END
    FROM json_to_recordset(CAST(:rows AS json)) AS e (
        event_id uuid, player_id uuid, event_type text, source text, occurred_at timestamptz,
        partner_id text, reference text, original_event_id uuid, status text,
        points_awarded integer, rule_version integer, payload json
    )
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
    """
)


def _uuids(values: Collection[str]) -> Any:
    return bindparam(None, list(values), type_=ARRAY(UUID(as_uuid=False)))


def _json(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


class SqlAlchemyRewardEventRepository(RewardEventRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def lock_players(self, player_ids: Collection[str]) -> None:
        if player_ids:
            self._connection.execute(
                _LOCK_PLAYERS, {"space": PLAYER_EVENTS_LOCK_SPACE, "players": list(player_ids)}
            )

    def recorded(self, event_ids: Collection[str]) -> dict[str, PartnerEvent]:
        if not event_ids:
            return {}
        rows = self._connection.execute(
            select(reward_events).where(reward_events.c.event_id == any_(_uuids(event_ids)))
        ).mappings()
        return {str(r["event_id"]): _recorded(r).event for r in rows}

    def rejected(self, event_ids: Collection[str]) -> set[str]:
        if not event_ids:
            return set()
        rows = self._connection.execute(
            select(reward_events.c.event_id).where(
                reward_events.c.event_id == any_(_uuids(event_ids)),
                reward_events.c.status == AwardStatus.REJECTED.value,
            )
        )
        return {str(row.event_id) for row in rows}

    def ledger_context(
        self, original_ids: Collection[str], earning_ids: Collection[str]
    ) -> LedgerContext:
        originals: dict[str, RecordedEvent] = {}
        if original_ids:
            rows = self._connection.execute(
                select(reward_events).where(reward_events.c.event_id == any_(_uuids(original_ids)))
            ).mappings()
            originals = {str(r["event_id"]): _recorded(r) for r in rows}
        wanted = set(original_ids) | set(earning_ids)
        reversed_originals: set[str] = set()
        pending: dict[str, list[RecordedEvent]] = {}
        if wanted:
            # Only reversals have an original: the partial index keeps this probe cheap.
            rows = self._connection.execute(
                select(reward_events)
                .where(
                    reward_events.c.original_event_id == any_(_uuids(wanted)),
                    reward_events.c.status.in_(
                        [AwardStatus.AWARDED.value, AwardStatus.PENDING.value]
                    ),
                )
                .order_by(reward_events.c.recorded_at, reward_events.c.event_id)
            ).mappings()
            for row in rows:
                original = str(row["original_event_id"])
                if row["status"] == AwardStatus.AWARDED.value:
                    reversed_originals.add(original)
                else:
                    pending.setdefault(original, []).append(_recorded(row))
        return LedgerContext(originals, reversed_originals, pending)

    def add_all(self, records: Sequence[RecordedEvent], now: datetime) -> set[str]:
        if not records:
            return set()
        rows = [
            {
                "event_id": r.event.event_id,
                "player_id": r.event.player_id,
                "event_type": r.event.event_type.value,
                "source": r.event.source.value,
                "occurred_at": r.event.occurred_at.isoformat(),
                "partner_id": r.event.partner_id,
                "reference": r.event.reference,
                "original_event_id": r.event.original_event_id,
                "status": r.status.value,
                "points_awarded": r.points,
                "rule_version": r.rule_version,
                "payload": r.event.payload,
            }
            for r in records
        ]
        inserted = self._connection.execute(_INSERT_EVENTS, {"rows": _json(rows), "now": now})
        return {str(r.event_id) for r in inserted}

    def settle(self, records: Sequence[RecordedEvent], now: datetime) -> int:
        settled = 0
        for record in records:
            settled += self._connection.execute(
                update(reward_events)
                .where(
                    reward_events.c.event_id == record.event_id,
                    reward_events.c.status == AwardStatus.PENDING.value,
                )
                .values(
                    status=record.status.value,
                    points_awarded=record.points,
                    rule_version=record.rule_version,
                    awarded_at=now if record.status.is_confirmed else None,
                )
            ).rowcount
        return settled

    def confirmed_since(
        self, since: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[tuple[datetime, RecordedEvent]]:
        query = select(reward_events).where(
            reward_events.c.status.in_([s.value for s in AwardStatus if s.is_confirmed]),
            reward_events.c.awarded_at >= since,
        )
        if after is not None:
            query = query.where(
                tuple_(reward_events.c.awarded_at, reward_events.c.event_id)
                > tuple_(bindparam(None, after[0]), bindparam(None, after[1], type_=UUID()))
            )
        rows = self._connection.execute(
            query.order_by(reward_events.c.awarded_at, reward_events.c.event_id).limit(limit)
        ).mappings()
        return [(r["awarded_at"], _recorded(r)) for r in rows]

    def expire_pending_reversals(
        self, recorded_before: datetime, limit: int
    ) -> list[RecordedEvent]:
        waiting = self._connection.execute(
            select(reward_events.c.event_id, reward_events.c.player_id)
            .where(
                reward_events.c.status == AwardStatus.PENDING.value,
                reward_events.c.recorded_at < recorded_before,
            )
            .order_by(reward_events.c.recorded_at)
            .limit(limit)
        ).all()
        if not waiting:
            return []
        # As a pricing batch does: an original arriving now is priced before or after this.
        self.lock_players({str(r.player_id) for r in waiting})
        rows = self._connection.execute(
            update(reward_events)
            .where(
                reward_events.c.event_id == any_(_uuids([str(r.event_id) for r in waiting])),
                reward_events.c.status == AwardStatus.PENDING.value,
            )
            .values(status=AwardStatus.REJECTED.value)
            .returning(*reward_events.c)
        ).mappings()
        return [_recorded(r) for r in rows]


def _month(day: date) -> date:
    return day.replace(day=1)


class SqlAlchemyPlayerPointsRepository(PlayerPointsRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, increments: Sequence[PointsIncrement]) -> None:
        if not increments:
            return
        monthly: dict[tuple[str, date, str], list[int]] = {}
        for item in increments:
            key = (item.player_id, _month(item.day), item.source.value)
            entry = monthly.setdefault(key, [0, 0])
            entry[0] += item.points
            entry[1] += item.events
        self._upsert(
            player_points_daily,
            "day",
            [(i.player_id, i.day, i.source.value, i.points, i.events) for i in increments],
        )
        self._upsert(
            player_points_monthly,
            "month",
            [(p, m, s, pts, n) for (p, m, s), (pts, n) in sorted(monthly.items())],
        )

    def _upsert(
        self, table: Table, period: str, rows: list[tuple[str, date, str, int, int]]
    ) -> None:
        # Rows arrive sorted by key, so concurrent batches lock them in one order.
        self._connection.execute(
            text(
                f"""
                INSERT INTO {table.name} (player_id, {period}, source, points, events)
                SELECT * FROM json_to_recordset(CAST(:rows AS json))
                    AS r (player_id uuid, period date, source text, points bigint, events integer)
                ON CONFLICT (player_id, {period}, source) DO UPDATE
                SET points = {table.name}.points + excluded.points,
                    events = {table.name}.events + excluded.events
                """  # noqa: S608 - table and column names are ours, values are parameters
            ),
            {
                "rows": _json(
                    [
                        {
                            "player_id": p,
                            "period": d.isoformat(),
                            "source": s,
                            "points": n,
                            "events": e,
                        }
                        for p, d, s, n, e in rows
                    ]
                )
            },
        )

    def totals(self, player_id: str, plan: WindowPlan) -> dict[EarningSource, SourceTotal]:
        parts: list[Select[Any]] = []
        if plan.months is not None:
            conditions = [player_points_monthly.c.player_id == player_id]
            if plan.months.start is not None:
                conditions.append(player_points_monthly.c.month >= plan.months.start)
            if plan.months.end is not None:
                conditions.append(player_points_monthly.c.month < plan.months.end)
            parts.append(
                select(
                    player_points_monthly.c.source,
                    player_points_monthly.c.points,
                    player_points_monthly.c.events,
                ).where(*conditions)
            )
        if plan.days:
            spans = []
            for span in plan.days:
                bounds = []
                if span.start is not None:
                    bounds.append(player_points_daily.c.day >= span.start)
                if span.end is not None:
                    bounds.append(player_points_daily.c.day < span.end)
                spans.append(and_(*bounds))
            parts.append(
                select(
                    player_points_daily.c.source,
                    player_points_daily.c.points,
                    player_points_daily.c.events,
                ).where(player_points_daily.c.player_id == player_id, or_(*spans))
            )
        if plan.moments:
            spans = []
            for moment in plan.moments:
                bounds = []
                if moment.start is not None:
                    bounds.append(reward_events.c.occurred_at >= moment.start)
                if moment.end is not None:
                    bounds.append(reward_events.c.occurred_at < moment.end)
                spans.append(and_(*bounds))
            parts.append(
                select(
                    reward_events.c.source,
                    cast(reward_events.c.points_awarded, Integer).label("points"),
                    literal(1).label("events"),
                ).where(
                    reward_events.c.player_id == player_id,
                    reward_events.c.status == AwardStatus.AWARDED.value,
                    or_(*spans),
                )
            )
        if not parts:
            return {}
        combined = union_all(*parts).subquery()
        rows = self._connection.execute(
            select(
                combined.c.source,
                func.sum(combined.c.points).label("points"),
                func.sum(combined.c.events).label("events"),
            ).group_by(combined.c.source)
        )
        return {
            EarningSource(r.source): SourceTotal(points=int(r.points), events=int(r.events))
            for r in rows
        }


_REGISTERED = "EXISTS (SELECT 1 FROM players pl WHERE pl.id = p.player_id)"


def _take_parked(condition: str) -> TextClause:
    """Parked events matching ``condition`` taken out and returned in one statement, oldest
    first, at most ``:limit``; rows another sweep holds are skipped."""
    return text(
        f"""
        WITH due AS (
            SELECT p.event_id FROM parked_reward_events p
            WHERE {condition}
            ORDER BY p.seq
            LIMIT :limit
            FOR UPDATE OF p SKIP LOCKED
        )
        DELETE FROM parked_reward_events p USING due WHERE p.event_id = due.event_id
        RETURNING p.event_id, p.player_id, p.event_type, p.payload, p.parked_at, p.seq
        """  # noqa: S608 - the conditions are the constants below
    )


_RELEASE_PARKED = _take_parked(_REGISTERED)
_EXPIRE_PARKED = _take_parked(f"p.parked_at < :before AND NOT {_REGISTERED}")


def _parked(rows: Sequence[RowMapping]) -> list[ParkedEvent]:
    return [
        ParkedEvent(
            event_id=str(row["event_id"]),
            player_id=str(row["player_id"]),
            event_type=row["event_type"],
            payload=row["payload"],
            parked_at=row["parked_at"],
        )
        for row in sorted(rows, key=lambda r: r["seq"])
    ]


class SqlAlchemyParkedEventRepository(ParkedEventRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def park(self, events: Sequence[PartnerEvent], now: datetime) -> None:
        if not events:
            return
        self._connection.execute(
            insert(parked_reward_events)
            .values(
                [
                    {
                        "event_id": e.event_id,
                        "player_id": e.player_id,
                        "event_type": e.event_type.value,
                        "payload": e.payload,
                        "parked_at": now,
                    }
                    for e in events
                ]
            )
            .on_conflict_do_nothing(index_elements=[parked_reward_events.c.event_id])
        )

    def payloads(self, event_ids: Collection[str]) -> dict[str, Mapping[str, Any]]:
        if not event_ids:
            return {}
        rows = self._connection.execute(
            select(parked_reward_events.c.event_id, parked_reward_events.c.payload).where(
                parked_reward_events.c.event_id == any_(_uuids(event_ids))
            )
        )
        return {str(event_id): payload for event_id, payload in rows}

    def release(self, limit: int) -> list[ParkedEvent]:
        rows = self._connection.execute(_RELEASE_PARKED, {"limit": limit}).mappings().all()
        return _parked(rows)

    def expire(self, parked_before: datetime, limit: int) -> list[ParkedEvent]:
        rows = self._connection.execute(
            _EXPIRE_PARKED, {"before": parked_before, "limit": limit}
        ).mappings()
        return _parked(rows.all())

    def count(self) -> int:
        found = self._connection.execute(
            select(func.count()).select_from(parked_reward_events)
        ).scalar_one()
        return int(found)
