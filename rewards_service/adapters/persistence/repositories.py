"""SQLAlchemy repositories of promotions, players and player promotions (rows ↔ domain objects)."""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    and_,
    any_,
    bindparam,
    delete,
    func,
    not_,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.exc import IntegrityError

from rewards_service.adapters.persistence.tables import (
    pending_wallet_credits,
    player_promotions,
    promotions,
)
from rewards_service.adapters.persistence.tables import players as players_table
from rewards_service.domain.exceptions import InvalidPromotion, OverlappingPromotion
from rewards_service.domain.model import (
    MONEY_QUANTUM,
    AssignedPromotion,
    AssignmentSource,
    Player,
    PlayerPromotion,
    PlayerPromotionStatus,
    Promotion,
    PromotionType,
)
from rewards_service.domain.ports import (
    Lock,
    PendingCredit,
    PendingCreditRepository,
    PlayerPromotionFilter,
    PlayerPromotionRepository,
    PlayerRepository,
    PromotionFilter,
    PromotionRepository,
)
from shared.domain.pagination import Page, PageRequest

EXCLUSION_VIOLATION = "23P01"
CHECK_VIOLATION = "23514"


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _locked(query: Select[Any], lock: Lock) -> Select[Any]:
    if lock is Lock.UPDATE:
        return query.with_for_update()
    if lock is Lock.UPDATE_SKIP_LOCKED:
        return query.with_for_update(skip_locked=True)
    if lock is Lock.SHARE:
        return query.with_for_update(read=True)
    return query


@contextmanager
def _constraints(connection: Connection) -> Iterator[None]:
    """Translate the database's refusals into domain facts; a savepoint keeps the surrounding
    transaction usable afterwards."""
    try:
        with connection.begin_nested():
            yield
    except IntegrityError as exc:
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate == EXCLUSION_VIOLATION:
            raise OverlappingPromotion() from exc
        if sqlstate == CHECK_VIOLATION:
            raise InvalidPromotion() from exc
        raise


def _promotion(row: RowMapping, prefix: str = "") -> Promotion:
    return Promotion(
        id=str(row[f"{prefix}id"]),
        title=row[f"{prefix}title"],
        description=row[f"{prefix}description"],
        type=PromotionType(row[f"{prefix}type"]),
        amount=Decimal(row[f"{prefix}amount"]).quantize(MONEY_QUANTUM),
        is_active=row[f"{prefix}is_active"],
        start_date=row[f"{prefix}start_date"],
        end_date=row[f"{prefix}end_date"],
        max_claims=row[f"{prefix}max_claims"],
        max_claims_per_player=row[f"{prefix}max_claims_per_player"],
        claims_count=row[f"{prefix}claims_count"],
        created_at=row[f"{prefix}created_at"],
        updated_at=row[f"{prefix}updated_at"],
        created_by=row[f"{prefix}created_by"],
    )


def _promotion_values(promotion: Promotion) -> dict[str, Any]:
    return {
        "title": promotion.title,
        "description": promotion.description,
        "type": promotion.type.value,
        "amount": promotion.amount,
        "is_active": promotion.is_active,
        "start_date": promotion.start_date,
        "end_date": promotion.end_date,
        "max_claims": promotion.max_claims,
        "max_claims_per_player": promotion.max_claims_per_player,
        "claims_count": promotion.claims_count,
        "updated_at": promotion.updated_at,
    }


#: The SQL twin of ``not Promotion.claims_used_up``.
_CLAIMS_LEFT = or_(
    promotions.c.max_claims.is_(None), promotions.c.claims_count < promotions.c.max_claims
)

