"""Audit: hallucination and cultural-error rates by version, category, genre and culture.

Owns: the audit fact and summary tables (``AuditReviewFact`` … ``AuditFactsVersion``), refreshing
them when a review is submitted (``receivers`` → ``services``), the SQL that reads them (``sql``:
the query builder and the PostgreSQL/SQLite differences), what the filters count (``filters``),
statistics (``stats``), selectors, the audit pages and exports.

May import: every room below it (``core`` … ``training``).
"""
