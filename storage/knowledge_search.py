"""Full-text search over ``knowledge_entries`` of one workspace: SQLite FTS5 (bm25) on the
embedded default, PostgreSQL full-text search (ts_rank_cd) plus trigram similarity.

``words`` are already reduced to letters and digits (``bot.domain.knowledge.terms``), so
they are safe inside a MATCH or to_tsquery expression; every value is still a bound
parameter.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.orm import Session

# bm25 column weights: problem, facts, fix title, note (https://www.sqlite.org/fts5.html#the_bm25_function)
_SQLITE = text("""
SELECT e.id FROM knowledge_fts
JOIN knowledge_entries e ON e.id = knowledge_fts.rowid
WHERE knowledge_fts MATCH :match AND e.account_id = :account
  AND (:exclude IS NULL OR e.session_id != :exclude)
ORDER BY bm25(knowledge_fts, 8.0, 3.0, 4.0, 1.0)
LIMIT :limit
""").bindparams(bindparam("account", type_=Uuid), bindparam("exclude", type_=Uuid))

# ts_rank_cd with normalisation 1 (divide by 1 + log(length)), plus trigram similarity of
# the problem so misspellings still rank (https://www.postgresql.org/docs/15/textsearch-controls.html,
# https://www.postgresql.org/docs/15/pgtrgm.html).
_POSTGRES = text("""
SELECT e.id FROM knowledge_entries e, to_tsquery('english', :tsq) q
WHERE e.account_id = :account
  AND (e.search_vector @@ q OR e.problem % :raw)
  AND (CAST(:exclude AS uuid) IS NULL OR e.session_id != :exclude)
ORDER BY ts_rank_cd(e.search_vector, q, 1) + similarity(e.problem, :raw) DESC, e.id DESC
LIMIT :limit
""").bindparams(bindparam("account", type_=Uuid), bindparam("exclude", type_=Uuid))


def search_ids(db: Session, account_id: uuid.UUID, words: list[str], raw: str, *,
               limit: int, exclude_session: uuid.UUID | None = None) -> list[int]:
    """Ids of the best-matching entries of the workspace, best first."""
    if not words:
        return []
    if db.get_bind().dialect.name == "postgresql":
        rows = db.execute(_POSTGRES, {"tsq": " | ".join(words), "raw": raw[:300],
                                      "account": account_id, "exclude": exclude_session,
                                      "limit": limit})
    else:
        match = " OR ".join(f'"{w}"' for w in words)
        rows = db.execute(_SQLITE, {"match": match, "account": account_id,
                                    "exclude": exclude_session, "limit": limit})
    return [int(r[0]) for r in rows]