# The statements of a claim are built once with bind parameters: building and hashing a
# statement per call costs more CPU than running it.
_GET_PROMOTION = {
    lock: _locked(select(promotions).where(promotions.c.id == bindparam("id")), lock)
    for lock in Lock
}
#: the first key of the (two-key) advisory locks between claims of a promotion (shared) and
#: staff changing it (exclusive)
PROMOTION_CHANGES_LOCK_SPACE = zlib.crc32(b"rewards:promotion-changes") & 0x7FFFFFFF
_HOLD_PROMOTION = {
    exclusive: text(
        f"SELECT {'pg_advisory_xact_lock' if exclusive else 'pg_advisory_xact_lock_shared'}"
        "(:space, hashtext(:promotion))"
    )
    for exclusive in (True, False)
}
_COUNT_CLAIM = {
    within_limit: update(promotions)
    .where(promotions.c.id == bindparam("promotion"), *([_CLAIMS_LEFT] if within_limit else []))
    .values(claims_count=promotions.c.claims_count + 1)
    .returning(promotions.c.id)
    for within_limit in (True, False)
}
_GET_ASSIGNMENT = {
    lock: _locked(
        select(player_promotions).where(
            player_promotions.c.player_id == bindparam("player"),
            player_promotions.c.promotion_id == bindparam("promotion"),
        ),
        lock,
    )
    for lock in Lock
}
_UPDATE_ASSIGNMENT = (
    update(player_promotions)
    .where(player_promotions.c.id == bindparam("assignment"))
    .values(
        status=bindparam("status"),
        claim_count=bindparam("claim_count"),
        last_claimed_at=bindparam("last_claimed_at"),
    )
)


class SqlAlchemyPromotionRepository(PromotionRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, promotion: Promotion) -> None:
        with _constraints(self._connection):
            self._connection.execute(
                insert(promotions).values(
                    id=promotion.id,
                    created_at=promotion.created_at,
                    created_by=promotion.created_by,
                    **_promotion_values(promotion),
                )
            )

    def get(self, promotion_id: str, lock: Lock = Lock.NONE) -> Promotion | None:
        row = self._connection.execute(_GET_PROMOTION[lock], {"id": promotion_id}).mappings()
        found = row.first()
        return _promotion(found) if found else None

    def hold(self, promotion_id: str, exclusive: bool = False) -> None:
        # An advisory lock, not a row lock: row locks are not granted in order (new KEY SHARE
        # lockers overtake a waiting FOR UPDATE), so a stream of claims starved a deactivation.
        self._connection.execute(
            _HOLD_PROMOTION[exclusive],
            {"space": PROMOTION_CHANGES_LOCK_SPACE, "promotion": promotion_id},
        )

    def count_claim(self, promotion_id: str, within_limit: bool = True) -> bool:
        counted = self._connection.execute(
            _COUNT_CLAIM[within_limit], {"promotion": promotion_id}
        ).first()
        return counted is not None

    def update(self, promotion: Promotion) -> None:
        with _constraints(self._connection):
            self._connection.execute(
                update(promotions)
                .where(promotions.c.id == promotion.id)
                .values(**_promotion_values(promotion))
            )

    def list(self, filters: PromotionFilter, page: PageRequest) -> Page[Promotion]:
        conditions: list[ColumnElement[bool]] = []
        if filters.type is not None:
            conditions.append(promotions.c.type == filters.type.value)
        if filters.active is not None:
            conditions.append(promotions.c.is_active.is_(filters.active))
        if filters.window_from is not None:
            conditions.append(promotions.c.end_date > filters.window_from)
        if filters.window_to is not None:
            conditions.append(promotions.c.start_date < filters.window_to)
        if filters.text:
            pattern = f"%{_escape_like(filters.text)}%"
            conditions.append(
                or_(
                    promotions.c.title.ilike(pattern, escape="\\"),
                    promotions.c.description.ilike(pattern, escape="\\"),
                )
            )
        total = self._connection.execute(
            select(func.count()).select_from(promotions).where(*conditions)
        ).scalar_one()
        rows = (
            self._connection.execute(
                select(promotions)
                .where(*conditions)
                .order_by(promotions.c.start_date.desc(), promotions.c.id)
                .limit(page.page_size)
                .offset(page.offset)
            )
            .mappings()
            .all()
        )
        return Page(items=[_promotion(r) for r in rows], total=total, request=page)

    def running(
        self, promotion_type: PromotionType, now: datetime, lock: Lock = Lock.NONE
    ) -> Promotion | None:
        query = (
            select(promotions)
            .where(
                promotions.c.type == promotion_type.value,
                promotions.c.is_active.is_(True),
                promotions.c.start_date <= now,
                promotions.c.end_date > now,
            )
            .order_by(promotions.c.start_date.desc())
            .limit(1)
        )
        row = self._connection.execute(_locked(query, lock)).mappings().first()
        return _promotion(row) if row else None


