"""Reviews: the expert's queue and workspace, flags, step grades, verified metadata, rankings.

Owns: ``ErrorCategory`` (the error taxonomy), ``ExpertProfile``, ``Review``, ``Flag``; the review
queue, claiming, drafts with stale-edit refusal, submission, the taxonomy page.

May import: ``core``, ``songs``, ``generations``. Declares ``signals``: ``review_submitted`` (the
rewards room recomputes that generation's rewards; the audit room rewrites its facts).
"""
