"""What the reviews room announces to rooms above it."""

from django.dispatch import Signal

#: A review was submitted. ``sender=Review``, ``review=<Review>``. Sent inside the submitting
#: transaction, so the audit room's facts are written with the review; work for workers is enqueued
#: on commit by the receivers.
review_submitted = Signal()