class SqlAlchemyPlayerRepository(PlayerRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_new(self, players: Sequence[Player]) -> set[str]:
        if not players:
            return set()
        rows = self._connection.execute(
            insert(players_table)
            .values([{"id": p.id, "registered_at": p.registered_at} for p in players])
            .on_conflict_do_nothing(index_elements=[players_table.c.id])
            .returning(players_table.c.id)
        ).all()
        return {str(r.id) for r in rows}

    def known(self, player_ids: Collection[str]) -> set[str]:
        if not player_ids:
            return set()
        # One array parameter, however many ids (a consumer batch asks about hundreds).
        ids = bindparam(None, list(player_ids), type_=ARRAY(UUID(as_uuid=False)))
        rows = self._connection.execute(
            select(players_table.c.id).where(players_table.c.id == any_(ids))
        ).all()
        return {str(r.id) for r in rows}


def _assignment(row: RowMapping) -> PlayerPromotion:
    return PlayerPromotion(
        id=str(row["id"]),
        player_id=str(row["player_id"]),
        promotion_id=str(row["promotion_id"]),
        source=AssignmentSource(row["source"]),
        status=PlayerPromotionStatus(row["status"]),
        claim_count=row["claim_count"],
        assigned_at=row["assigned_at"],
        assigned_by=row["assigned_by"],
        last_claimed_at=row["last_claimed_at"],
    )


_PROMOTION_PREFIX = "promotion__"


class SqlAlchemyPlayerPromotionRepository(PlayerPromotionRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_new(self, assignments: Sequence[PlayerPromotion]) -> list[PlayerPromotion]:
        assignments = self._not_held(assignments)
        if not assignments:
            return []
        rows = self._connection.execute(
            insert(player_promotions)
            .values(
                [
                    {
                        "id": a.id,
                        "player_id": a.player_id,
                        "promotion_id": a.promotion_id,
                        "source": a.source.value,
                        "status": a.status.value,
                        "claim_count": a.claim_count,
                        "assigned_at": a.assigned_at,
                        "assigned_by": a.assigned_by,
                        "last_claimed_at": a.last_claimed_at,
                    }
                    for a in assignments
                ]
            )
            .on_conflict_do_nothing(
                index_elements=[player_promotions.c.player_id, player_promotions.c.promotion_id]
            )
            .returning(player_promotions.c.id)
        ).all()
        inserted = {str(r.id) for r in rows}
        return [a for a in assignments if a.id in inserted]

    def _not_held(self, assignments: Sequence[PlayerPromotion]) -> list[PlayerPromotion]:
        """Those not held already, read without waiting: the insert would otherwise wait on an
        assignment a claim is changing, while holding the promotion's share lock the claim
        needs to count itself (a deadlock, after the wallet credited the claim)."""
        held = {
            (str(r.player_id), str(r.promotion_id))
            for r in self._connection.execute(
                select(player_promotions.c.player_id, player_promotions.c.promotion_id).where(
                    tuple_(player_promotions.c.player_id, player_promotions.c.promotion_id).in_(
                        [(a.player_id, a.promotion_id) for a in assignments]
                    )
                )
            )
        }
        return [a for a in assignments if (a.player_id, a.promotion_id) not in held]

    def exists(self, player_id: str, promotion_id: str) -> bool:
        row = self._connection.execute(
            select(player_promotions.c.id).where(
                player_promotions.c.player_id == player_id,
                player_promotions.c.promotion_id == promotion_id,
            )
        ).first()
        return row is not None

    def get_for_player(
        self, player_id: str, promotion_id: str, lock: Lock = Lock.NONE
    ) -> PlayerPromotion | None:
        rows = self._connection.execute(
            _GET_ASSIGNMENT[lock], {"player": player_id, "promotion": promotion_id}
        )
        row = rows.mappings().first()
        return _assignment(row) if row else None

    def update(self, assignment: PlayerPromotion) -> None:
        self._connection.execute(
            _UPDATE_ASSIGNMENT,
            {
                "assignment": assignment.id,
                "status": assignment.status.value,
                "claim_count": assignment.claim_count,
                "last_claimed_at": assignment.last_claimed_at,
            },
        )

    def list_for_player(
        self,
        player_id: str,
        filters: PlayerPromotionFilter,
        page: PageRequest,
        now: datetime,
    ) -> Page[AssignedPromotion]:
        joined = player_promotions.join(
            promotions, promotions.c.id == player_promotions.c.promotion_id
        )
        conditions: list[ColumnElement[bool]] = [player_promotions.c.player_id == player_id]
        if filters.type is not None:
            conditions.append(promotions.c.type == filters.type.value)
        if filters.status is not None:
            conditions.append(_status_condition(filters.status, now))
        total = self._connection.execute(
            select(func.count()).select_from(joined).where(*conditions)
        ).scalar_one()
        rows = (
            self._connection.execute(
                select(
                    *player_promotions.c,
                    *(c.label(_PROMOTION_PREFIX + c.name) for c in promotions.c),
                )
                .select_from(joined)
                .where(*conditions)
                .order_by(player_promotions.c.assigned_at.desc(), player_promotions.c.id)
                .limit(page.page_size)
                .offset(page.offset)
            )
            .mappings()
            .all()
        )
        items = [
            AssignedPromotion(assignment=_assignment(r), promotion=_promotion(r, _PROMOTION_PREFIX))
            for r in rows
        ]
        return Page(items=items, total=total, request=page)


def _status_condition(status: PlayerPromotionStatus, now: datetime) -> ColumnElement[bool]:
    """The SQL twin of ``PlayerPromotion.status_at`` (EXPIRED is computed, not stored)."""
    claimed = player_promotions.c.status == PlayerPromotionStatus.CLAIMED.value
    unexpired = and_(promotions.c.is_active.is_(True), promotions.c.end_date > now, _CLAIMS_LEFT)
    if status is PlayerPromotionStatus.CLAIMED:
        return claimed
    if status is PlayerPromotionStatus.ASSIGNED:
        return and_(not_(claimed), unexpired)
    return and_(not_(claimed), not_(unexpired))


NOTE_CREDIT = (
    insert(pending_wallet_credits)
    .values(
        idempotency_key=bindparam("key"),
        player_id=bindparam("player"),
        promotion_id=bindparam("promotion"),
        claim_number=bindparam("number"),
        noted_at=bindparam("noted_at"),
    )
    .on_conflict_do_nothing(index_elements=[pending_wallet_credits.c.idempotency_key])
)
_REMOVE_CREDIT = (
    delete(pending_wallet_credits)
    .where(pending_wallet_credits.c.idempotency_key == bindparam("key"))
    .returning(pending_wallet_credits.c.idempotency_key)
)


class SqlAlchemyPendingCreditRepository(PendingCreditRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def remove(self, idempotency_key: str) -> bool:
        removed = self._connection.execute(_REMOVE_CREDIT, {"key": idempotency_key}).first()
        return removed is not None

    def due(self, noted_before: datetime, limit: int) -> list[PendingCredit]:
        rows = self._connection.execute(
            select(pending_wallet_credits)
            .where(pending_wallet_credits.c.noted_at < noted_before)
            .order_by(pending_wallet_credits.c.noted_at)
            .limit(limit)
        ).mappings()
        return [
            PendingCredit(
                idempotency_key=row["idempotency_key"],
                player_id=row["player_id"],
                promotion_id=row["promotion_id"],
                claim_number=row["claim_number"],
                noted_at=row["noted_at"],
            )
            for row in rows
        ]

    def count(self) -> int:
        return int(
            self._connection.execute(
                select(func.count()).select_from(pending_wallet_credits)
            ).scalar_one()
        )


def note_row(pending: PendingCredit) -> dict[str, object]:
    return {
        "key": pending.idempotency_key,
        "player": pending.player_id,
        "promotion": pending.promotion_id,
        "number": pending.claim_number,
        "noted_at": pending.noted_at,
    }
