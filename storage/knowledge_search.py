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

# PostgreSQL, in two steps whose work is bounded whatever the workspace's size:
# 1. full text: the newest POOL rows of the workspace sharing any of the words with the
#    problem, fix or facts (``match_vector``, a plain OR tsquery), ranked by ts_rank_cd over
#    the weighted ``search_vector`` (normalisation 1: divided by 1 + log(length)); the best
#    RERANK re-ranked with trigram similarity of the problem
#    (https://www.postgresql.org/docs/15/textsearch-controls.html). A plain OR keeps both of
#    the planner's paths cheap: a GIN bitmap costs about as much as the rows it returns (so
#    it is cheap exactly when matches are rare), and walking ``(account_id, id)`` backwards
#    stops after POOL matches (cheap when they are dense). An OR of word *pairs* broke that:
#    its GIN scan reads the posting lists of every word (~190 ms at 100k rows) to return a few
#    thousand, and the backward walk crossed thousands of non-matching rows (see
#    docs/knowledge.md). Sharing two words is enforced afterwards (``rules.relevant``).
# 2. only when that finds nothing (misspellings): trigram similarity of the problem through
#    the pg_trgm GIN index (https://www.postgresql.org/docs/15/pgtrgm.html).
POOL = 300  # newest matches ranked: bounds the ranking work whatever the workspace size
RERANK = 12  # of which the best are re-ranked with trigram similarity
_POSTGRES = text("""
WITH c AS MATERIALIZED (
    SELECT e.id, e.search_vector, e.problem FROM knowledge_entries e
    WHERE e.account_id = :account AND e.match_vector @@ to_tsquery('english', :tsq)
      AND (CAST(:exclude AS uuid) IS NULL OR e.session_id != :exclude)
    ORDER BY e.id DESC LIMIT :pool),
r AS MATERIALIZED (
    SELECT id, problem, ts_rank_cd(search_vector, to_tsquery('english', :tsq), 1) AS rank
    FROM c ORDER BY rank DESC, id DESC LIMIT :rerank)
SELECT id FROM r ORDER BY rank + 0.5 * similarity(left(problem, 160), :raw) DESC, id DESC
LIMIT :limit
""").bindparams(bindparam("account", type_=Uuid), bindparam("exclude", type_=Uuid))
_TRIGRAM = text("""
SELECT e.id FROM knowledge_entries e
WHERE e.account_id = :account AND e.problem % :raw
  AND (CAST(:exclude AS uuid) IS NULL OR e.session_id != :exclude)
ORDER BY similarity(e.problem, :raw) DESC, e.id DESC
LIMIT :limit
""").bindparams(bindparam("account", type_=Uuid), bindparam("exclude", type_=Uuid))
# https://www.postgresql.org/docs/15/runtime-config-query.html#GUC-PLAN-CACHE-MODE
_CUSTOM_PLAN = text("SET LOCAL plan_cache_mode = force_custom_plan")


def search_ids(db: Session, account_id: uuid.UUID, words: list[str], raw: str, *,
               limit: int, exclude_session: uuid.UUID | None = None) -> list[int]:
    """Ids of the best-matching entries of the workspace, best first."""
    if not words:
        return []
    if db.get_bind().dialect.name == "postgresql":
        params = {"tsq": " | ".join(words), "raw": raw[:160], "account": account_id,
                  "exclude": exclude_session, "limit": limit, "pool": POOL,
                  "rerank": RERANK}
        # psycopg prepares a statement after 5 runs and PostgreSQL may then use a generic plan,
        # which cannot see the tsquery and is ~10x slower here: plan each search for its words.
        db.execute(_CUSTOM_PLAN)
        found = [int(r[0]) for r in db.execute(_POSTGRES, params)]
        if not found:
            found += [i for i in (int(r[0]) for r in db.execute(_TRIGRAM, params))
                      if i not in found]
        return found[:limit]
    else:
        match = " OR ".join(f'"{w}"' for w in words)
        rows = db.execute(_SQLITE, {"match": match, "account": account_id,
                                    "exclude": exclude_session, "limit": limit})
    return [int(r[0]) for r in rows]
